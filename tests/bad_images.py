"""A corpus of inputs that are not usable images, shared by the image, CLI and server tests."""
from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def _png(w: int, h: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), 0).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _webp() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(buf, format="WEBP")
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h but whose pixel data is a tiny stream: a decompression bomb's shape."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _bmp_header(w: int, h: int) -> bytes:
    row = (w * 3 + 3) // 4 * 4
    size = min(54 + row * abs(h), 0xFFFFFFFF)
    return (b"BM" + struct.pack("<IHHI", size, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, min(row * abs(h), 0xFFFFFFFF), 2835, 2835, 0, 0)
            + b"\x00" * 64)


def bad_image_corpus() -> list[tuple[str, bytes]]:
    """(name, bytes) pairs; every one must be refused with a clear error, never crash a reader."""
    jpg, png, webp = _jpeg(), _png(64, 48), _webp()
    corrupt_png = bytearray(_png(64, 48))
    idat = corrupt_png.find(b"IDAT")
    corrupt_png[idat + 8: idat + 20] = b"\xff" * 12
    npy = io.BytesIO()
    np.save(npy, np.zeros((4, 4)))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("a.txt", "hello")
    tiff = io.BytesIO()
    Image.new("RGB", (16, 16)).save(tiff, format="TIFF")
    broken_tiff = bytearray(tiff.getvalue())
    broken_tiff[4:8] = struct.pack("<I", 10_000_000)  # first IFD offset past the end
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, format="GIF")
    return [
        ("empty.jpg", b""),
        ("one_byte.jpg", b"\xff"),
        ("random.jpg", np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        ("text.txt", b"this is not an image\n" * 20),
        ("page.html", b"<!doctype html><html><body><img src=x></body></html>"),
        ("data.json", json.dumps({"image": "no"}).encode()),
        ("truncated_10.jpg", jpg[:10]),
        ("truncated_half.jpg", jpg[: len(jpg) // 2]),
        ("truncated_end.jpg", jpg[:-40]),
        ("jpeg_header_only.jpg", jpg[:200]),
        ("soi_only.jpg", b"\xff\xd8\xff\xe0"),
        ("truncated_sig.png", png[:8]),
        ("truncated_ihdr.png", png[:20]),
        ("truncated_idat.png", png[: len(png) - 30]),
        ("corrupt_idat.png", bytes(corrupt_png)),
        ("truncated.webp", webp[: len(webp) // 2]),
        ("riff_only.webp", webp[:12]),
        ("bomb_30000x30000.png", _png_header_only(30000, 30000)),
        ("bomb_100000x1000.png", _png_header_only(100000, 1000)),
        ("zero_width.png", _png_header_only(0, 10)),
        ("zero_height.png", _png_header_only(10, 0)),
        ("huge.bmp", _bmp_header(50000, 50000)),
        ("bmp_header_only.bmp", _bmp_header(100, 100)[:30]),
        ("doc.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"),
        ("pic.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'),
        ("archive.zip", zbuf.getvalue()),
        ("array.npy", npy.getvalue()),
        ("broken_ifd.tiff", bytes(broken_tiff)),
        ("tiff_magic_only.tiff", b"II*\x00"),
        ("gif_truncated.gif", gif.getvalue()[:15]),
        ("nul_bytes.png", b"\x00" * 1024),
        ("elf.bin", b"\x7fELF" + b"\x00" * 60),
        ("utf16_text.jpg", "not an image".encode("utf-16")),
    ]
