"""Exercises of notebook 08_serving: read the API's JSON record, then call the API and handle its errors."""
from __future__ import annotations

import json
import warnings
from typing import Any, Callable

import numpy as np

from ..files import repo_root
from ..predictor import Person, PoseResult, Predictor
from ..serve import Limits, create_app
from ..skeletons import COCO17, MPII16, Skeleton
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "08_serving"
ROUNDING = 0.006  # the record rounds coordinates to 0.01 px
MAX_UPLOAD = 50_000  # the check's server refuses bodies over this many bytes (413), small so the case is cheap


def _as_keypoints(got: Any, want: np.ndarray, words: str) -> np.ndarray:
    """The learner's keypoints as a float array of the expected shape, or a Wrong that says what the shape means."""
    if isinstance(got, dict):
        raise Wrong(f"on {words} you returned a dict ({', '.join(map(str, list(got)[:4]))}, …), the JSON record "
                    "itself: take each person's keypoints from it and return them as one array (people, joints, 2)")
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"return a numpy array of shape (people, joints, 2); on {words} you returned {describe(got)}") from None
    p, k = want.shape[:2]
    if arr.shape == want.shape:
        return arr
    if arr.shape == (p, k, 3):
        raise Wrong(f"on {words} your array has shape {arr.shape}: each joint in the record is [x, y, score] — keep "
                    "only x and y (the first two)")
    if p == 1 and arr.shape == (k, 2):
        raise Wrong(f"on {words} your array has shape {arr.shape}, it should be {want.shape}: keep the people axis "
                    "even for one person (the record's 'people' is a list)")
    if p == 0:
        raise Wrong(f"on {words} your array has shape {arr.shape}, it should be "
                    f"{want.shape}: zero people, but still {k} joints of (x, y) — take the number of joints from "
                    "record['joints'], e.g. np.zeros((0, len(record['joints']), 2))")
    if arr.shape[:2] == (p, k) or arr.ndim != 3:
        raise Wrong(f"on {words} your array has shape {arr.shape}, it should be {want.shape} = (people, joints, 2)")
    raise Wrong(f"on {words} your array has shape {arr.shape}, it should be {want.shape}: {p} people of {k} joints")


def _compare_keypoints(arr: np.ndarray, want: np.ndarray, joints: tuple[str, ...], words: str) -> None:
    """Say which joint of which person is where, and name a swap of x and y."""
    err = np.abs(arr - want).max(axis=-1)
    if err.size == 0 or err.max() <= ROUNDING:
        return
    if np.abs(arr[..., ::-1] - want).max() <= ROUNDING:
        raise Wrong(f"on {words} x and y are swapped: each joint in the record is [x, y, score], x first")
    pi, ki = np.unravel_index(int(err.argmax()), err.shape)
    raise Wrong(f"on {words} person {pi}'s {joints[ki]} (joint {ki}) is at ({arr[pi, ki, 0]:.2f}, {arr[pi, ki, 1]:.2f}), "
                f"it should be at ({want[pi, ki, 0]:.2f}, {want[pi, ki, 1]:.2f})")


def _person(rng: np.random.Generator, width: int, height: int, k: int) -> Person:
    """A person with keypoints that are not round numbers (so rounding and order show)."""
    kp = rng.uniform((0, 0), (width - 1, height - 1), size=(k, 2)).astype(np.float32)
    box = np.array([kp[:, 0].min(), kp[:, 1].min(), np.ptp(kp[:, 0]) + 1, np.ptp(kp[:, 1]) + 1], np.float32)
    return Person(box, kp, rng.uniform(0.05, 0.95, size=k).astype(np.float32))


def _records() -> list[tuple[dict[str, Any], np.ndarray, Skeleton, str]]:
    """Records serialised by the library's own PoseResult.to_json (the server's code), with the arrays behind them."""
    rng = np.random.default_rng(7)
    out = []
    for sk, n, (w, h), words in [(MPII16, 1, (912, 516), "a record with one person (mpii16, 16 joints)"),
                                 (COCO17, 2, (640, 480), "a record with two people (coco17, 17 joints)"),
                                 (MPII16, 0, (320, 240), "a record with no people")]:
        people = [_person(rng, w, h, sk.num_joints) for _ in range(n)]
        result = PoseResult(w, h, sk, people, image="upload.jpg")
        want = np.stack([p.keypoints for p in people]) if people else np.zeros((0, sk.num_joints, 2), np.float32)
        out.append((json.loads(json.dumps(result.to_json())), want.astype(np.float64), sk, words))
    return out


def _check_parse(answer: Callable[..., Any]) -> str:
    """Compare the learner's record parser with the arrays the library serialised, on 1, 2 and 0 people."""
    cases = _records()
    for record, want, sk, words in cases:
        got = call(answer, json.loads(json.dumps(record)), case=words)
        _compare_keypoints(_as_keypoints(got, want, words), want, sk.joints, words)
    return (f"right on {len(cases)} records — one person, two people of another skeleton, and no people at all "
            "(shape (0, 16, 2))")


def _test_client(app: Any) -> Any:
    """FastAPI's in-process client (no port, no network); its import warns about httpx, which is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from fastapi.testclient import TestClient
        except ImportError:
            raise Wrong("this check runs the real API and needs the serve extra: pip install -e '.[serve]'") from None
    return TestClient(app, raise_server_exceptions=False)


def _api_cases() -> list[tuple[bytes, str]]:
    """Uploads the server accepts and uploads it refuses (400, 415, 413), in that order."""
    data = repo_root() / "data"
    messi = (data / "messi_kick.webp").read_bytes()
    return [
        (messi, "the Messi photo"),
        ((data / "lsp_sample" / "images" / "im00003.jpg").read_bytes(), "an LSP photo (JPEG)"),
        (messi[:3000], "a truncated image (its first 3,000 bytes)"),
        (b"", "an empty upload"),
        (b"name,x,y\nr_ankle,10,20\n", "a text file"),
        (bytes(MAX_UPLOAD + 1000), f"an upload over the server's {MAX_UPLOAD // 1000} kB limit"),
    ]


def _check_api(answer: Callable[..., Any]) -> str:
    """Post real uploads through the learner's function to the real app; compare with the server's own answers."""
    predictor = Predictor("default", backend="torch", device="cpu", progress=False)  # the notebook's weights, eager
    app = create_app(predictor=predictor, limits=Limits(max_upload=MAX_UPLOAD))
    client = _test_client(app)
    seen: list[Any] = []  # the responses to the learner's own requests
    client.event_hooks = {"request": [], "response": [seen.append]}
    handled: set[int] = set()
    for body, words in _api_cases():
        reference = client.post("/predict", files={"image": ("upload", body)})
        status = reference.status_code
        case = f"{words} (the server answers {status})"
        seen.clear()
        try:
            got = call(answer, client, body, case=case)
        except Wrong as w:
            _diagnose_crash(w, status, seen[-1] if seen else None, handled, words)
            raise
        theirs = seen[-1] if seen else None
        if status == 200:
            _check_success(got, theirs, reference.json(), words)
        else:
            _check_error(got, reference, words)
            handled.add(status)
    return ("right on 6 uploads — two photos give keypoints; a truncated image and an empty upload (400), a text "
            "file (415) and one over the size limit (413) give the server's own message")


def _diagnose_crash(w: Wrong, status: int, theirs: Any, handled: set[int], words: str) -> None:
    """Name the usual ways of crashing on an error answer: raise_for_status, or reading 'people' from it."""
    cause = w.__cause__
    if theirs is not None and theirs.headers.get("content-type", "").startswith("image/png"):
        raise Wrong(f"on {words} you asked for the drawn overlay (format=png), and then your function raised "
                    f"{type(cause).__name__}: the keypoints come in the JSON record — post without ?format=png") from None
    if status == 200 and theirs is not None and theirs.status_code != 200:
        error = theirs.json().get("error", theirs.text) if "json" in theirs.headers.get("content-type", "") else theirs.text
        raise Wrong(f"on {words} the server refused your request with {theirs.status_code} {error!r}, and then your "
                    f"function raised {type(cause).__name__}: {cause}{_request_fix(theirs.status_code, error)}") from None
    if type(cause).__name__ == "HTTPStatusError":
        raise Wrong(f"on {words} your function raised {type(cause).__name__} (from raise_for_status()): a 4xx is an "
                    "answer, not a crash — return the server's message, r.json()['error'], instead") from None
    if status != 200 and isinstance(cause, (KeyError, TypeError, IndexError)):
        if handled and status not in handled:
            raise Wrong(f"on {words} your function raised {type(cause).__name__}: {cause} — you handle "
                        f"{', '.join(map(str, sorted(handled)))} but the server also answers {status}: every 4xx is "
                        "a client error with {'error': …}; test 400 <= r.status_code < 500 (or not r.is_success)") from None
        raise Wrong(f"on {words} your function raised {type(cause).__name__}: {cause} — the server answered {status} "
                    "with {'error': …}, which has no 'people': look at r.status_code before reading the keypoints") from None


def _request_fix(status: int, error: str) -> str:
    """What to change in a request the server refused although its image is fine."""
    if status in (404, 405):
        return ": post to the path /predict (client.post('/predict', …))"
    if "'image' field" in str(error):
        return (": send the upload in the multipart field named image, files={'image': ('photo.jpg', image_bytes)}, "
                "or as the raw body, content=image_bytes")
    return ": post the bytes unchanged to /predict, as files={'image': ('photo.jpg', image_bytes)} or content=image_bytes"


def _check_success(got: Any, theirs: Any, record: dict[str, Any], words: str) -> None:
    """A 200 case: the learner's keypoints must be those of the server's record for the same upload."""
    want = np.array([p["keypoints"] for p in record["people"]], dtype=np.float64)[..., :2]
    if isinstance(got, str):
        refused = theirs is not None and theirs.status_code != 200
        answered = f" — the server refused your request with {theirs.status_code}" if refused else ""
        raise Wrong(f"on {words} you returned the message {got!r} instead of keypoints{answered}"
                    f"{_request_fix(theirs.status_code if refused else 0, got)}")
    if got is None:
        raise Wrong(f"on {words} you returned None: return the keypoints, an array (people, joints, 2)")
    _compare_keypoints(_as_keypoints(got, want, words), want, tuple(record["joints"]), words)


def _check_error(got: Any, reference: Any, words: str) -> None:
    """A 4xx case: the learner must return the message of the server's {"error": …}, as a str."""
    message = reference.json()["error"]
    status = reference.status_code
    if isinstance(got, str) and got == message:
        return
    if isinstance(got, dict):
        raise Wrong(f"on {words} you returned the JSON body {got!r}; return its message, r.json()['error'], a str")
    if isinstance(got, str) and got.strip().startswith("{"):
        raise Wrong(f"on {words} you returned the whole body as text, {got!r}: return only the message, "
                    "r.json()['error']")
    if isinstance(got, int) and not isinstance(got, bool):
        raise Wrong(f"on {words} you returned {got}; return the server's message ({message!r}), not the status code")
    if isinstance(got, str):
        raise Wrong(f"on {words} you returned {got!r}; return the server's own message, r.json()['error'], which is "
                    f"{message!r} — it tells the user what to change")
    if got is None:
        raise Wrong(f"on {words} you returned None: return the server's message, r.json()['error'] ({message!r})")
    raise Wrong(f"on {words} the server answered {status} {message!r}, but you returned {describe(got)}: on a 4xx "
                "return the message, a str")


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex08_parse_record", notebook=NOTEBOOK, function="keypoints_from_record", level="warm-up",
        title="Keypoints out of the JSON record", check=_check_parse,
        hints=(
            "record['people'] is a list, one entry per person; each has 'keypoints', a list of [x, y, score], one "
            "per joint in the order of record['joints'].",
            "np.array([p['keypoints'] for p in record['people']]) is (people, joints, 3); keep [..., :2].",
            "With no people that array has shape (0,): build np.zeros((0, len(record['joints']), 2)) in that case "
            "(or reshape(-1, len(record['joints']), 3) before slicing).",
        ),
    ),
    Exercise(
        name="ex08_call_api", notebook=NOTEBOOK, function="pose_or_error", level="core",
        title="Call the API and handle its errors", check=_check_api,
        hints=(
            "r = client.post('/predict', files={'image': ('upload', image_bytes)}) sends the bytes as the multipart "
            "field image (content=image_bytes, the raw body, works too).",
            "Look at r.status_code before the body: 200 means a record (use keypoints_from_record(r.json())); any "
            "4xx means r.json() is {'error': '…'}.",
            "Return the message, r.json()['error'], as a str: do not raise (no r.raise_for_status()) — a refused "
            "upload is an answer to show the user, not a crash.",
        ),
    ),
)

__all__ = ["EXERCISES"]
