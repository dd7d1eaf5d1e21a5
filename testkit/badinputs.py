"""The bad-inputs corpus: hostile and odd pictures and sound files, made by code at test time.

Each maker writes one file (or FIFO, folder, link) into a folder and returns its path. Nothing
here is checked in and nothing uses real disk beyond a few megabytes: the 3 GB files are sparse.

- BAD_PICTURES and BAD_SOUNDS must be refused with one sentence naming the file.
- ODD_PICTURES and ODD_SOUNDS are unusual but valid; each comes with what it must look like.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

Maker = Callable[[Path], Path]
SPARSE_BYTES = 3 * 1024**3


# ---- pictures -------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png_bytes(width: int, height: int) -> bytes:
    """A real 1-bit PNG of width x height black pixels: a few hundred kB that decode to
    width*height pixels (as RGB, three bytes each). Written row by row, never held decoded."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    rows_per_step = max(1, (8 << 20) // len(row))
    parts = []
    for start in range(0, height, rows_per_step):
        parts.append(packer.compress(row * min(rows_per_step, height - start)))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def scene() -> Image.Image:
    """Left half red, right half blue: which side is which shows rotation and channel order."""
    image = Image.new("RGB", (64, 48), (220, 30, 30))
    image.paste((20, 40, 200), (32, 0, 64, 48))
    return image


def _write(name: str, content: bytes | Callable[[], bytes]) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content() if callable(content) else content)
        return path

    return make


def fifo(name: str) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        os.mkfifo(path)
        return path

    return make


def dev_zero_link(name: str) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.symlink_to("/dev/zero")
        return path

    return make


def dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")


def sparse(name: str, header: bytes = b"") -> Maker:
    """A 3 GB file that takes no disk: a real header, then a hole."""

    def make(folder: Path) -> Path:
        path = folder / name
        with open(path, "wb") as file:
            file.write(header)
            file.truncate(SPARSE_BYTES)
        return path

    return make


def folder_named(name: str) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.mkdir()
        return path

    return make


def unreadable(name: str, content: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = _write(name, content)(folder)
        path.chmod(0)
        return path

    return make


def _truncated(fmt: str) -> bytes:
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    whole = _encoded(noisy, fmt)
    return whole[: len(whole) // 2]


_SCENE_PNG = _encoded(scene(), "PNG")

BAD_PICTURES: dict[str, Maker] = {
    "fifo": fifo("pipe.png"),
    "dev-zero-link": dev_zero_link("zero.png"),
    "dev-zero": dev_zero,
    "sparse-3gb": sparse("huge.png", _SCENE_PNG[:33]),
    "bomb": _write("bomb.png", lambda: bomb_png_bytes(30_000, 30_000)),
    "11000x10000": _write("wide.png", lambda: bomb_png_bytes(11_000, 10_000)),
    "truncated-png": _write("cut.png", _truncated("PNG")),
    "truncated-jpeg": _write("cut.jpg", _truncated("JPEG")),
    "text-named-png": _write("notes.png", b"Shopping list: eggs, milk, bread.\n"),
    "wav-named-jpg": _write("sound.jpg", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28),
    "garbage": _write("noise.jpg", bytes(np.random.default_rng(2).integers(0, 255, 4096, dtype=np.uint8))),
    "zero-bytes": _write("empty.png", b""),
    "folder": folder_named("album.png"),
    "unreadable": unreadable("secret.png", _SCENE_PNG),
}


def _sixteen_bit(folder: Path) -> Path:
    array = np.zeros((8, 8), dtype=np.uint16)
    array[:, 4:] = 65535
    path = folder / "deep.png"
    Image.fromarray(array).save(path)
    return path


def _exif_rotated(folder: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    path = folder / "phone.jpg"
    Image.new("RGB", (40, 20), (220, 30, 30)).save(path, exif=exif)
    return path


def _animated(folder: Path) -> Path:
    frames = [Image.new("RGB", (8, 8), c) for c in ((250, 0, 0), (0, 0, 250))]
    path = folder / "blink.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def _cmyk(folder: Path) -> Path:
    path = folder / "print.jpg"
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(path)  # pure red in CMYK
    return path


# name -> (maker, size the picture must have, (x, y) -> colour it must roughly have)
ODD_PICTURES: dict[str, tuple[Maker, tuple[int, int], dict[tuple[int, int], tuple[int, int, int]]]] = {
    "16-bit": (_sixteen_bit, (8, 8), {(1, 4): (0, 0, 0), (6, 4): (255, 255, 255)}),
    "exif-rotated": (_exif_rotated, (20, 40), {(10, 20): (220, 30, 30)}),
    "animated-gif": (_animated, (8, 8), {(4, 4): (250, 0, 0)}),
    "cmyk": (_cmyk, (4, 4), {(2, 2): (255, 0, 0)}),
}


# ---- sounds ---------------------------------------------------------------------------------


def wav_bytes(samples: bytes, *, rate: int = 16_000, channels: int = 1, bits: int = 16,
              data_size: int | None = None, fmt_size: int = 16, tag: int = 1) -> bytes:
    """A RIFF WAVE file with exactly the header fields given, true or not."""
    block = channels * ((bits + 7) // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    fmt = fmt + b"\x00" * max(0, fmt_size - 16) if fmt_size <= 64 else fmt
    size = len(samples) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt + b"data" + struct.pack("<I", size) + samples
    return b"RIFF" + struct.pack("<I", min(len(body), 0xFFFFFFFF)) + body


def tone(seconds: float = 0.5, rate: int = 16_000) -> np.ndarray:
    """A 440 Hz tone at half scale, float in -1..1."""
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * 440 * t)


def pcm(audio: np.ndarray, bits: int) -> bytes:
    """Little-endian PCM as WAV stores it: 8-bit unsigned, the rest signed."""
    if bits == 8:
        return np.round(audio * 127 + 128).astype(np.uint8).tobytes()
    if bits == 24:
        ints = np.round(audio * (2**23 - 1)).astype("<i4")
        return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return np.round(audio * (2 ** (bits - 1) - 1)).astype(f"<i{bits // 8}").tobytes()


_TONE16 = pcm(tone(), 16)

BAD_SOUNDS: dict[str, Maker] = {
    "rate-0": _write("silent-rate.wav", wav_bytes(_TONE16, rate=0)),
    "rate-1": _write("slow.wav", wav_bytes(_TONE16, rate=1)),
    "truncated-data": _write("cut.wav", wav_bytes(_TONE16[: len(_TONE16) // 2], data_size=len(_TONE16))),
    "odd-frame": _write("ragged.wav", wav_bytes(_TONE16 + b"\x01")),
    "0-channels": _write("nochannels.wav", wav_bytes(_TONE16, channels=0)),
    "0-bits": _write("nobits.wav", wav_bytes(_TONE16, bits=0)),
    "40-bit": _write("wide.wav", wav_bytes(_TONE16, bits=40)),
    "huge-data-length": _write("liar.wav", wav_bytes(_TONE16, data_size=0xFFFFFFF0)),
    "huge-fmt-length": _write("fat.wav", wav_bytes(_TONE16, fmt_size=0x7FFFFFF0)),
    "no-data": _write("header.wav", wav_bytes(b"")[:36]),
    "garbage": _write("noise.wav", bytes(np.random.default_rng(3).integers(0, 255, 4096, dtype=np.uint8))),
    "text": _write("notes.wav", b"Shopping list: eggs, milk, bread.\n"),
    "zero-bytes": _write("empty.wav", b""),
    "fifo": fifo("pipe.wav"),
    "dev-zero-link": dev_zero_link("zero.wav"),
    "dev-zero": dev_zero,
    "sparse-3gb": sparse("long.wav", wav_bytes(b"", data_size=SPARSE_BYTES - 44)),
    "folder": folder_named("recordings.wav"),
    "unreadable": unreadable("secret.wav", wav_bytes(_TONE16)),
}

# name -> maker; each must read as the same 0.5 s tone as the 16-bit mono file.
ODD_SOUNDS: dict[str, Maker] = {
    "8-bit": _write("low.wav", wav_bytes(pcm(tone(), 8), bits=8)),
    "24-bit": _write("studio.wav", wav_bytes(pcm(tone(), 24), bits=24)),
    "32-bit": _write("deep.wav", wav_bytes(pcm(tone(), 32), bits=32)),
    "stereo-48k": _write("stereo.wav", wav_bytes(pcm(np.repeat(tone(rate=48_000), 2), 16), rate=48_000, channels=2)),
    "16-bit": _write("plain.wav", wav_bytes(_TONE16)),
}


def make(makers: dict[str, Maker], name: str, folder: Path) -> Path:
    """Make one corpus entry in its own subfolder (names repeat across the corpus)."""
    where = folder / name
    where.mkdir(parents=True, exist_ok=True)
    return makers[name](where)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class Hung(AssertionError):
    """Raised by hang_guard when the guarded code has not returned in time."""


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Fail, rather than wait forever, when the block does not finish in `seconds`: a timer
    signal interrupts even a blocking open() of a FIFO. Main thread only."""

    def expired(signum: int, frame: object) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
