"""Every picture in the bad-inputs corpus gets one sentence from the real `lookaloud describe`
and `lookaloud read-text`: exit 2, one line naming the file, never a hang, a traceback or a
memory blow-up; the odd but valid ones load the way a viewer shows them."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest
from PIL import Image

from desktop_app.vision.images import MAX_PIXELS, PictureError, load_picture
from testkit import badinputs

HANG_GUARD_S = 30  # a FIFO used to block forever; anything that returns at all is fine
# The command may use this much address space: a 3 GB file read whole goes past it and dies of
# MemoryError instead of answering with a sentence.
MEMORY_LIMIT = 3 * 1024**3


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def lookaloud(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, env=env, check=False, preexec_fn=_limit_memory)


def _skip_unreadable_as_root(name: str) -> None:
    if name == "unreadable" and badinputs.is_root():
        pytest.skip("root reads files without read permission")


@pytest.mark.parametrize("command", ["describe", "read-text"])
@pytest.mark.parametrize("name", sorted(badinputs.BAD_PICTURES))
def test_command_refuses_a_bad_picture_with_one_sentence(tmp_path, command, name):
    _skip_unreadable_as_root(name)
    path = badinputs.make(badinputs.BAD_PICTURES, name, tmp_path)
    result = lookaloud(command, str(path))
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert path.name in lines[0] and lines[0].endswith("."), lines[0]
    assert "Traceback" not in result.stderr and "Error" not in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("name", sorted(badinputs.BAD_PICTURES))
def test_load_picture_refuses_a_bad_picture(tmp_path, name):
    _skip_unreadable_as_root(name)
    path = badinputs.make(badinputs.BAD_PICTURES, name, tmp_path)
    with pytest.raises(PictureError) as info:
        load_picture(path)
    assert path.name in str(info.value)


@pytest.mark.parametrize("name", sorted(badinputs.ODD_PICTURES))
def test_odd_pictures_load_as_a_viewer_shows_them(tmp_path, name):
    maker, size, colours = badinputs.ODD_PICTURES[name]
    image = load_picture(maker(tmp_path))
    assert image.mode == "RGB" and image.size == size
    for xy, expected in colours.items():
        assert all(abs(a - b) <= 12 for a, b in zip(image.getpixel(xy), expected, strict=True)), (xy, image.getpixel(xy))


def test_the_largest_allowed_picture_loads(tmp_path):
    # 8000 x 8000 (64 M pixels) is under the limit; one more row past MAX_PIXELS is not.
    path = tmp_path / "big.png"
    path.write_bytes(badinputs.bomb_png_bytes(8000, 8000))
    assert load_picture(path).size == (8000, 8000)
    over = tmp_path / "over.png"
    over.write_bytes(badinputs.bomb_png_bytes(10_000, MAX_PIXELS // 10_000 + 1))
    with pytest.raises(PictureError, match="too large"):
        load_picture(over)


def test_kept_copy_is_bounded_and_keeps_what_ocr_and_the_model_use():
    from desktop_app.ocr.prepare import MAX_PREPARED_PIXELS
    from desktop_app.vision.images import KEPT_PIXELS, bounded_copy

    assert KEPT_PIXELS >= MAX_PREPARED_PIXELS  # the text reader never works on more than this
    screen = Image.new("RGB", (3840, 2160), "white")
    screen.info["title"] = "Editor"
    assert bounded_copy(screen) is screen  # a 4K screenshot is kept whole
    big = Image.new("RGB", (8000, 6000), "white")
    big.info["title"] = "Photo"
    kept = bounded_copy(big)
    width, height = kept.size
    assert width * height <= KEPT_PIXELS and abs(width / height - 8000 / 6000) < 0.01
    assert kept.info["title"] == "Photo"
