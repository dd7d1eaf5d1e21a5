"""Offline text recognition: the OcrEngine interface, its two engines, and read_text().

Two engines sit behind one small interface:
- TesseractEngine runs the system `tesseract` command (a PNG file in, TSV out; no
  pytesseract). Chosen first: on generated screenshots it was both faster and more accurate
  here (see docs/ocr.md), and it keeps the spaces between words.
- RapidOcrEngine runs RapidOCR's bundled PP-OCRv4 ONNX models (from the package index, so it
  is there on Windows and macOS where Tesseract usually is not). Loaded once and reused.

read_text() prepares the picture (grey, dark mode inverted, small interface fonts upscaled),
asks the first engine that can read the language, and returns lines grouped into blocks in
reading order. Everything here is Qt-free and may run on the inference worker thread; each
engine serialises its own calls with a lock.
"""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageOps


class OcrError(RuntimeError):
    """Text could not be read; str() is one sentence for the user."""


class OcrCancelled(OcrError):
    """The caller's cancel event was set while the text was being read."""

    def __init__(self) -> None:
        super().__init__("Reading the text was stopped.")


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in the picture's pixels."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def union(self, other: Box) -> Box:
        return Box(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def to_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box
    confidence: float  # 0..1


@dataclass
class OcrBlock:
    """Lines that belong together (a paragraph, a title, a column of a list)."""

    lines: list[OcrLine]

    @property
    def box(self) -> Box:
        box = self.lines[0].box
        for line in self.lines[1:]:
            box = box.union(line.box)
        return box

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass
class OcrResult:
    """The text of a picture in reading order, with where each line is and how long it took."""

    blocks: list[OcrBlock]
    engine: str
    language: str
    image_size: tuple[int, int]
    seconds: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0  # how much the picture was enlarged before recognition

    @property
    def lines(self) -> list[OcrLine]:
        return [line for block in self.blocks for line in block.lines]

    @property
    def text(self) -> str:
        """All text: lines joined by newlines, blocks by a blank line."""
        return "\n\n".join(block.text for block in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "language": self.language,
            "image_size": list(self.image_size),
            "text": self.text,
            "blocks": [
                {
                    "box": block.box.to_list(),
                    "lines": [
                        {
                            "text": line.text,
                            "box": line.box.to_list(),
                            "confidence": round(line.confidence, 3),
                        }
                        for line in block.lines
                    ],
                }
                for block in self.blocks
            ],
            "seconds": {name: round(value, 3) for name, value in self.seconds.items()},
            "scale": round(self.scale, 3),
        }


class OcrEngine(Protocol):
    """What every engine offers. recognize() runs off the GUI thread and may block for seconds."""

    name: str
    line_height: int  # pictures whose text lines are lower than this are enlarged first

    def supports(self, language: str) -> bool:
        """Whether this engine is installed here and can read `language` (ISO 639-1, e.g. "en")."""
        ...

    def recognize(
        self, image: Image.Image, language: str, cancel: threading.Event | None = None
    ) -> list[OcrLine]:
        """Lines of text in `image` (8-bit grey, dark text on light), unordered; raises OcrError,
        or OcrCancelled soon after `cancel` is set."""
        ...


# ISO 639-1 -> Tesseract traineddata names for the languages users are most likely to set.
TESSERACT_LANGUAGES = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld",
    "sv": "swe", "da": "dan", "nb": "nor", "fi": "fin", "pl": "pol", "cs": "ces", "hu": "hun",
    "ru": "rus", "uk": "ukr", "el": "ell", "tr": "tur", "ar": "ara", "he": "heb", "hi": "hin",
    "ja": "jpn", "ko": "kor", "zh": "chi_sim", "zh-tw": "chi_tra", "vi": "vie",
}  # fmt: skip

LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "zh": "Chinese", "ja": "Japanese",
}  # fmt: skip


def _has_text(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


_LINE_ART = set("|¦[]{}_=~")
_PAIRS = {")": "(", "]": "[", "}": "{", "(": ")", "[": "]", "{": "}"}


def _without_borders(word: str) -> str:
    """A word without what a box, button or frame border adds when read as text: a word of
    bars and brackets alone ("|", "[]") goes, and a bar or unmatched bracket on either edge
    ("Lookaloud)", "|Save") is cut off."""
    if all(ch in _LINE_ART for ch in word):
        return ""
    while word and word[-1] in "|)]}" and (word[-1] == "|" or _PAIRS[word[-1]] not in word[:-1]):
        word = word[:-1]
    while word and word[0] in "|([{" and (word[0] == "|" or _PAIRS[word[0]] not in word[1:]):
        word = word[1:]
    return word


class TesseractEngine:
    """The system Tesseract 4/5 through its command line (PNG file in, TSV out)."""

    name = "tesseract"
    # Lines enlarged to about 24 px read best on 9-11 px interface fonts (bench/ocr.py:
    # 20-28 px all near 100 %, 32 px lost words at 9 px).
    line_height = 24

    def __init__(self, command: str = "tesseract", timeout_s: float = 120.0) -> None:
        self._command = shutil.which(command)
        self._timeout_s = timeout_s
        self._languages: set[str] | None = None
        self._lock = threading.Lock()

    def installed_languages(self) -> set[str]:
        if self._command is None:
            return set()
        with self._lock:
            if self._languages is None:
                try:
                    out = subprocess.run(
                        [self._command, "--list-langs"],
                        check=False,
                        capture_output=True,
                        text=True,
                        timeout=20,
                    ).stdout
                except (OSError, subprocess.SubprocessError):
                    out = ""
                self._languages = {line.strip() for line in out.splitlines()[1:] if line.strip()}
            return self._languages

    def supports(self, language: str) -> bool:
        code = TESSERACT_LANGUAGES.get(language.lower())
        return code is not None and code in self.installed_languages()

    def recognize(
        self, image: Image.Image, language: str, cancel: threading.Event | None = None
    ) -> list[OcrLine]:
        if not self.supports(language):
            raise OcrError(
                f"Tesseract cannot read {LANGUAGE_NAMES.get(language, language)} on this computer."
            )
        # One OpenMP thread per process: Tesseract's threads add CPU time for little gain;
        # big pictures are instead read as strips by parallel processes (see _strips).
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        code = TESSERACT_LANGUAGES[language.lower()]
        strips = self._strips(image)
        # The picture goes through a private temporary folder, not stdin: a pipe would need a
        # writer thread to stay cancellable while Tesseract reads it.
        with tempfile.TemporaryDirectory(prefix="lookaloud-ocr-") as folder:
            procs: list[subprocess.Popen[bytes]] = []
            try:
                for number, (top, bottom) in enumerate(strips):
                    path = os.path.join(folder, f"strip{number}.png")
                    image.crop((0, top, image.width, bottom)).save(path, format="PNG", compress_level=1)
                    args = [str(self._command), path, "stdout", "-l", code, "--psm", "3", "tsv"]
                    procs.append(
                        subprocess.Popen(
                            args,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL,
                            env=env,
                        )
                    )
                outputs = [self._wait(proc, cancel, time.monotonic() + self._timeout_s) for proc in procs]
            except OSError as exc:
                raise OcrError("The Tesseract text reader could not be started.") from exc
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
                        proc.communicate()
        lines = []
        for (top, _), out in zip(strips, outputs):
            for line in self._parse_tsv(out.decode("utf-8", "replace")):
                box = Box(line.box.left, line.box.top + top, line.box.right, line.box.bottom + top)
                lines.append(OcrLine(line.text, box, line.confidence))
        return lines

    # Pictures with more than this many pixels in rows holding text, per core, are split: a
    # 1080p screen full of text took 10 CPU seconds in one process, while each extra process
    # costs about 0.15 s to start (a screen with a dozen lines is not worth splitting).
    STRIP_PIXELS = 2_000_000

    @classmethod
    def _strips(cls, image: Image.Image) -> list[tuple[int, int]]:
        """(top, bottom) bands to read in parallel, cut only at rows without text."""
        if image.width * image.height < 2 * cls.STRIP_PIXELS or (os.cpu_count() or 1) < 2:
            return [(0, image.height)]
        pixels = np.asarray(image.convert("L")).astype(np.int16)
        ink = np.abs(pixels - np.median(pixels, axis=1, keepdims=True)) > 40
        # A vertical border or scroll bar crossing a row leaves it blank enough to cut.
        blank = ink.sum(axis=1) <= max(2, image.width // 200)
        text_pixels = int((~blank).sum()) * image.width
        count = min(os.cpu_count() or 1, 4, text_pixels // cls.STRIP_PIXELS)
        if count < 2:
            return [(0, image.height)]
        cuts = [0]
        for k in range(1, count):
            target, reach = k * image.height // count, image.height // (2 * count)
            low = max(cuts[-1] + 1, target - reach)
            rows = np.flatnonzero(blank[low : target + reach]) + low
            if rows.size:
                cuts.append(int(rows[np.argmin(np.abs(rows - target))]))
        cuts.append(image.height)
        return list(itertools.pairwise(cuts))

    @staticmethod
    def _wait(proc: subprocess.Popen[bytes], cancel: threading.Event | None, deadline: float) -> bytes:
        """The output of a finished Tesseract, polling `cancel` and the deadline meanwhile."""
        while True:
            try:
                out, _ = proc.communicate(timeout=0.1)
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    raise OcrCancelled() from None
                if time.monotonic() > deadline:
                    raise OcrError("Reading the text took too long and was stopped.") from None
                continue
            if proc.returncode != 0:
                raise OcrError("The Tesseract text reader failed on this picture.")
            return out

    @staticmethod
    def _parse_tsv(tsv: str) -> list[OcrLine]:
        words: dict[tuple[str, str, str], list[tuple[str, Box, float]]] = {}
        for row in tsv.splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
                continue
            left, top, width, height = (int(v) for v in cols[6:10])
            words.setdefault((cols[2], cols[3], cols[4]), []).append(
                (cols[11].strip(), Box(left, top, left + width, top + height), float(cols[10]) / 100)
            )
        lines = []
        for items in words.values():
            # Tesseract sometimes runs a line on across a narrow column gutter: cut a line
            # where the space between two words is wider than twice the line's height.
            height = max(box.height for _, box, _ in items)
            segment = [items[0]]
            for item in items[1:]:
                if item[1].left - segment[-1][1].right > 2 * height:
                    lines.extend(TesseractEngine._line(segment))
                    segment = []
                segment.append(item)
            lines.extend(TesseractEngine._line(segment))
        return lines

    @staticmethod
    def _line(items: list[tuple[str, Box, float]]) -> list[OcrLine]:
        # A line Tesseract is unsure of as a whole is icons, borders or photo texture. In a
        # confident line, unsure words are real words with an odd box (bench: "bar to" at
        # 4 %), so only unsure words without letters or digits go.
        if not items or statistics.median(c for _, _, c in items) < 0.5:
            return []
        items = [item for item in items if item[2] >= 0.3 or _has_text(item[0])]
        items = [(clean, box, c) for word, box, c in items if (clean := _without_borders(word))]
        if not items:
            return []
        text = " ".join(word for word, _, _ in items)
        if not _has_text(text):
            return []
        box = items[0][1]
        for _, other, _ in items[1:]:
            box = box.union(other)
        return [OcrLine(text, box, sum(c for _, _, c in items) / len(items))]


class RapidOcrEngine:
    """RapidOCR's bundled PP-OCRv4 detector and recogniser (Chinese and English) on ONNX Runtime."""

    name = "rapidocr"
    # The recogniser scales every line to 48 px itself; enlarging the whole picture only
    # multiplies the detector's time.
    line_height = 0
    LANGUAGES = frozenset({"en", "zh"})

    def __init__(self, threads: int = 2) -> None:
        self._threads = threads
        self._ocr: Any = None
        self._lock = threading.Lock()

    def supports(self, language: str) -> bool:
        if language.lower() not in self.LANGUAGES:
            return False
        try:
            import rapidocr_onnxruntime  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            return False
        return True

    def _load(self) -> Any:
        if self._ocr is None:
            from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

            # No angle classifier: screen text is never upside down, and on small dark text it
            # flipped whole lines into nonsense. The detector's default enlarges every picture
            # to 736 px on its short side: on a 900x420 window that cost 6 CPU s instead of 3
            # for the same text, so it only ever shrinks, to 1920 px on the long side.
            self._ocr = RapidOCR(
                use_cls=False,
                max_side_len=2000,
                det_limit_type="max",
                det_limit_side_len=1920,
                # Blobs in photos came back as "00" at 0.73; real text scored above 0.9.
                text_score=0.8,
                intra_op_num_threads=self._threads,
                inter_op_num_threads=1,
            )
        return self._ocr

    def recognize(
        self, image: Image.Image, language: str, cancel: threading.Event | None = None
    ) -> list[OcrLine]:
        # ONNX Runtime cannot be interrupted: cancel is honoured before and after the run.
        if cancel is not None and cancel.is_set():
            raise OcrCancelled()
        if not self.supports(language):
            raise OcrError(f"The built-in text reader cannot read {LANGUAGE_NAMES.get(language, language)}.")
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        # RapidOCR keeps per-call thresholds on the instance: one call at a time.
        with self._lock:
            try:
                result, _ = self._load()(bgr, use_cls=False)
            except Exception as exc:
                raise OcrError("The built-in text reader failed on this picture.") from exc
        if cancel is not None and cancel.is_set():
            raise OcrCancelled()
        lines = []
        for points, text, score in result or []:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            if _has_text(text):
                box = Box(int(min(xs)), int(min(ys)), int(max(xs) + 0.5), int(max(ys) + 0.5))
                lines.append(OcrLine(text.strip(), box, float(score)))
        return lines


# --- preparing the picture -------------------------------------------------------------

MAX_SCALE = 3.0
MAX_PREPARED_PIXELS = 9_000_000


def estimate_line_height(gray: np.ndarray) -> float | None:
    """Median height in pixels of the bands of rows that hold text, or None if none stand out.

    Text rows are rows with many sharp left-right changes; borders and flat fills have few.
    Cheap (a few numpy passes) so it can run before every recognition.
    """
    if gray.shape[0] < 8 or gray.shape[1] < 8:
        return None
    edges = np.abs(np.diff(gray.astype(np.int16), axis=1)) > 40
    counts = edges.sum(axis=1)
    text_rows = counts > max(4, 0.01 * gray.shape[1])
    runs: list[int] = []
    length = 0
    for is_text in text_rows:
        if is_text:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    if length:
        runs.append(length)
    runs = [r for r in runs if 4 <= r <= gray.shape[0] // 2]
    return float(np.median(runs)) if runs else None


def prepare(image: Image.Image, line_height: int) -> tuple[Image.Image, float]:
    """A grey copy with dark text on light, upscaled when its text is small; and the scale."""
    gray = ImageOps.grayscale(image)
    pixels = np.asarray(gray)
    # Dark mode: both engines learned dark ink on paper.
    if float(np.median(pixels)) < 110:
        gray = ImageOps.invert(gray)
        pixels = 255 - pixels
    scale = 1.0
    height = estimate_line_height(pixels)
    if height is not None and height < line_height:
        scale = min(MAX_SCALE, line_height / height)
        scale = min(scale, (MAX_PREPARED_PIXELS / (gray.width * gray.height)) ** 0.5)
        if scale > 1.05:
            gray = gray.resize(
                (round(gray.width * scale), round(gray.height * scale)), Image.Resampling.LANCZOS
            )
        else:
            scale = 1.0
    return gray, scale


# --- choosing and running ----------------------------------------------------------------

# The orders measured by bench/ocr.py (docs/ocr.md): on screens Tesseract is more accurate
# and about ten times cheaper; in photos it misses light text on colour (a white STOP on a
# red sign) that RapidOCR's scene-text detector finds.
ENGINE_ORDER: tuple[type[TesseractEngine | RapidOcrEngine], ...] = (TesseractEngine, RapidOcrEngine)
PHOTO_ENGINE_ORDER: tuple[type[TesseractEngine | RapidOcrEngine], ...] = (
    RapidOcrEngine,
    TesseractEngine,
)
_engines: dict[str, OcrEngine] = {}
_engines_lock = threading.Lock()


def get_engine(name: str) -> OcrEngine:
    """The shared instance of an engine by name ("tesseract" or "rapidocr"), created once."""
    with _engines_lock:
        if name not in _engines:
            for cls in ENGINE_ORDER:
                if cls.name == name:
                    _engines[name] = cls()
                    break
            else:
                raise ValueError(f"Unknown OCR engine {name!r}.")
        return _engines[name]


def choose_engine(language: str = "en", photo: bool = False) -> OcrEngine:
    """The first engine, in the order measured for screens (or photos), that can read
    `language` here; raises OcrError."""
    for cls in PHOTO_ENGINE_ORDER if photo else ENGINE_ORDER:
        engine = get_engine(cls.name)
        if engine.supports(language):
            return engine
    name = LANGUAGE_NAMES.get(language.lower(), language)
    code = TESSERACT_LANGUAGES.get(language.lower())
    hint = f" Install the Tesseract language pack tesseract-ocr-{code.replace('_', '-')}." if code else ""
    raise OcrError(f"Lookaloud cannot read {name} text on this computer yet.{hint}")


def read_text(
    image: Image.Image, language: str = "en", engine: str | None = None, cancel: threading.Event | None = None
) -> OcrResult:
    """The text in `image` in reading order. Runs off the GUI thread; blocks for about a second.

    `engine` forces "tesseract" or "rapidocr"; by default the engine measured best for this
    kind of picture (screen or photo) that can read `language` is used. Raises OcrError with
    a sentence for the user, or OcrCancelled soon after `cancel` is set (a new request came).
    """
    from desktop_app.ocr.kind import looks_rendered
    from desktop_app.ocr.layout import order_lines

    language = language.lower()
    started = time.perf_counter()
    chosen = get_engine(engine) if engine else choose_engine(language, photo=not looks_rendered(image))
    prepared, scale = prepare(image, chosen.line_height)
    t_prepared = time.perf_counter()
    lines = chosen.recognize(prepared, language, cancel)
    t_recognized = time.perf_counter()
    if scale != 1.0:
        lines = [
            OcrLine(
                line.text,
                Box(*(round(v / scale) for v in line.box.to_list())),
                line.confidence,
            )
            for line in lines
        ]
    blocks = order_lines(lines)
    finished = time.perf_counter()
    return OcrResult(
        blocks=blocks,
        engine=chosen.name,
        language=language,
        image_size=image.size,
        seconds={
            "prepare": t_prepared - started,
            "recognize": t_recognized - t_prepared,
            "layout": finished - t_recognized,
            "total": finished - started,
        },
        scale=scale,
    )
