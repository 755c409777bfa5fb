"""hpe track: a video in, an annotated MP4 (same frame count) and one JSON record per frame out; bad input, one line."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from hpe_utils.cli import main
from hpe_utils.images import read_image, write_image
from hpe_utils.model import PoseResNet
from hpe_utils.predictor import Predictor
from hpe_utils.track import STAGES, TRACK_PALETTE, draw_tracks, track
from hpe_utils.tracking import PoseTracker, TrackedPose
from hpe_utils.video import VideoWriter, panning_frames, video_info
from hpe_utils.weights import save_checkpoint

REPO = Path(__file__).resolve().parent.parent
MESSI = REPO / "data" / "messi_kick.webp"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny random PoseResNet: the whole pipeline in milliseconds (its poses are noise; --min-joints 0 keeps them)."""
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    return str(save_checkpoint(m, tmp_path_factory.mktemp("w") / "tiny.pt", skeleton="mpii16", input_size=(64, 64)))


@pytest.fixture(scope="module")
def pan():
    """A camera panning over the Messi photo (half size): frames and each frame's offset in the photo."""
    img = cv2.resize(read_image(MESSI), (456, 258), interpolation=cv2.INTER_AREA)
    return panning_frames(img, (384, 216), 6)


@pytest.fixture(scope="module")
def clip(pan, tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    with VideoWriter(path, 10) as w:
        for f, _ in pan:
            w.write(f)
    return path


def _run(capsys, *args):
    code = main(["track", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_track_writes_a_playable_mp4_with_the_input_frame_count_and_one_record_per_frame(ckpt, clip, tmp_path, capsys):
    out_mp4, out_json = tmp_path / "a.mp4", tmp_path / "t.json"
    code, _, err = _run(capsys, clip, "--weights", ckpt, "--no-flip", "--min-joints", 0, "--out", out_mp4,
                        "--json", out_json)
    assert code == 0, err
    assert video_info(out_mp4) == {"frames": 6, "fps": 10.0, "width": 384, "height": 216}
    doc = json.loads(out_json.read_text())
    assert {k: doc[k] for k in ("skeleton", "fps", "source", "width", "height", "skipped")} == {
        "skeleton": "mpii16", "fps": 10.0, "source": str(clip), "width": 384, "height": 216, "skipped": 0}
    assert len(doc["joints"]) == 16 and doc["joints"][9] == "head_top"
    assert [r["frame"] for r in doc["frames"]] == list(range(6))
    assert [r["time"] for r in doc["frames"]] == [i / 10 for i in range(6)]
    person = doc["frames"][0]["people"][0]
    assert person["track_id"] == 0 and len(person["box"]) == 4
    assert np.array(person["keypoints"]).shape == (16, 3)
    assert "6 frames" in err and "frames/s" in err and "ms per frame: decode" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "t.json"]  # no temporaries left


def test_a_folder_of_images_is_tracked_in_name_order_at_the_rate_given(ckpt, pan, tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, (f, _) in enumerate(pan[:4]):
        write_image(folder / f"f{i}.png", f)
    out_json = tmp_path / "t.json"
    code, _, err = _run(capsys, folder, "--weights", ckpt, "--no-flip", "--min-joints", 0, "--json", out_json,
                        "--fps", 5, "--out", tmp_path / "a.mp4", "-q")
    assert code == 0 and err == ""
    doc = json.loads(out_json.read_text())
    assert doc["fps"] == 5.0 and [r["time"] for r in doc["frames"]] == [0.0, 0.2, 0.4, 0.6]
    assert video_info(tmp_path / "a.mp4")["frames"] == 4


def test_first_boxes_start_one_track_per_person(ckpt, clip, tmp_path, capsys):
    boxes = tmp_path / "first.json"
    boxes.write_text(json.dumps([[100, 0, 200, 216], [0, 0, 90, 120]]))
    code, out, _ = _run(capsys, clip, "--weights", ckpt, "--no-flip", "--min-joints", 0, "--boxes", boxes,
                        "--detector", "none", "--max-frames", 2, "-q")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]  # no --out/--json: records on stdout
    assert len(records) == 2
    assert sorted(p["track_id"] for p in records[0]["people"]) == [0, 1]


def test_the_default_weights_follow_one_person_through_a_pan_under_one_id(clip, pan):
    predictor = Predictor("default", flip=False, backend="torch")
    frames = []
    summary = track(clip, predictor, PoseTracker("mpii16"), on_frame=frames.append)
    assert summary.frames == 6 and summary.tracks == 1
    assert [[p.track_id for p in f.people] for f in frames] == [[0]] * 6
    # the camera moved, the photo did not: each frame's joints, put back into the photo, stay where they were
    first = frames[0].people[0]
    for f, (_, (x0, y0)) in zip(frames[1:], pan[1:]):
        p = f.people[0]
        both = (p.scores >= 0.4) & (first.scores >= 0.4)
        drift = np.linalg.norm(p.keypoints + (x0, y0) - (first.keypoints + pan[0][1]), axis=1)[both]
        assert both.sum() >= 10 and np.median(drift) < 12
    assert set(summary.times_ms) == set(STAGES) and summary.times_ms["pose"] > 0


def test_a_detector_s_boxes_are_posed_every_nth_frame_and_propagated_between(ckpt, clip):
    calls = []

    def two_people(frame):
        calls.append(1)
        return [[20, 10, 120, 200], [220, 10, 120, 200]], [0.9, 0.3]  # the second scores under det_threshold 0.5

    frames = []
    summary = track(clip, Predictor(ckpt, flip=False), PoseTracker("mpii16"), detector=two_people, detect_every=3,
                    min_joints=0, on_frame=frames.append)
    assert len(calls) == 2 and summary.frames == 6
    assert frames[0].boxes.tolist() == [[20, 10, 120, 200]]


def test_a_skipped_frame_is_reported_counted_and_the_run_goes_on(ckpt, pan, tmp_path, capsys):
    path = tmp_path / "bad.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (384, 216))
    for f, _ in pan:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
    data[starts[3]:starts[4] - 8] = bytes(starts[4] - 8 - starts[3])  # frame 3 holds no JPEG data
    path.write_bytes(bytes(data))
    code, _, err = _run(capsys, path, "--weights", ckpt, "--no-flip", "--min-joints", 0, "--json", tmp_path / "t.json",
                        "--out", tmp_path / "a.mp4")
    assert code == 1  # outputs written, but not every frame made it
    assert f"{path}: frame 3 did not decode: skipped" in err and "1 skipped" in err
    doc = json.loads((tmp_path / "t.json").read_text())
    assert [r["frame"] for r in doc["frames"]] == [0, 1, 2, 4, 5] and doc["skipped"] == 1
    assert video_info(tmp_path / "a.mp4")["frames"] == 5


def _text(p):
    p.write_text("not a video\n" * 20)
    return p


def _empty(p):
    p.write_bytes(b"")
    return p


BAD_INPUTS = {
    "not a video": (lambda d: [_text(d / "in.mp4")], "not a video"),
    "empty file": (lambda d: [_empty(d / "in.mp4")], "empty file"),
    "missing file": (lambda d: [d / "nope.mp4"], "no such file or folder"),
    "missing camera": (lambda d: ["7"], "camera 7: no camera"),
    "bad boxes": (lambda d: ["CLIP", "--boxes", _text(d / "b.json")], "cannot read boxes file"),
    "bad detector": (lambda d: ["CLIP", "--detector", "nosuchmod_q:find"], "no module named 'nosuchmod_q'"),
    "detect every 0": (lambda d: ["CLIP", "--detect-every", "0"], "--detect-every must be 1 or more"),
    "existing output": (lambda d: ["CLIP", "--out", _text(d / "old.mp4")], "exists; pass --overwrite"),
    "not an mp4 name": (lambda d: ["CLIP", "--out", d / "a.gif"], "write the video as one of"),
    "output is a folder": (lambda d: ["CLIP", "--out", d], "is a folder; name the video file"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_prints_one_line_exits_2_and_writes_nothing(case, ckpt, clip, tmp_path, capsys):
    make, words = BAD_INPUTS[case]
    args = [clip if a == "CLIP" else a for a in make(tmp_path)]
    before = sorted(tmp_path.iterdir())
    code, out, err = _run(capsys, *args, "--weights", ckpt, "--json", tmp_path / "t.json", "-q")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hpe: ") and words in err and "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before  # no output, no temporary


def test_a_detector_that_raises_mid_video_stops_the_run_and_leaves_no_half_written_files(ckpt, clip, tmp_path,
                                                                                          capsys, monkeypatch):
    (tmp_path / "flaky.py").write_text(
        "n = 0\n"
        "def find(frame):\n"
        "    global n\n"
        "    n += 1\n"
        "    if n == 3:\n"
        "        raise ValueError('lost the model file')\n"
        "    return [[0, 0, 100, 100]], [0.9]\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, clip, "--weights", ckpt, "--detector", "flaky:find", "--out", "a.mp4",
                        "--json", "t.json", "-q")
    assert code == 2 and err == "hpe: detector flaky:find raised ValueError: lost the model file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flaky.py"]


def test_tracks_are_drawn_in_one_colour_per_id_with_the_id_at_the_head():
    img = np.zeros((200, 300, 3), np.uint8)
    kps = np.array([[x, y] for x, y in zip(np.linspace(40, 60, 16), np.linspace(180, 40, 16))])
    people = [TrackedPose(0, kps, np.ones(16), np.array([30, 30, 40, 160.0])),
              TrackedPose(1, kps + (150, 0), np.ones(16), np.array([180, 30, 40, 160.0]))]
    out = draw_tracks(img, people, "mpii16")
    assert img.max() == 0  # drawn on a copy
    left, right = out[:, :150].reshape(-1, 3), out[:, 150:].reshape(-1, 3)
    assert (left == TRACK_PALETTE[0]).all(1).any() and not (left == TRACK_PALETTE[1]).all(1).any()
    assert (right == TRACK_PALETTE[1]).all(1).any() and not (right == TRACK_PALETTE[0]).all(1).any()
    top = kps[:, 1].min()
    assert out[: int(top) - 3].any()  # the id label sits above the highest joint


def _camera(frames, stop_after):
    """A stand-in camera: delivers ``frames`` in a loop until Ctrl-C arrives after ``stop_after`` frames."""
    from hpe_utils.video import FrameSource

    n = iter(range(10**6))

    def read():
        i = next(n)
        if i + 1 >= stop_after:
            raise KeyboardInterrupt
        return True, frames[(i + 1) % len(frames)], ""

    return FrameSource("camera 0", "camera", 30.0, True, None, frames[0], read, lambda: None, None)


def test_ctrl_c_ends_a_camera_recording_and_keeps_what_was_tracked(ckpt, pan, tmp_path):
    out = tmp_path / "cam.mp4"
    summary = track(_camera([f for f, _ in pan], 4), Predictor(ckpt, flip=False), PoseTracker("mpii16"),
                    out_mp4=out, out_json=tmp_path / "cam.json", min_joints=0)
    assert summary.interrupted and summary.frames == 4
    assert video_info(out)["frames"] == 4 and len(json.loads((tmp_path / "cam.json").read_text())["frames"]) == 4


def test_ctrl_c_on_a_file_leaves_no_output_at_all(ckpt, clip, tmp_path):
    def interrupt(tf):
        if tf.index == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        track(clip, Predictor(ckpt, flip=False), PoseTracker("mpii16"), out_mp4=tmp_path / "a.mp4",
              out_json=tmp_path / "t.json", min_joints=0, on_frame=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_two_boxes_on_one_person_give_one_tracked_person_with_pose_nms():
    from hpe_utils.images import read_image
    from hpe_utils.predictor import Predictor
    from hpe_utils.track import track_frames
    from hpe_utils.tracking import PoseTracker

    image = read_image(MESSI)
    boxes = np.array([[0, 0, 912, 516], [200, 0, 450, 516]], dtype=np.float64)  # IoU 0.49: box NMS keeps both
    predictor = Predictor("default", backend="torch", flip=False, progress=False)

    def people(**kw):
        frames = track_frames([(0, 0.0, image)], predictor, PoseTracker("mpii16"),
                              detector=lambda _f: (boxes, np.ones(2)), **kw)
        return len(next(frames).people)

    assert people(pose_nms_oks=None) == 2 and people() == 1


# ------------------------------------------------------------------ given boxes, the default detector

def test_every_given_box_is_a_person_in_frame_0_even_weak_or_overlapping_another(ckpt, pan, tmp_path, capsys):
    """The tiny model's poses are all weak (under --min-joints 2): given boxes are kept anyway, overlaps too."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, (f, _) in enumerate(pan[:2]):  # the pan with a blank strip on its right: nobody is there
        write_image(folder / f"f{i}.png", np.concatenate([f, np.zeros((216, 160, 3), np.uint8)], axis=1))
    given = [[100, 0, 200, 216], [0, 0, 90, 120], [400, 20, 120, 180], [410, 30, 120, 180]]  # the last two: IoU 0.75
    boxes = tmp_path / "first.json"
    boxes.write_text(json.dumps(given))
    code, out, _ = _run(capsys, folder, "--weights", ckpt, "--no-flip", "--boxes", boxes, "--detector", "none", "-q")
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert len(first["people"]) == 4 and sorted(p["track_id"] for p in first["people"]) == [0, 1, 2, 3]


def test_pose_nms_keeps_every_given_box_and_drops_detector_boxes_that_repeat_one():
    from hpe_utils.track import track_frames

    image = read_image(MESSI)
    given = np.array([[0, 0, 912, 516], [200, 0, 450, 516]], dtype=np.float64)  # both give Messi's pose (OKS 0.92)
    found = np.array([[10, 5, 890, 505],  # the first given box again (IoU 0.96): dropped as a box
                      [320, 80, 220, 420]])  # IoU < 0.5 with both, but Messi's pose again: dropped as a pose
    predictor = Predictor("default", backend="torch", flip=False, progress=False)

    def frame0(**kw):
        return next(track_frames([(0, 0.0, image)], predictor, PoseTracker("mpii16"), **kw))

    f = frame0(first_boxes=given, detector=lambda _f: (found, np.array([0.99, 0.99])))
    assert f.boxes.tolist() == given.tolist() and len(f.people) == 2  # neither given box went, however alike
    assert len(frame0(detector=lambda _f: (np.concatenate([given, found[1:]]), np.ones(3))).people) == 1


def test_pose_nms_never_removes_a_fixed_pose_and_lets_it_remove_a_more_confident_copy():
    from hpe_utils.tracking import OKS_SIGMAS, pose_nms

    kps = np.stack([np.linspace(10, 60, 16), np.linspace(100, 10, 16)], axis=1)
    poses = [(kps, np.full(16, 0.5)), (kps + 0.5, np.full(16, 0.6)), (kps - 0.5, np.full(16, 0.9))]
    sigmas = OKS_SIGMAS["mpii16"]
    assert pose_nms(poses, sigmas) == [2]  # the most confident of three copies
    assert pose_nms(poses, sigmas, fixed=[0, 1]) == [0, 1]  # both given kept; the confident copy goes
    assert pose_nms(poses, sigmas, fixed=[0]) == [0]


def _three_people(n_frames: int = 4):
    """A synthetic clip of the shipped photo 234748 (one man) with two people of other photos pasted walking."""
    from hpe_utils.synthetic import Extra, coco_people, make_clip

    samples = REPO / "data" / "samples"
    data = json.loads((samples / "coco_keypoints.json").read_text())
    extras = [Extra(read_image(samples / f), coco_people(data, f)[0])
              for f in ("coco_000000535506.jpg", "coco_000000037666.jpg")]
    photo = "coco_000000234748.jpg"
    return make_clip(read_image(samples / photo), coco_people(data, photo), n_frames, seed=1, extras=extras)


def test_hpe_track_with_the_default_detector_finds_everyone_in_frame_0(tmp_path, capsys):
    clip = _three_people()
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(clip.frames[:2]):
        write_image(folder / f"f{i}.png", f)
    code, out, _ = _run(capsys, folder, "--backend", "torch", "--max-frames", 1, "-q")  # default detector, flip on
    assert code == 0
    people = json.loads(out.splitlines()[0])["people"]
    assert len(people) == 3
    centres = np.array([[p["box"][0] + p["box"][2] / 2, p["box"][1] + p["box"][3] / 2] for p in people])
    x, y, w, h = clip.boxes[0].T
    inside = ((centres[:, None, 0] >= x) & (centres[:, None, 0] <= x + w)
              & (centres[:, None, 1] >= y) & (centres[:, None, 1] <= y + h))  # (people, truth)
    assert inside.any(axis=0).all()  # every person of the frame has a tracked pose centred in their box


def test_without_a_detector_the_whole_frame_is_one_person(ckpt, clip, capsys):
    from hpe_utils.track import track_frames
    from hpe_utils.transforms import whole_image_box
    from hpe_utils.video import open_frames

    src = open_frames(clip)
    try:
        f = next(track_frames(src, Predictor(ckpt, flip=False), PoseTracker("mpii16"), min_joints=0))
    finally:
        src.close()
    assert f.boxes.tolist() == [whole_image_box(384, 216).tolist()] and len(f.people) == 1
    code, out, _ = _run(capsys, clip, "--weights", ckpt, "--no-flip", "--min-joints", 0, "--detector", "none",
                        "--max-frames", 3, "-q")
    assert code == 0 and [len(json.loads(line)["people"]) for line in out.splitlines()] == [1, 1, 1]


def test_the_tracker_keeps_the_shipped_detector_s_people_from_its_own_threshold():
    from hpe_utils.centernet import SCORE_THRESHOLD
    from hpe_utils.detect import load_detector
    from hpe_utils.track import PAPER_DET_THRESHOLD, detector_threshold

    assert detector_threshold(load_detector("default")) == SCORE_THRESHOLD
    assert detector_threshold(load_detector(lambda f: ([[0, 0, 9, 9]], [1.0]))) == PAPER_DET_THRESHOLD
    assert detector_threshold(None) == PAPER_DET_THRESHOLD


def test_frame_0_keeps_a_detector_s_people_from_its_own_threshold_and_later_frames_from_the_tracker_s(ckpt, clip):
    class Thresholded:
        """A detector that applies its own score threshold (0.3), as the shipped CenterNet does."""

        threshold = 0.3

        def __call__(self, frame):
            return [[20, 10, 120, 200], [220, 10, 120, 200]], [0.4, 0.9]

    frames = []
    track(clip, Predictor(ckpt, flip=False), PoseTracker("mpii16"), detector=Thresholded(), min_joints=0,
          max_frames=2, on_frame=frames.append)
    assert [20, 10, 120, 200] in frames[0].boxes.tolist()  # frame 0: from the detector's 0.3
    assert [20, 10, 120, 200] not in frames[1].boxes.tolist()  # later: from the tracker's 0.5 (the paper's)
    assert [220, 10, 120, 200] in frames[1].boxes.tolist()
