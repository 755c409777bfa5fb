"""The library's exception types, in one place at the bottom of the layers so every module can raise them.

Callers (the CLI, the REST API) decide what to do by *type*, never by matching message text:
an :class:`InputError` is the caller's mistake (HTTP 4xx, exit status 2); anything else is ours.
"""
from __future__ import annotations


class InputError(ValueError):
    """Input the caller can fix: a bad image, a bad box, a bad option. The message says what to change."""


class ImageError(InputError):
    """An input that is not a readable image (or is too large); the message names the source."""


class ImageTooLargeError(ImageError):
    """An image over the pixel limit (or a decompression bomb): HTTP 413."""


class NotAnImageError(ImageError):
    """Bytes in no image format we can read: HTTP 415."""


class UnreadableImageError(ImageError):
    """A file or upload in an image format that cannot be decoded (truncated, corrupt, empty): HTTP 400."""


class BoxError(InputError):
    """Person boxes that are not finite [x, y, w, h] with a positive width and height."""


class VideoError(InputError):
    """A video source (file, folder of images, camera) that cannot be read; the message names it and says why."""


class NotAVideoError(VideoError):
    """A file in no video container FFmpeg can open (text, an unknown format)."""


class UnreadableVideoError(VideoError):
    """A video that cannot be decoded: missing, empty, truncated, corrupt, or without a single frame."""


class VideoTooLargeError(VideoError):
    """Frames over the pixel limit (an absurd resolution that would exhaust memory)."""


class CameraError(VideoError):
    """A camera index with no camera behind it (or one that delivers no frame)."""


class DetectorError(InputError):
    """A person detector that cannot be loaded, raises, or returns something other than (boxes, scores)."""


class WeightsError(RuntimeError):
    """Weights that cannot be found, fetched, verified or loaded; the message says what to do."""


class ChecksumError(WeightsError):
    """A downloaded file whose SHA-256 does not match the registry: it is deleted, never used."""


class DatasetError(InputError):
    """Data that cannot be read as the named dataset: the CLI reports it in one line instead of a traceback."""


__all__ = ["BoxError", "CameraError", "ChecksumError", "DatasetError", "DetectorError", "ImageError",
           "ImageTooLargeError", "InputError", "NotAVideoError", "NotAnImageError", "UnreadableImageError",
           "UnreadableVideoError", "VideoError", "VideoTooLargeError", "WeightsError"]
