"""The Tesseract engine: the system `tesseract` command (a PNG file in, TSV out; no
pytesseract), big pictures read as parallel strips, and the TSV turned into clean lines.

Chosen first for screens: on generated screenshots it was both faster and more accurate here
(see docs/ocr.md), and it keeps the spaces between words. Calls are serialised by a lock.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.ocr.engines.protocol import LANGUAGE_NAMES, has_text
from desktop_app.ocr.types import Box, OcrCancelled, OcrError, OcrLine
from desktop_app.private_files import private_folder

# ISO 639-1 -> Tesseract traineddata names for the languages users are most likely to set.
TESSERACT_LANGUAGES = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld",
    "sv": "swe", "da": "dan", "nb": "nor", "fi": "fin", "pl": "pol", "cs": "ces", "hu": "hun",
    "ru": "rus", "uk": "ukr", "el": "ell", "tr": "tur", "ar": "ara", "he": "heb", "hi": "hin",
    "ja": "jpn", "ko": "kor", "zh": "chi_sim", "zh-tw": "chi_tra", "vi": "vie",
}  # fmt: skip


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
        # The picture goes through the private folder, not stdin (a pipe would need a writer
        # thread to stay cancellable while Tesseract reads it) and not a shared temporary
        # folder: a strip of the user's screen must not outlive a crash there.
        folder = private_folder()
        files: list[Path] = []
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for top, bottom in strips:
                data = io.BytesIO()
                image.crop((0, top, image.width, bottom)).save(data, format="PNG", compress_level=1)
                files.append(folder.new_file(".png", data.getvalue()))
                args = [str(self._command), str(files[-1]), "stdout", "-l", code, "--psm", "3", "tsv"]
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
            for path in files:
                folder.release(path)
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
        items = [item for item in items if item[2] >= 0.3 or has_text(item[0])]
        items = [(clean, box, c) for word, box, c in items if (clean := _without_borders(word))]
        if not items:
            return []
        text = " ".join(word for word, _, _ in items)
        if not has_text(text):
            return []
        box = items[0][1]
        for _, other, _ in items[1:]:
            box = box.union(other)
        return [OcrLine(text, box, sum(c for _, _, c in items) / len(items))]
