"""Worked answers to notebook 09's exercises: try them yourself first."""
import numpy as np


def keypoints_from_record(record):
    """Keypoints (people, joints, 2) in image pixels from the API's JSON record."""
    k = len(record["joints"])
    joints = np.array([person["keypoints"] for person in record["people"]], dtype=np.float64)
    return joints.reshape(-1, k, 3)[..., :2]  # [x, y, score] per joint: keep x, y; reshape keeps (0, k) for no people


def pose_or_error(client, image_bytes):
    """Keypoints (people, joints, 2) for an accepted upload, or the server's error message (str) for a refused one."""
    r = client.post("/predict", files={"image": ("upload", image_bytes)})
    if r.status_code == 200:
        return keypoints_from_record(r.json())
    if 400 <= r.status_code < 500:  # the client's mistake: 400 unreadable, 413 too large, 415 not an image
        return r.json()["error"]  # the server's own words, which say what to change
    r.raise_for_status()  # a 5xx is the server's bug: that one is worth an exception
    raise RuntimeError(f"unexpected answer {r.status_code}")
