"""Pictures for the alt-text tests, drawn here with Pillow, and exiftool as the reader."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

# Both test modules need the real exiftool (packaging/setup.sh installs it); without it they skip.
needs_exiftool = pytest.mark.skipif(not shutil.which("exiftool"),
                                    reason="exiftool is not installed (apt-get install libimage-exiftool-perl)")

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def shapes_picture(size: tuple[int, int] = (256, 256), colour: str = "red", background: str = "white") -> Image.Image:
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.3, h * 0.3, w * 0.7, h * 0.7), fill=colour)
    draw.rectangle((w * 0.05, h * 0.05, w * 0.2, h * 0.2), fill="blue")
    return image


def text_picture() -> Image.Image:
    image = Image.new("RGB", (420, 160), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 40) if Path(FONT).is_file() else ImageFont.load_default()
    draw.text((20, 20), "Garage receipt", fill="black", font=font)
    draw.text((20, 85), "Total 42 euros", fill="black", font=font)
    return image


def read_tags(path: Path, which: str = "-XMP-iptcCore:all") -> dict[str, str]:
    """What exiftool itself reads from a file: the IPTC Core tags (group 1 names), or `which`."""
    out = subprocess.run(["exiftool", "-j", "-G1", "-charset", "filename=utf8", which, "--", str(path)],
                         capture_output=True, check=True).stdout
    found = json.loads(out.decode("utf-8"))[0]
    return {k: v for k, v in found.items() if k != "SourceFile"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def jpeg_scan(path: Path) -> bytes:
    """A JPEG's bytes from its first start-of-scan marker on: the coded picture."""
    data = path.read_bytes()
    return data[data.index(b"\xff\xda"):]


def pixels(path: Path) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(path) as image:
        image.load()
        return image.mode, image.size, image.tobytes()


@pytest.fixture
def drawn_folder(tmp_path: Path) -> Path:
    """A folder as a user has one: a PNG, a JPEG (with EXIF), a picture with text, one in a
    subfolder, awkward names, a damaged PNG and a text file."""
    folder = tmp_path / "Pictures"
    (folder / "holiday").mkdir(parents=True)
    shapes_picture().save(folder / "circle.png")
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    shapes_picture((320, 200), "green", "gray").save(folder / "garden.jpg", quality=90, exif=exif)
    text_picture().save(folder / "receipt.png")
    shapes_picture((200, 300), "yellow", "black").save(folder / "holiday" / "ünïcødé beach.jpg", quality=85)
    shapes_picture((128, 128), "purple").save(folder / "-dash.png")
    good = (folder / "circle.png").read_bytes()
    (folder / "broken.png").write_bytes(good[: len(good) // 3])
    (folder / "notes.txt").write_text("Not a picture.\n", encoding="utf-8")
    return folder


PICTURES = ("-dash.png", "circle.png", "garden.jpg", "holiday/ünïcødé beach.jpg", "receipt.png")
NOT_PICTURES = ("broken.png", "notes.txt")
