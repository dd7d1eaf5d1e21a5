"""Running exiftool: the one place Lookaloud reads and writes XMP metadata.

Lookaloud writes no XMP by hand: the IPTC Photo Metadata 2021 properties "Alt Text
(Accessibility)" (`Iptc4xmpCore:AltTextAccessibility`) and "Extended Description
(Accessibility)" (`Iptc4xmpCore:ExtDescrAccessibility`), both language alternatives whose
x-default we write, go through exiftool (Debian `libimage-exiftool-perl`; the two tags exist
from exiftool 12.33, which `check()` proves by asking exiftool for them, not by its number).

exiftool always runs from an argument list, never a shell, with `-charset filename=utf8` and
`--` before the file name, so a file called `-foo.jpg` is a file and not an option. Values
travel as UTF-8 bytes whatever the locale. exiftool runs in a session of its own, so the
terminal's Ctrl+C reaches only Lookaloud, which then stops exiftool and removes what it was
writing (see writing.py). Every call blocks until exiftool ends (at most TIMEOUT_S).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ALT_TEXT_TAG = "XMP-iptcCore:AltTextAccessibility"
EXTENDED_TAG = "XMP-iptcCore:ExtDescrAccessibility"
# What exiftool calls the two properties when it lists them; lang-alt variants end in "-fr" etc.
_ALT_NAME = "AltTextAccessibility"
_EXT_NAME = "ExtDescrAccessibility"
TIMEOUT_S = 120.0  # a 256 MB TIFF is rewritten in a few seconds; more means exiftool hangs
_BASE = ["-charset", "filename=utf8", "-charset", "utf8"]
INSTALL_HINT = "On Debian or Ubuntu: sudo apt-get install libimage-exiftool-perl."


class ExiftoolError(RuntimeError):
    """exiftool could not do what was asked; str() is one sentence for the user."""


class ExiftoolMissingError(ExiftoolError):
    """No usable exiftool: not installed, or too old to know the accessibility properties."""


class CannotHoldMetadataError(ExiftoolError):
    """The file's format cannot carry XMP that exiftool writes (BMP, some WebP); str() says so."""


@dataclass(frozen=True)
class AltText:
    """The accessibility properties found in one file ("" where a property is absent)."""

    alt_text: str = ""  # x-default, or the first language found when there is no x-default
    extended: str = ""

    @property
    def present(self) -> bool:
        return bool(self.alt_text.strip())


def _arg(value: str | Path) -> bytes:
    """An argument as bytes: paths as the file system spells them, text as UTF-8."""
    if isinstance(value, Path):
        return os.fsencode(value)
    return value.encode("utf-8", "surrogateescape")


def clean_value(text: str) -> str:
    """A property value exiftool can carry and give back unchanged: no control characters
    except newlines (a NUL cannot be an argument at all), no carriage returns, no outer space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c == "\n" or c == "\t" or ord(c) >= 32 and ord(c) != 127)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.rstrip(".") if not line.endswith("...") else line
    return ""


class Exiftool:
    """One exiftool program. `find()` gives the one on PATH; `check()` proves it knows the tags."""

    def __init__(self, program: str | Path) -> None:
        self.program = str(program)
        self.version = ""

    @classmethod
    def find(cls, path: str | None = None) -> Exiftool:
        """The exiftool on `path` (default: PATH), checked; raises ExiftoolMissingError."""
        program = shutil.which("exiftool", path=path)
        if not program:
            raise ExiftoolMissingError(
                "Lookaloud needs exiftool to write alt text, and it is not installed. " + INSTALL_HINT)
        tool = cls(program)
        tool.check()
        return tool

    def _run(self, args: list[bytes | str | Path], *, what: str) -> subprocess.CompletedProcess[bytes]:
        command = [_arg(self.program), *(_arg(a) if isinstance(a, (str, Path)) else a for a in (*_BASE, *args))]
        try:
            return subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S,
                                  check=False, start_new_session=True)
        except FileNotFoundError as exc:
            raise ExiftoolMissingError(
                "Lookaloud needs exiftool to write alt text, and it is not installed. " + INSTALL_HINT) from exc
        except subprocess.TimeoutExpired as exc:
            raise ExiftoolError(f"exiftool took more than {TIMEOUT_S:.0f} seconds {what} and was stopped.") from exc
        except OSError as exc:
            raise ExiftoolError(f"exiftool could not be started: {exc.strerror or exc}.") from exc

    def check(self) -> None:
        """Raise ExiftoolMissingError unless this exiftool runs and knows both properties."""
        result = self._run(["-ver"], what="to say its version")
        self.version = result.stdout.decode("utf-8", "replace").strip()
        if result.returncode != 0 or not self.version:
            raise ExiftoolMissingError(f"exiftool at {self.program} does not run. " + INSTALL_HINT)
        listed = self._run(["-listw", "-XMP-iptcCore:all"], what="to list its tags").stdout.decode("utf-8", "replace")
        names = set(listed.split())
        if _ALT_NAME not in names or _EXT_NAME not in names:
            raise ExiftoolMissingError(
                f"exiftool {self.version} is too old to write alt text: it does not know the IPTC "
                "accessibility properties, which need exiftool 12.33 or later.")

    def read(self, path: Path) -> AltText:
        """The accessibility properties in `path` (a picture or an .xmp sidecar)."""
        result = self._run(["-j", "-XMP-iptcCore:all", "--", path], what=f"to read {path.name}")
        if result.returncode != 0:
            message = _first_line(result.stderr.decode("utf-8", "replace"))
            raise ExiftoolError(f"exiftool could not read the file {path.name}: {message}.")
        try:
            # Numbers stay text: "1.50" must come back as written, not as 1.5.
            found = json.loads(result.stdout.decode("utf-8", "replace"), parse_float=str, parse_int=str)[0]
        except (ValueError, IndexError, KeyError) as exc:
            raise ExiftoolError(f"exiftool gave an answer about the file {path.name} that Lookaloud cannot read.") from exc
        return AltText(_lang_alt(found, _ALT_NAME), _lang_alt(found, _EXT_NAME))

    def write(self, source: Path | None, output: Path, alt_text: str, extended: str) -> None:
        """Write `output` (which must not exist): `source` with the two properties set, or,
        with no source, a new XMP file holding only them. An empty `extended` removes that
        property. The x-default language is written; other languages are left as they are."""
        args: list[bytes | str | Path] = ["-o", output, f"-{ALT_TEXT_TAG}={clean_value(alt_text)}",
                                          f"-{EXTENDED_TAG}={clean_value(extended)}"]
        if source is not None:
            args += ["--", source]
        result = self._run(args, what=f"to write {output.name}")
        if result.returncode != 0 or not output.is_file():
            name = (source or output).name
            message = _first_line(result.stderr.decode("utf-8", "replace")) or "it gave no reason"
            if source is not None and ("Can't write" in message or "not supported" in message):
                raise CannotHoldMetadataError(
                    f"The file {name} cannot hold alt text inside it (exiftool says: {message}); "
                    "write a sidecar for it instead, with --write sidecar.")
            raise ExiftoolError(f"exiftool could not write alt text for the file {name}: {message}.")


def _lang_alt(found: dict[str, object], name: str) -> str:
    """The x-default value of a lang-alt tag in exiftool's JSON, else its first language."""
    value = found.get(name)
    if value is None:
        others = sorted(k for k in found if k.startswith(name + "-"))
        value = found[others[0]] if others else ""
    return str(value) if not isinstance(value, list) else " ".join(str(v) for v in value)
