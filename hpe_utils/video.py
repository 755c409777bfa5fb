"""Video in and out: frames from a file, a folder of images or a camera, one at a time; annotated MP4s written atomically.

:func:`open_frames` streams (it never holds more than one frame), so memory stays flat on a long video. It checks
what it can before any work starts (the file opens, the first frame decodes, the size is sane) and raises a
:class:`~hpe_utils.errors.VideoError` with one line that names the source and says why; a frame that fails to
decode in the middle is skipped, reported and counted (``FrameSource.skipped``). :class:`VideoWriter` writes to a
temporary name and renames the file into place only when it is closed after the last frame, so a crash or an
error never leaves half an MP4 under the target name.

YUV4MPEG2 (.y4m), the raw format Chromium's fake camera plays back, is written by :func:`write_y4m`: a camera test
needs frames whose content is known, and ``--use-file-for-fake-video-capture`` feeds them to a page as a webcam.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import cv2
import numpy as np

from .errors import (CameraError, ImageError, NotAVideoError, UnreadableVideoError, VideoError,  # noqa: F401
                     VideoTooLargeError)
from .files import write_new
from .images import DEFAULT_MAX_PIXELS, read_image

FOLDER_FPS = 25.0  # a folder of images has no frame rate of its own: it plays at this one unless told otherwise
CAMERA_FPS = 30.0  # when a camera does not report its rate
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")  # containers OpenCV's FFmpeg writes mp4v into
MAX_BAD_RUN = 25  # this many failed reads in a row end a stream whose length is unknown

Frame = tuple[int, float, np.ndarray]  # (index in the source, time in seconds, RGB uint8 (H, W, 3))


class FrameSkippedWarning(UserWarning):
    """A frame in the middle of a source failed to decode and was skipped (the run goes on)."""


# ------------------------------------------------------------------ telling a video from something else

_CONTAINERS = (  # (offset, magic, name): enough to tell "a broken video" from "not a video at all"
    (4, b"ftyp", "MP4/MOV"), (4, b"moov", "MP4/MOV"), (4, b"mdat", "MP4/MOV"), (4, b"wide", "MP4/MOV"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"), (0, b"OggS", "Ogg"), (0, b"FLV", "FLV"),
    (0, b"\x00\x00\x01\xba", "MPEG-PS"), (0, b"YUV4MPEG2", "Y4M"), (0, b"\x30\x26\xb2\x75", "ASF/WMV"),
)
_IMAGES = ((0, b"\xff\xd8\xff", "JPEG"), (0, b"\x89PNG", "PNG"), (8, b"WEBP", "WebP"), (0, b"BM", "BMP"))


def _sniff(head: bytes) -> tuple[str | None, str | None]:
    """(container name, image format name) the first bytes of a file announce; None where they announce none."""
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI", None
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "MPEG-TS", None
    container = next((n for off, magic, n in _CONTAINERS if head[off:off + len(magic)] == magic), None)
    image = next((n for off, magic, n in _IMAGES if head[off:off + len(magic)] == magic), None)
    return container, image if container is None else None


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's own warnings (a camera or backend that will not open) off while we open: we say it in one line."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _natural_key(name: str) -> list[Any]:
    """frame_2 before frame_10: digits compare as numbers, the rest as text."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def camera_index(source: Any) -> int | None:
    """The camera index a source names (an int, or a string of digits such as "0"), else None."""
    if isinstance(source, bool):
        return None
    if isinstance(source, (int, np.integer)):
        return int(source)
    if isinstance(source, str) and source.strip().isdigit() and not Path(source).exists():
        return int(source.strip())
    return None


# ------------------------------------------------------------------ reading

class FrameSource:
    """Frames of one source, streamed: iterate for ``(index, time_s, rgb)``; ``fps``, ``frame_count`` when known.

    ``kind`` is "video", "folder" or "camera". ``index`` counts the source's frames (a skipped frame leaves a gap)
    and ``time_s`` is ``index / fps`` (a camera's is the wall-clock time since it opened). ``skipped`` counts frames
    that failed to decode and ``missing_at_end`` the frames a file announced but never delivered (truncated).
    Single pass: it streams and does not rewind. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, source: str, kind: str, fps: float, fps_known: bool, frame_count: int | None,
                 first: np.ndarray, read: Callable[[], tuple[bool, np.ndarray | None, str]],
                 release: Callable[[], None], log: Callable[[str], None] | None) -> None:
        self.source, self.kind = source, kind
        self.fps, self.fps_known, self.frame_count = float(fps), fps_known, frame_count
        self.height, self.width = first.shape[:2]
        self.skipped = 0
        self.missing_at_end = 0
        self._first: np.ndarray | None = first
        self._read, self._release = read, release
        self._log = log
        self._started = False
        self._t0 = time.perf_counter()

    def _warn(self, msg: str) -> None:
        if self._log is not None:
            self._log(msg)
        else:
            warnings.warn(msg, FrameSkippedWarning, stacklevel=3)

    def _time(self, index: int) -> float:
        return time.perf_counter() - self._t0 if self.kind == "camera" else index / self.fps

    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise RuntimeError(f"{self.source}: frames stream once; open the source again to read them again")
        self._started = True
        assert self._first is not None
        first, self._first = self._first, None
        self._t0 = time.perf_counter()
        yield 0, 0.0, first
        index, bad_run, last_good, why_bad = 1, 0, 0, ""
        while True:
            ok, frame, why = self._read()
            if ok:
                assert frame is not None
                if bad_run:
                    self._skip(index - bad_run, index, why_bad)
                    bad_run = 0
                last_good = index
                if frame.shape[:2] != (self.height, self.width):
                    self._skip(index, index + 1, f"is {frame.shape[1]}x{frame.shape[0]}, the first frame "
                                                 f"{self.width}x{self.height}")
                else:
                    yield index, self._time(index), frame
            else:
                if why == "end":
                    break
                if not bad_run:
                    why_bad = why  # the first failure of a run says why
                bad_run += 1
                if bad_run >= MAX_BAD_RUN or (self.frame_count is not None and index + 1 >= self.frame_count):
                    break  # past the announced end, or a long run of failures: the stream is over
            index += 1
        lost = (self.frame_count - 1 - last_good) if self.frame_count is not None else 0
        if lost > 0 and self.kind == "folder":
            self._skip(last_good + 1, self.frame_count, why_bad)  # type: ignore[arg-type]
        elif lost > 0:
            self.missing_at_end = lost
            self._warn(f"{self.source}: the last {lost} of {self.frame_count} frames cannot be read "
                       "(a truncated or damaged file?)")

    def _skip(self, start: int, stop: int, why: str) -> None:
        self.skipped += stop - start
        which = f"frame {start}" if stop - start == 1 else f"frames {start}-{stop - 1}"
        self._warn(f"{self.source}: {which} {why}: skipped")

    def close(self) -> None:
        self._release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        """One line: what the source is, its size, rate and length."""
        n = f"{self.frame_count} frames" if self.frame_count is not None else "length unknown"
        return f"{self.source}: {self.kind}, {self.width}x{self.height}, {self.fps:g} frames/s, {n}"


def _check_size(w: int, h: int, label: str, max_pixels: int) -> None:
    if w * h > max_pixels:
        raise VideoTooLargeError(f"{label}: frames are {w}x{h} = {w * h / 1e6:.1f} MP, over the "
                                 f"{max_pixels / 1e6:g} MP limit")


def _bgr_to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _open_capture(cap: cv2.VideoCapture, label: str, kind: str, fps_default: float, max_pixels: int,
                  log: Callable[[str], None] | None, count_known: bool) -> FrameSource:
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    _check_size(w, h, label, max_pixels)  # from the header: nothing that large is decoded
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    fps_ok = np.isfinite(fps) and 0 < fps <= 1000
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if count_known else 0
    first = None
    for _ in range(MAX_BAD_RUN if kind == "camera" else 1):  # a camera's first reads may come before its first frame
        ok, bgr = cap.read()
        if ok and bgr is not None and bgr.size:
            first = bgr
            break
    if first is None:
        cap.release()
        if kind == "camera":
            raise CameraError(f"{label}: the camera opened but delivers no frames")
        raise UnreadableVideoError(f"{label}: no frame can be decoded (an empty, truncated or corrupt video)")
    _check_size(first.shape[1], first.shape[0], label, max_pixels)

    def read() -> tuple[bool, np.ndarray | None, str]:
        ok, bgr = cap.read()
        if ok and bgr is not None and bgr.size:
            return True, _bgr_to_rgb(bgr), ""
        return False, None, "did not decode"

    return FrameSource(label, kind, fps if fps_ok else fps_default, bool(fps_ok), count if count > 0 else None,
                       _bgr_to_rgb(first), read, cap.release, log)


def _open_file(path: Path, max_pixels: int, log: Callable[[str], None] | None) -> FrameSource:
    label = str(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(512)
    except PermissionError:
        raise UnreadableVideoError(f"{label}: permission denied") from None
    if size == 0:
        raise UnreadableVideoError(f"{label}: empty file")
    container, image = _sniff(head)
    if image:  # FFmpeg would play it as one frame; the user has a photo and wants hpe predict, or has a folder
        raise NotAVideoError(f"{label}: a {image} image, not a video (pass a folder of images, or use hpe predict)")
    with _quiet_opencv():
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        if container:
            raise UnreadableVideoError(f"{label}: an {container} file FFmpeg cannot open (truncated, corrupt or "
                                       "without frames)")
        raise NotAVideoError(f"{label}: not a video (in no format FFmpeg can open)")
    return _open_capture(cap, label, "video", FOLDER_FPS, max_pixels, log, count_known=True)


def _open_folder(folder: Path, fps: float | None, max_pixels: int, log: Callable[[str], None] | None) -> FrameSource:
    label = str(folder)
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                   key=lambda p: _natural_key(p.name))
    if not files:
        raise UnreadableVideoError(f"{label}: a folder with no images ({', '.join(IMAGE_SUFFIXES)})")
    pos = 0
    errors: list[str] = []

    def read() -> tuple[bool, np.ndarray | None, str]:
        nonlocal pos
        if pos >= len(files):
            return False, None, "end"
        p = files[pos]
        pos += 1
        try:
            return True, read_image(p, max_pixels=max_pixels), ""
        except ImageError as e:
            errors.append(str(e))
            return False, None, f"({p.name}) cannot be read: {str(e).removeprefix(str(p) + ': ')}"

    ok, first, _ = read()
    if not ok:  # the first image decides the size: say why it failed rather than start on the second
        raise UnreadableVideoError(f"{label}: the first image cannot be read ({errors[-1]})")
    assert first is not None
    _check_size(first.shape[1], first.shape[0], label, max_pixels)
    return FrameSource(label, "folder", fps or FOLDER_FPS, fps is not None, len(files), first, read,
                       lambda: None, log)


def _open_camera(index: int, fps: float | None, max_pixels: int, log: Callable[[str], None] | None) -> FrameSource:
    label = f"camera {index}"
    with _quiet_opencv():
        cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        cap.release()
        raise CameraError(f"{label}: no camera with this index (is one connected, and free? try 0)")
    src = _open_capture(cap, label, "camera", fps or CAMERA_FPS, max_pixels, log, count_known=False)
    if fps:
        src.fps, src.fps_known = float(fps), True
    return src


def open_frames(source: str | os.PathLike | int, *, fps: float | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                log: Callable[[str], None] | None = None) -> FrameSource:
    """A video file, a folder of images (sorted by name) or a camera index (0, "0") -> a streaming :class:`FrameSource`.

    ``fps`` sets the rate of a folder (default 25) or a camera (default: what it reports); a file keeps its own.
    Frames over ``max_pixels`` are refused. Skipped frames are reported through ``log`` (default: a
    :class:`FrameSkippedWarning`). Raises :class:`VideoError` subclasses: :class:`NotAVideoError`,
    :class:`UnreadableVideoError` (missing, empty, truncated, no frames), :class:`VideoTooLargeError`,
    :class:`CameraError`.
    """
    if isinstance(source, FrameSource):
        return source
    if fps is not None and not (np.isfinite(fps) and 0 < fps <= 1000):
        raise VideoError(f"fps must be a number in (0, 1000], got {fps}")
    cam = camera_index(source)
    if cam is not None:
        return _open_camera(cam, fps, max_pixels, log)
    if not isinstance(source, (str, os.PathLike)):
        raise VideoError(f"cannot read frames from a {type(source).__name__}: pass a video file, a folder or a camera index")
    path = Path(source)
    if not path.exists():
        raise UnreadableVideoError(f"{path}: no such file or folder")
    if path.is_dir():
        return _open_folder(path, fps, max_pixels, log)
    return _open_file(path, max_pixels, log)


# ------------------------------------------------------------------ writing

class VideoWriter:
    """An MP4 (MPEG-4 part 2, "mp4v": OpenCV's bundled FFmpeg always has it) written under a temporary name.

    The file appears under ``path`` only when :meth:`close` succeeds after at least one frame; :meth:`abort`
    (or an exception inside ``with``) deletes it. An existing ``path`` is refused unless ``overwrite``. Frames are
    RGB uint8, all one size; an odd width or height is padded by one edge pixel (the codec needs even sizes).
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, overwrite: bool = False, fourcc: str = "mp4v") -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise VideoError(f"{self.path}: is a folder; name the video file (e.g. {self.path / 'tracked.mp4'})")
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise VideoError(f"{self.path}: write the video as one of {', '.join(VIDEO_SUFFIXES)} (e.g. out.mp4)")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True (--overwrite) to replace it")
        if not (np.isfinite(fps) and fps > 0):
            raise VideoError(f"fps must be positive, got {fps}")
        self.fps, self.fourcc = float(fps), fourcc
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (width, height) of the frames given
        self._writer: cv2.VideoWriter | None = None
        self._tmpdir: Path | None = None
        self._closed = False

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB uint8 (H, W, 3) frame."""
        if self._closed:
            raise RuntimeError(f"{self.path}: the writer is closed")
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frames must be RGB uint8 (H, W, 3), got {rgb.shape} {rgb.dtype}")
        h, w = rgb.shape[:2]
        if self._writer is None:
            self.size = (w, h)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmpdir = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.part-", dir=self.path.parent))
            self._writer = cv2.VideoWriter(str(self._tmpdir / self.path.name), cv2.VideoWriter_fourcc(*self.fourcc),
                                           self.fps, (w + w % 2, h + h % 2))
            if not self._writer.isOpened():
                self.abort()
                raise VideoError(f"{self.path}: OpenCV cannot write {self.fourcc} video here")
        elif (w, h) != self.size:
            raise ValueError(f"frame {self.frames} is {w}x{h}, the video {self.size[0]}x{self.size[1]}")  # type: ignore[index]
        if w % 2 or h % 2:
            rgb = cv2.copyMakeBorder(rgb, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._closed:
            return self.path
        if self._writer is None or self.frames == 0:
            self.abort()
            raise VideoError(f"{self.path}: no frames to write")
        self._writer.release()
        assert self._tmpdir is not None
        os.replace(self._tmpdir / self.path.name, self.path)
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Drop everything written so far: nothing appears under the target name."""
        if self._writer is not None:
            self._writer.release()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        self._closed = True

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def video_info(path: str | os.PathLike) -> dict[str, Any]:
    """Frame count (by decoding every frame), rate and size of a video file: checks that what we wrote plays."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise UnreadableVideoError(f"{path}: cannot be opened")
        n = 0
        while cap.grab():
            n += 1
        return {"frames": n, "fps": float(cap.get(cv2.CAP_PROP_FPS)), "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}
    finally:
        cap.release()


# ------------------------------------------------------------------ Y4M and test clips

def write_y4m(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: int = 15, *, overwrite: bool = False) -> int:
    """Write RGB uint8 frames (H, W, 3; even H and W, all one size) as a 4:2:0 .y4m file; returns the frame count."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to write")
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"4:2:0 needs an even width and height, got {w}x{h}")
    chunks = [f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode()]
    for i, frame in enumerate(frames):
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame {i} is {frame.shape} {frame.dtype}, expected ({h}, {w}, 3) uint8")
        chunks += [b"FRAME\n", cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes()]  # Y, then U, then V planes
    data = b"".join(chunks)
    write_new(Path(path), lambda p: p.write_bytes(data), overwrite)
    return len(frames)


def panning_frames(image: np.ndarray, size: tuple[int, int], count: int) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """``count`` crops of ``size`` (w, h) sliding left to right across ``image``: (frame, (x0, y0)) pairs.

    A camera panning over a still photo: every frame's content, and so where the person is, is known.
    """
    ih, iw = image.shape[:2]
    w, h = size
    if w > iw or h > ih:
        raise ValueError(f"a {w}x{h} window does not fit in a {iw}x{ih} image")
    y0 = (ih - h) // 2
    xs = np.linspace(0, iw - w, count).round().astype(int)
    return [(np.ascontiguousarray(image[y0:y0 + h, x:x + w]), (int(x), y0)) for x in xs]


__all__ = ["CAMERA_FPS", "FOLDER_FPS", "Frame", "FrameSkippedWarning", "FrameSource", "IMAGE_SUFFIXES",
           "VIDEO_SUFFIXES", "VideoWriter", "camera_index", "open_frames", "panning_frames", "video_info", "write_y4m"]
