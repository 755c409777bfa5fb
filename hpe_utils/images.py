"""Reading (and writing) images the way users throw them at us: any common format, any mode, clear errors.

Every entry point (Python API, ``hpe predict``, the REST API) reads through :func:`read_image`, which
returns RGB uint8 (H, W, 3) or raises an :class:`ImageError` with one line that names the source and says why.
The subclass says whose fix it is and which HTTP status the REST API answers: :class:`ImageTooLargeError`
(over the pixel limit, a decompression bomb: 413), :class:`NotAnImageError` (no image format we know: 415) and
:class:`UnreadableImageError` (everything else: missing, empty, truncated, corrupt, an unusable array: 400).
Plain :class:`ImageError` is never raised here; it is the type to catch.
"""
from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, ImageTooLargeError, NotAnImageError, UnreadableImageError  # noqa: F401 (re-exported)

DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: a 12,000 x 3,300 panorama fits; a decompression bomb does not


def _label(source: Any, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return f"<{type(source).__name__}>"


def _open(source: Any, label: str) -> tuple[Image.Image, BinaryIO | None]:
    """Open lazily (header only) so the size can be checked before any pixel is decoded."""
    fh: BinaryIO | None = None
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.exists():
            raise UnreadableImageError(f"{label}: file not found")
        if p.is_dir():
            raise UnreadableImageError(f"{label}: is a folder, not an image")
        try:
            if p.stat().st_size == 0:
                raise UnreadableImageError(f"{label}: empty file")
            fh = open(p, "rb")
        except PermissionError:
            raise UnreadableImageError(f"{label}: permission denied") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise UnreadableImageError(f"{label}: empty file")
        fh = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        data = source.read()
        if not data:
            raise UnreadableImageError(f"{label}: empty file")
        fh = io.BytesIO(data)
    else:
        raise UnreadableImageError(f"{label}: cannot read an image from a {type(source).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fh)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        fh.close()
        raise ImageTooLargeError(f"{label}: image is too large (decompression bomb protection)") from None
    except UnidentifiedImageError:
        fh.close()
        raise NotAnImageError(f"{label}: not an image (unrecognised format)") from None
    except Exception as e:  # PIL raises many types on malformed headers
        fh.close()
        raise UnreadableImageError(f"{label}: corrupt image header ({type(e).__name__}: {e})") from None
    return img, fh


def _check_size(w: int, h: int, label: str, max_pixels: int) -> None:
    if w <= 0 or h <= 0:
        raise UnreadableImageError(f"{label}: image has zero size ({w}x{h})")
    if w * h > max_pixels:
        raise ImageTooLargeError(f"{label}: image is {w}x{h} = {w * h / 1e6:.1f} MP, over the {max_pixels / 1e6:g} MP limit")


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Any numeric image array -> uint8, scaling 16-bit and float ranges rather than clipping them."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        a = np.nan_to_num(arr.astype(np.float64), nan=0.0)
        if a.size and a.max() > 1.0:  # float images in 0..255
            a = a / 255.0
        return (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        top = 255 if arr.size == 0 or arr.max() <= 255 else (65535 if arr.max() <= 65535 else info.max)
        return (np.clip(arr.astype(np.float64), 0, top) / top * 255 + 0.5).astype(np.uint8)
    raise UnreadableImageError(f"unsupported pixel type {arr.dtype}")


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Transparent pixels become white, as image viewers show them, instead of arbitrary hidden colours."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    return (rgb.astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)


def _array_to_rgb(arr: np.ndarray, label: str) -> np.ndarray:
    """Numpy arrays are taken as RGB(A) or grayscale: (H, W), (H, W, 1), (H, W, 3), (H, W, 4)."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        g = _to_uint8(arr)
        return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        a = _to_uint8(arr)
        if a.shape[2] == 4:
            return _composite_on_white(a[..., :3], a[..., 3])
        return np.ascontiguousarray(a)
    raise UnreadableImageError(f"{label}: array of shape {arr.shape} is not an image (expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4))")


def _pil_to_rgb(img: Image.Image, label: str) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        if arr.dtype != np.uint16:
            arr = np.clip(arr, 0, 65535).astype(np.uint16) if arr.max(initial=0) > 255 else arr.astype(np.uint8)
        return _array_to_rgb(arr, label)
    if mode == "F":
        return _array_to_rgb(np.asarray(img), label)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"))
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(img))
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def read_image(source: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """Path, bytes, file object, numpy array or PIL image -> RGB uint8 (H, W, 3).

    The format comes from the content, not the extension (the course's ``Messi_Kick.jpg`` is WebP).
    EXIF orientation is applied; 16-bit images are scaled to 8 bits; transparency is composited on white.
    """
    label = _label(source, name)
    if isinstance(source, np.ndarray):
        if source.ndim >= 2:
            _check_size(int(source.shape[1]), int(source.shape[0]), label, max_pixels)
        return _array_to_rgb(source, label)
    if isinstance(source, Image.Image):
        _check_size(source.width, source.height, label, max_pixels)
        img, fh = source, None
    else:
        img, fh = _open(source, label)
    try:
        _check_size(img.width, img.height, label, max_pixels)
        try:
            img.load()
            img = ImageOps.exif_transpose(img) or img
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as e:
            msg = str(e).lower()
            why = "truncated or corrupt image data" if ("truncat" in msg or "broken" in msg or "eof" in msg or "corrupt" in msg) \
                else f"cannot decode image ({type(e).__name__}: {e})"
            raise UnreadableImageError(f"{label}: {why}") from None
        except Image.DecompressionBombError:
            raise ImageTooLargeError(f"{label}: image is too large (decompression bomb protection)") from None
        rgb = _pil_to_rgb(img, label)
    finally:
        if fh is not None:
            fh.close()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise UnreadableImageError(f"{label}: decoded to an unusable shape {rgb.shape}")
    return rgb


def image_size(source: Any) -> tuple[int, int]:
    """(width, height) from the header only, with the same errors as :func:`read_image`."""
    label = _label(source, None)
    if isinstance(source, np.ndarray):
        return int(source.shape[1]), int(source.shape[0])
    img, fh = _open(source, label)
    try:
        return img.width, img.height
    finally:
        if fh is not None:
            fh.close()


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image; the format follows the extension (PNG, JPEG, WebP)."""
    Image.fromarray(np.ascontiguousarray(rgb)).save(str(path))


def encode_png(rgb: np.ndarray) -> bytes:
    """RGB uint8 -> PNG bytes (for the REST API)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return buf.getvalue()


__all__ = ["DEFAULT_MAX_PIXELS", "ImageError", "ImageTooLargeError", "NotAnImageError", "UnreadableImageError",
           "encode_png", "image_size", "read_image", "write_image"]
