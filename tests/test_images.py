"""read_image: every common format and mode in, RGB uint8 out; anything else a clear ImageError."""
import io

import numpy as np
import pytest
from PIL import Image

from bad_images import bad_image_corpus
from hpe_utils import errors
from hpe_utils.images import ImageError, encode_png, image_size, read_image, write_image


def _save(img: Image.Image, path, fmt, **kw):
    img.save(path, format=fmt, **kw)
    return path


@pytest.fixture
def rgb_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("BMP", ".bmp"), ("TIFF", ".tiff")])
def test_lossless_formats_round_trip_exactly(tmp_path, rgb_image, fmt, suffix):
    p = _save(Image.fromarray(rgb_image), tmp_path / f"a{suffix}", fmt)
    out = read_image(p)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3) and out.flags["C_CONTIGUOUS"]
    assert np.array_equal(out, rgb_image)


def test_format_comes_from_content_not_extension(tmp_path, rgb_image):
    p = _save(Image.fromarray(rgb_image), tmp_path / "really_webp.jpg", "WEBP", lossless=True)
    assert np.array_equal(read_image(p), rgb_image)


def test_jpeg_is_read_close_to_the_original(tmp_path):
    flat = np.full((32, 32, 3), (200, 30, 90), np.uint8)
    out = read_image(_save(Image.fromarray(flat), tmp_path / "a.jpg", "JPEG", quality=95))
    assert np.abs(out.astype(int) - flat).max() <= 6


def test_grayscale_becomes_three_equal_channels(tmp_path):
    g = np.arange(48, dtype=np.uint8).reshape(6, 8)
    out = read_image(_save(Image.fromarray(g, "L"), tmp_path / "g.png", "PNG"))
    assert out.shape == (6, 8, 3) and np.array_equal(out[..., 0], g) and np.array_equal(out[..., 2], g)


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[0, 0, 3] = 255  # opaque red pixel; the rest fully transparent
    out = read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "t.png", "PNG"))
    assert out[0, 0].tolist() == [255, 0, 0] and out[1, 1].tolist() == [255, 255, 255]
    la = Image.fromarray(np.stack([np.zeros((4, 4), np.uint8), np.full((4, 4), 0, np.uint8)], -1), "LA")
    assert read_image(_save(la, tmp_path / "la.png", "PNG"))[0, 0].tolist() == [255, 255, 255]
    pal = Image.new("P", (4, 4), 0)
    pal.putpalette([0, 0, 0] * 256)
    pal.info["transparency"] = 0
    assert read_image(_save(pal, tmp_path / "p.png", "PNG", transparency=0))[0, 0].tolist() == [255, 255, 255]


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    g = np.array([[0, 32768, 65535]], dtype=np.uint16)
    img = Image.fromarray(g)  # mode I;16
    out = read_image(_save(img, tmp_path / "g16.png", "PNG"))
    assert out[0, :, 0].tolist() == [0, 128, 255]


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[0:4, 0:4] = 255  # white marker top-left in the stored pixels
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = tmp_path / "rot.jpg"
    img.save(p, format="JPEG", exif=exif, quality=95)
    out = read_image(p)
    assert out.shape == (40, 20, 3)
    assert out[:4, -4:].mean() > 200  # the marker is now top-right
    assert out[-5:, :5].mean() < 50


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    img = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red in CMYK
    out = read_image(_save(img, tmp_path / "c.jpg", "JPEG"))
    assert out.shape == (8, 8, 3) and out[0, 0, 0] > 200 and out[0, 0, 1] < 60


def test_bytes_file_objects_and_pil_images_are_accepted(tmp_path, rgb_image):
    buf = io.BytesIO()
    Image.fromarray(rgb_image).save(buf, format="PNG")
    data = buf.getvalue()
    assert np.array_equal(read_image(data), rgb_image)
    assert np.array_equal(read_image(bytearray(data)), rgb_image)
    assert np.array_equal(read_image(io.BytesIO(data)), rgb_image)
    assert np.array_equal(read_image(Image.fromarray(rgb_image)), rgb_image)


def test_numpy_inputs_of_every_common_kind():
    assert read_image(np.zeros((5, 6), np.uint8)).shape == (5, 6, 3)
    assert read_image(np.zeros((5, 6, 1), np.uint8)).shape == (5, 6, 3)
    f = read_image(np.full((2, 2, 3), 0.5, np.float32))
    assert f.dtype == np.uint8 and f[0, 0, 0] == 128
    u16 = read_image(np.full((2, 2, 3), 65535, np.uint16))
    assert u16[0, 0, 0] == 255
    rgba = np.zeros((2, 2, 4), np.uint8)
    assert read_image(rgba)[0, 0].tolist() == [255, 255, 255]
    with pytest.raises(ImageError, match="shape"):
        read_image(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(ImageError):
        read_image(np.zeros(7, np.uint8))


def test_missing_file_and_folder_are_named_in_the_error(tmp_path):
    with pytest.raises(ImageError, match="nope.jpg: file not found"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(ImageError, match="cannot read"):
        read_image(12345)


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    p = _save(Image.new("RGB", (300, 200)), tmp_path / "big.png", "PNG")
    with pytest.raises(ImageError, match=r"300x200 = 0.1 MP, over the 0.05 MP limit"):
        read_image(p, max_pixels=50_000)
    assert image_size(p) == (300, 200)


def test_demo_image_reads_as_912x516():
    from pathlib import Path

    p = Path(__file__).resolve().parent.parent / "data" / "messi_kick.webp"
    assert read_image(p).shape == (516, 912, 3)


BAD = bad_image_corpus()


def test_the_bad_input_corpus_has_at_least_30_items():
    assert len(BAD) >= 30 and len({n for n, _ in BAD}) == len(BAD)


@pytest.mark.parametrize("name,data", BAD, ids=[n for n, _ in BAD])
def test_every_bad_input_raises_image_error_naming_it(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(ImageError) as info:
        read_image(p)
    assert name in str(info.value)
    with pytest.raises(ImageError):
        read_image(data, name=name)


def test_write_and_encode_png_round_trip(tmp_path, rgb_image):
    write_image(tmp_path / "o.png", rgb_image)
    assert np.array_equal(read_image(tmp_path / "o.png"), rgb_image)
    assert np.array_equal(read_image(encode_png(rgb_image)), rgb_image)


# ------------------------------------------------------------------ the error's type says whose fix it is and the HTTP status

SUBCLASSES = (errors.ImageTooLargeError, errors.NotAnImageError, errors.UnreadableImageError)


def test_image_error_is_the_shared_type_and_still_a_value_error():
    assert ImageError is errors.ImageError and issubclass(ImageError, errors.InputError)
    assert issubclass(ImageError, ValueError)  # callers that catch ValueError keep working
    assert all(issubclass(k, ImageError) for k in SUBCLASSES)


@pytest.mark.parametrize("name,kind", [
    ("bomb_30000x30000.png", errors.ImageTooLargeError), ("huge.bmp", errors.ImageTooLargeError),
    ("random.jpg", errors.NotAnImageError), ("text.txt", errors.NotAnImageError),
    ("truncated_idat.png", errors.UnreadableImageError), ("truncated_half.jpg", errors.UnreadableImageError),
    ("empty.jpg", errors.UnreadableImageError),
])
def test_bad_inputs_raise_the_subclass_for_their_kind_of_failure(tmp_path, name, kind):
    data = dict(BAD)[name]
    with pytest.raises(kind):
        read_image(data, name=name)
    (tmp_path / name).write_bytes(data)
    with pytest.raises(kind):
        read_image(tmp_path / name)


def test_over_the_pixel_limit_raises_image_too_large_for_files_arrays_and_pil_images(tmp_path):
    p = _save(Image.new("RGB", (300, 200)), tmp_path / "big.png", "PNG")
    for source in (p, p.read_bytes(), np.zeros((200, 300, 3), np.uint8), Image.new("RGB", (300, 200))):
        with pytest.raises(errors.ImageTooLargeError, match="over the 0.05 MP limit"):
            read_image(source, max_pixels=50_000)


def test_missing_files_folders_and_unusable_arrays_are_unreadable_not_a_format_problem(tmp_path):
    for source in (tmp_path / "nope.jpg", tmp_path, b"", np.zeros((2, 2, 5), np.uint8), np.zeros(7, np.uint8), 12345):
        with pytest.raises(errors.UnreadableImageError):
            read_image(source)


@pytest.mark.parametrize("name,data", BAD, ids=[n for n, _ in BAD])
def test_every_bad_input_raises_one_of_the_three_specific_subclasses(name, data):
    with pytest.raises(ImageError) as info:
        read_image(data, name=name, max_pixels=4_000_000)
    assert type(info.value) in SUBCLASSES, type(info.value)
