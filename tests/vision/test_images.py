"""Pictures in every common format and mode become the right RGB pixels; bad files get a plain reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from desktop_app.vision.images import MAX_PIXELS, PictureError, load_picture, open_picture

RED = (220, 30, 30)


def _scene() -> Image.Image:
    image = Image.new("RGB", (64, 48), RED)
    image.paste((20, 40, 200), (32, 0, 64, 48))  # right half blue
    return image


def _left_right(image: Image.Image) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return image.getpixel((8, 24)), image.getpixel((56, 24))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"])
def test_formats_keep_colours_and_sides(tmp_path, fmt):
    path = tmp_path / f"scene.{fmt.lower()}"
    _scene().save(path, fmt)
    image = load_picture(path)
    assert image.mode == "RGB" and image.size == (64, 48)
    left, right = _left_right(image)
    assert left[0] > 150 and left[2] < 90, left  # still red, not swapped to blue
    assert right[2] > 150 and right[0] < 90, right


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (0, 0, 10, 20))
    path = tmp_path / "a.png"
    rgba.save(path)
    image = load_picture(path)
    assert image.getpixel((15, 10)) == (255, 255, 255)  # transparent black shows as white
    assert image.getpixel((5, 10)) == (200, 0, 0)


def test_palette_with_transparency_and_la(tmp_path):
    p = Image.new("P", (10, 10), 0)
    p.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    p.paste(1, (0, 0, 5, 10))
    p.info["transparency"] = 0
    path = tmp_path / "p.gif"
    p.save(path, transparency=0)
    image = load_picture(path)
    assert image.getpixel((8, 5)) == (255, 255, 255)
    assert image.getpixel((2, 5)) == (0, 200, 0)
    la = Image.new("LA", (4, 4), (10, 0))
    assert open_picture(_bytes(la, "PNG")).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_and_cmyk(tmp_path):
    array = np.full((8, 8), 65535, dtype=np.uint16)
    array[:, :4] = 0
    Image.fromarray(array).save(tmp_path / "g16.png")
    image = load_picture(tmp_path / "g16.png")
    assert image.getpixel((6, 4)) == (255, 255, 255) and image.getpixel((1, 4)) == (0, 0, 0)
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.save(tmp_path / "c.jpg")
    r, g, b = load_picture(tmp_path / "c.jpg").getpixel((2, 2))
    assert r > 200 and g < 60 and b < 60


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), RED)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "rot.jpg", exif=exif)
    assert load_picture(tmp_path / "rot.jpg").size == (20, 40)


def test_first_frame_of_animation(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((250, 0, 0), (0, 0, 250))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    r, _, b = load_picture(tmp_path / "anim.gif").getpixel((4, 4))
    assert r > 200 and b < 50


def _bytes(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"this is a text file, not a picture", "not a picture"),
        (_bytes(Image.new("RGB", (300, 300), RED), "PNG")[:400], "damaged"),
    ],
    ids=["empty", "not-image", "truncated"],
)
def test_bad_files_get_a_plain_sentence(tmp_path, content, words):
    path = tmp_path / "holiday.png"
    path.write_bytes(content)
    with pytest.raises(PictureError) as info:
        load_picture(path)
    message = str(info.value)
    assert words in message and "holiday.png" in message
    assert "Traceback" not in message and message.endswith(".")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(PictureError, match="does not exist"):
        load_picture(tmp_path / "nope.png")
    with pytest.raises(PictureError, match="folder"):
        load_picture(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # A PNG header claiming a huge size: refused from its header alone.
    side = int(MAX_PIXELS ** 0.5) + 1000
    bomb = Image.new("1", (side, side))
    path = tmp_path / "bomb.png"
    bomb.save(path, optimize=True)
    with pytest.raises(PictureError, match="too large"):
        load_picture(path)
