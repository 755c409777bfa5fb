"""Plausible wrong answers to notebook 09's exercises, each with the diagnosis its check must give."""
import numpy as np


def record_with_scores(record):
    return np.array([p["keypoints"] for p in record["people"]])


def record_first_person_only(record):
    return np.array(record["people"][0]["keypoints"])[:, :2] if record["people"] else np.zeros((0, 2))


def record_without_people_axis_for_nobody(record):
    return np.array([np.array(p["keypoints"])[:, :2] for p in record["people"]])


def record_y_first(record):
    return np.array([[[y, x] for x, y, _ in p["keypoints"]] for p in record["people"]]).reshape(-1, len(record["joints"]), 2)


def _keypoints(record):
    return np.array([p["keypoints"] for p in record["people"]]).reshape(-1, len(record["joints"]), 3)[..., :2]


def api_without_status_check(client, image_bytes):
    r = client.post("/predict", files={"image": ("upload", image_bytes)})
    return _keypoints(r.json())


def api_raise_for_status(client, image_bytes):
    r = client.post("/predict", files={"image": ("upload", image_bytes)})
    r.raise_for_status()
    return _keypoints(r.json())


def api_only_400(client, image_bytes):
    r = client.post("/predict", files={"image": ("upload", image_bytes)})
    if r.status_code == 400:
        return r.json()["error"]
    return _keypoints(r.json())


def api_returns_body_text(client, image_bytes):
    r = client.post("/predict", files={"image": ("upload", image_bytes)})
    return _keypoints(r.json()) if r.status_code == 200 else r.text


def api_returns_body_dict(client, image_bytes):
    r = client.post("/predict", files={"image": ("upload", image_bytes)})
    return _keypoints(r.json()) if r.status_code == 200 else r.json()


def api_wrong_field_name(client, image_bytes):
    r = client.post("/predict", files={"file": ("upload", image_bytes)})
    return _keypoints(r.json()) if r.status_code == 200 else r.json()["error"]


def api_own_message(client, image_bytes):
    r = client.post("/predict", content=image_bytes)
    return _keypoints(r.json()) if r.is_success else f"error {r.status_code}"


def api_asks_for_png(client, image_bytes):
    r = client.post("/predict?format=png", content=image_bytes)
    return _keypoints(r.json()) if r.status_code == 200 else r.json()["error"]


MISTAKES = [
    ("ex08_parse_record", record_with_scores, "each joint in the record is [x, y, score] — keep only x and y"),
    ("ex08_parse_record", record_first_person_only, "keep the people axis even for one person"),
    ("ex08_parse_record", record_without_people_axis_for_nobody, "take the number of joints from record['joints']"),
    ("ex08_parse_record", record_y_first, "x and y are swapped"),
    ("ex08_call_api", api_without_status_check, "look at r.status_code before reading the keypoints"),
    ("ex08_call_api", api_raise_for_status, "a 4xx is an answer, not a crash"),
    ("ex08_call_api", api_only_400, "you handle 400 but the server also answers 415"),
    ("ex08_call_api", api_returns_body_text, "you returned the whole body as text"),
    ("ex08_call_api", api_returns_body_dict, "return its message, r.json()['error'], a str"),
    ("ex08_call_api", api_wrong_field_name, "send the upload in the multipart field named image"),
    ("ex08_call_api", api_own_message, "return the server's own message, r.json()['error']"),
    ("ex08_call_api", api_asks_for_png, "the keypoints come in the JSON record"),
]
