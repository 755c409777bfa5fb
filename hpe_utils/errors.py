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


class WeightsError(RuntimeError):
    """Weights that cannot be found, fetched, verified or loaded; the message says what to do."""


class ChecksumError(WeightsError):
    """A downloaded file whose SHA-256 does not match the registry: it is deleted, never used."""


class DatasetError(InputError):
    """Data that cannot be read as the named dataset: the CLI reports it in one line instead of a traceback."""


__all__ = ["BoxError", "ChecksumError", "DatasetError", "ImageError", "ImageTooLargeError", "InputError",
           "NotAnImageError", "UnreadableImageError", "WeightsError"]
