"""Video files the project writes: YUV4MPEG2 (.y4m), the raw format Chromium's fake camera plays back.

A camera test needs frames whose content is known; a .y4m file of frames made from real images lets
``--use-file-for-fake-video-capture`` feed them to the page as if a webcam filmed them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from .files import write_new


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


__all__ = ["panning_frames", "write_y4m"]
