"""Video in and out: files, folders and cameras stream with clear errors; MP4s appear only when complete."""
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from hpe_utils.errors import CameraError, NotAVideoError, UnreadableVideoError, VideoError, VideoTooLargeError
from hpe_utils.images import write_image
from hpe_utils.video import FrameSkippedWarning, VideoWriter, open_frames, video_info


def _frames(n: int, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """Distinct, well-compressible RGB frames: a bright bar that moves, on a flat colour."""
    out = []
    for i in range(n):
        f = np.full((h, w, 3), (40, 90, 160), np.uint8)
        f[:, (i * 5) % w:(i * 5) % w + 6] = 255
        out.append(f)
    return out


def _cv2_video(path: Path, n: int, fourcc: str = "mp4v", fps: float = 8.0, w: int = 64, h: int = 48) -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for f in _frames(n, w, h):
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    return path


def _mjpeg_with_a_blank_frame(path: Path, n: int, bad: int) -> Path:
    """An MJPEG AVI whose frame ``bad`` holds no JPEG data: FFmpeg fails that frame and decodes the rest."""
    _cv2_video(path, n, "MJPG")
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
    assert len(starts) == n
    data[starts[bad]:starts[bad + 1] - 8] = bytes(starts[bad + 1] - 8 - starts[bad])
    path.write_bytes(bytes(data))
    return path


def test_a_video_file_streams_rgb_frames_with_its_rate_count_and_times(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 8.0) as w:
        for f in _frames(12):
            w.write(f)
    with open_frames(path) as src:
        assert (src.kind, src.fps, src.frame_count, src.width, src.height) == ("video", 8.0, 12, 64, 48)
        got = list(src)
    assert [i for i, _, _ in got] == list(range(12))
    assert [t for _, t, _ in got] == [i / 8 for i in range(12)]
    first = got[0][2]
    assert first.dtype == np.uint8 and first.shape == (48, 64, 3)
    assert np.abs(first[24, 40].astype(int) - (40, 90, 160)).max() < 12  # RGB order, not BGR
    assert src.skipped == 0 and src.missing_at_end == 0


def test_frames_stream_once_one_at_a_time(tmp_path):
    src = open_frames(_cv2_video(tmp_path / "c.mp4", 5))
    it = iter(src)
    next(it)
    next(it)
    assert not hasattr(src, "frames")  # nothing accumulates: the source holds the next frame at most
    with pytest.raises(RuntimeError, match="stream once"):
        next(iter(src))
    src.close()


def test_a_folder_plays_its_images_in_name_order_at_25_fps_unless_told(tmp_path):
    for i in (10, 2, 1):
        f = np.zeros((20, 30, 3), np.uint8)
        f[0, 0] = i
        write_image(tmp_path / f"frame_{i}.png", f)
    (tmp_path / "notes.txt").write_text("not a frame")
    src = open_frames(tmp_path)
    assert (src.kind, src.fps, src.frame_count) == ("folder", 25.0, 3)
    got = list(src)
    assert [f[0, 0, 0] for _, _, f in got] == [1, 2, 10]  # frame_2 before frame_10
    assert [t for _, t, _ in got] == [0.0, 0.04, 0.08]
    assert open_frames(tmp_path, fps=10).fps == 10.0


def test_unreadable_or_odd_sized_images_in_a_folder_are_skipped_reported_and_counted(tmp_path):
    for i in range(4):
        write_image(tmp_path / f"{i}.png", np.full((20, 30, 3), i, np.uint8))
    (tmp_path / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_image(tmp_path / "3.png", np.zeros((10, 10, 3), np.uint8))
    said = []
    src = open_frames(tmp_path, log=said.append)
    assert [i for i, _, _ in src] == [0, 2]
    assert src.skipped == 2
    assert len(said) == 2 and "frame 1 (1.png) cannot be read" in said[0] and "frame 3 is 10x10" in said[1]


def test_a_frame_that_fails_to_decode_mid_file_is_skipped_with_a_warning_and_counted(tmp_path):
    src = open_frames(_mjpeg_with_a_blank_frame(tmp_path / "bad.avi", 12, bad=6))
    with pytest.warns(FrameSkippedWarning, match="frame 6 did not decode: skipped"):
        got = [i for i, _, _ in src]
    assert got == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11]  # the others keep their index and time
    assert src.skipped == 1 and src.missing_at_end == 0


def test_a_file_cut_short_plays_what_it_has_and_says_how_much_is_missing(tmp_path):
    path = _cv2_video(tmp_path / "cut.avi", 20, "MJPG")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    said = []
    src = open_frames(path, log=said.append)
    n = len(list(src))
    assert 0 < n < 20 and src.missing_at_end == 20 - n
    assert said == [f"{path}: the last {20 - n} of 20 frames cannot be read (a truncated or damaged file?)"]


def _zero_frame_mp4(p: Path) -> Path:
    cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 8, (64, 48)).release()
    return p


def _truncated_mp4(p: Path) -> Path:
    full = _cv2_video(p.with_name("full.mp4"), 10)
    p.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return p


BAD_SOURCES = {
    "text file": (lambda p: (p.write_text("hello\n" * 50), p)[1], NotAVideoError, "not a video"),
    "empty file": (lambda p: (p.write_bytes(b""), p)[1], UnreadableVideoError, "empty file"),
    "truncated mp4": (_truncated_mp4, UnreadableVideoError, "MP4/MOV file FFmpeg cannot open"),
    "zero frames": (_zero_frame_mp4, UnreadableVideoError, "without frames"),
    "zero frames avi": (lambda p: _cv2_video(p.with_suffix(".avi"), 0, "MJPG"), UnreadableVideoError, "no frame"),
    "an image": (lambda p: (write_image(p.with_suffix(".png"), np.zeros((8, 8, 3), np.uint8)),
                            p.with_suffix(".png"))[1], NotAVideoError, "PNG image, not a video"),
    "missing": (lambda p: p.with_name("nope.mp4"), UnreadableVideoError, "no such file"),
    "empty folder": (lambda p: (p.with_suffix("").mkdir(), p.with_suffix(""))[1], UnreadableVideoError, "no images"),
    "missing camera": (lambda p: 7, CameraError, "camera 7: no camera"),
    "missing camera as text": (lambda p: "7", CameraError, "camera 7: no camera"),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_bad_sources_raise_one_clear_line_naming_them(case, tmp_path):
    make, kind, words = BAD_SOURCES[case]
    source = make(tmp_path / "in.mp4")
    with pytest.raises(kind) as e:
        open_frames(source)
    msg = str(e.value)
    assert words in msg and "\n" not in msg
    assert isinstance(e.value, VideoError)
    if not isinstance(source, (int, str)) or not str(source).isdigit():
        assert msg.startswith(str(source))


def test_an_absurd_resolution_is_refused_before_any_frame_is_kept(tmp_path):
    path = _cv2_video(tmp_path / "c.mp4", 3)
    with pytest.raises(VideoTooLargeError, match=r"64x48 = 0\.0 MP, over the 0\.001 MP limit"):
        open_frames(path, max_pixels=1000)


def test_the_mp4_appears_under_its_name_only_when_closed(tmp_path):
    target = tmp_path / "out" / "a.mp4"
    w = VideoWriter(target, 12.5)
    for f in _frames(7, 65, 47):  # odd sizes: padded by one pixel for the codec
        w.write(f)
        assert not target.exists()
    assert w.close() == target
    assert video_info(target) == {"frames": 7, "fps": 12.5, "width": 66, "height": 48}
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.mp4"]


def test_an_error_while_writing_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.mp4"
    with pytest.raises(ZeroDivisionError):
        with VideoWriter(target, 10) as w:
            w.write(_frames(1)[0])
            1 / 0
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VideoError, match="no frames"):
        VideoWriter(target, 10).close()
    assert list(tmp_path.iterdir()) == []


def test_the_writer_refuses_to_overwrite_or_guess_a_format_unless_asked(tmp_path):
    target = tmp_path / "a.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--overwrite"):
        VideoWriter(target, 10)
    assert target.read_bytes() == b"precious"
    with pytest.raises(VideoError, match=r"\.mp4"):
        VideoWriter(tmp_path / "a.gif", 10)
    with VideoWriter(target, 10, overwrite=True) as w:
        w.write(_frames(1)[0])
    assert video_info(target)["frames"] == 1


def test_frames_of_a_new_size_are_refused_by_the_writer(tmp_path):
    with warnings.catch_warnings():
        w = VideoWriter(tmp_path / "a.mp4", 10)
        w.write(_frames(1)[0])
        with pytest.raises(ValueError, match="64x48"):
            w.write(np.zeros((10, 10, 3), np.uint8))
        w.abort()
    assert list(tmp_path.iterdir()) == []
