"""Running exiftool: the one place Lookaloud reads and writes XMP metadata.

Lookaloud writes no XMP by hand: the IPTC Photo Metadata 2021 properties "Alt Text
(Accessibility)" (`Iptc4xmpCore:AltTextAccessibility`) and "Extended Description
(Accessibility)" (`Iptc4xmpCore:ExtDescrAccessibility`), both language alternatives whose
x-default we write, go through exiftool (Debian `libimage-exiftool-perl`; the two tags exist
from exiftool 12.33, which `check()` proves by asking exiftool for them, not by its number).

exiftool runs from argument lists, never a shell, with `-charset filename=utf8`; file names
are always absolute (they start with "/", so a file called `-foo.jpg` can never be read as an
option) and, when exiftool is started for one command, follow `--` as well. Values travel as
UTF-8 bytes whatever the locale. Starting exiftool (Perl) costs 0.1-0.5 s, three to four times
a picture, so one exiftool is kept open (`-stay_open True -@ -`) and given each command on its
standard input, every argument one `#[CSTR]` line (C escapes: a newline in a value or a file
name cannot end the argument); `--` cannot be used there, as it would swallow the following
`-execute`. If that exiftool cannot be started or stops, each command starts exiftool anew.

exiftool runs in a session of its own, so the terminal's Ctrl+C reaches only Lookaloud, which
then kills exiftool (KeyboardInterrupt passes on) and removes what it was writing (see
writing.py). Every call blocks until exiftool answers (at most TIMEOUT_S).
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import subprocess
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Self

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


@dataclass(frozen=True)
class _Result:
    returncode: int
    stdout: bytes
    stderr: bytes


def _cstr(arg: bytes) -> bytes:
    """One argument as a line of exiftool's argument file, in its C-string form."""
    return b"#[CSTR]" + arg.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r") + b"\n"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


class _KeptOpen:
    """One exiftool kept running, taking commands on its standard input."""

    def __init__(self, program: str) -> None:
        self.proc = subprocess.Popen([program, "-stay_open", "True", "-@", "-"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.count = 0
        self.mark = secrets.token_hex(4)
        self._finalizer = weakref.finalize(self, _kill, self.proc)

    def run(self, args: list[bytes], timeout: float) -> _Result:
        """Run one command; raises TimeoutError, OSError (exiftool went away) and lets
        KeyboardInterrupt through after killing exiftool."""
        self.count += 1
        done = f"{{done-{self.mark}-{self.count} ${{status}}}}".encode()
        ready, status_start = b"{ready%d}\n" % self.count, f"{{done-{self.mark}-{self.count} ".encode()
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        try:
            self.proc.stdin.write(b"".join(_cstr(a) for a in args) + b"-echo4\n" + done + b"\n"
                                  + b"-execute%d\n" % self.count)
            self.proc.stdin.flush()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout
            with selectors.DefaultSelector() as selector:
                selector.register(self.proc.stdout, selectors.EVENT_READ, out)
                selector.register(self.proc.stderr, selectors.EVENT_READ, err)
                while not (out.endswith(ready) and err.rstrip(b"\n").endswith(b"}") and status_start in err):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    for key, _ in selector.select(left):
                        chunk = os.read(key.fd, 65536)
                        if not chunk:
                            raise OSError("exiftool stopped")
                        key.data.extend(chunk)
        except BaseException:
            self.close(kill=True)
            raise
        at = err.rindex(status_start)
        status_text = err[at + len(status_start):].strip().rstrip(b"}")
        return _Result(int(status_text) if status_text.isdigit() else 1, bytes(out[: -len(ready)]), bytes(err[:at]))

    def close(self, kill: bool = False) -> None:
        if self.proc.poll() is None and not kill:
            try:
                assert self.proc.stdin
                self.proc.stdin.write(b"-stay_open\nFalse\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        _kill(self.proc)


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
        self._kept: _KeptOpen | None = None
        self._keep_open = True  # until a kept-open exiftool fails once

    def close(self) -> None:
        """Stop the exiftool kept open (it is also stopped when this object goes)."""
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def _run(self, args: list[bytes | str | Path], *, what: str) -> _Result:
        encoded = [_arg(a) if isinstance(a, (str, Path)) else a for a in (*_BASE, *args)]
        if self._keep_open:
            try:
                if self._kept is None:
                    self._kept = _KeptOpen(self.program)
                return self._kept.run([a for a in encoded if a != b"--"], TIMEOUT_S)
            except TimeoutError as exc:
                self._kept = None
                raise ExiftoolError(f"exiftool took more than {TIMEOUT_S:.0f} seconds {what} and was stopped.") from exc
            except (OSError, ValueError):
                self._kept, self._keep_open = None, False  # from now on, one exiftool per command
            except BaseException:  # Ctrl+C: that exiftool was killed; a later command starts another
                self._kept = None
                raise
        command = [_arg(self.program), *encoded]
        try:
            done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S,
                                  check=False, start_new_session=True)
            return _Result(done.returncode, done.stdout, done.stderr)
        except FileNotFoundError as exc:
            raise ExiftoolMissingError(
                "Lookaloud needs exiftool to write alt text, and it is not installed. " + INSTALL_HINT) from exc
        except subprocess.TimeoutExpired as exc:
            raise ExiftoolError(f"exiftool took more than {TIMEOUT_S:.0f} seconds {what} and was stopped.") from exc
        except OSError as exc:
            raise ExiftoolError(f"exiftool could not be started: {exc.strerror or exc}.") from exc

    def check(self) -> None:
        """Raise ExiftoolMissingError unless this exiftool runs and knows both properties."""
        keep_open, self._keep_open = self._keep_open, False  # an old or broken exiftool: one try each
        try:
            result = self._run(["-ver"], what="to say its version")
            listed = self._run(["-listw", "-XMP-iptcCore:all"], what="to list its tags").stdout.decode("utf-8", "replace")
        finally:
            self._keep_open = keep_open
        self.version = result.stdout.decode("utf-8", "replace").strip()
        if result.returncode != 0 or not self.version:
            raise ExiftoolMissingError(f"exiftool at {self.program} does not run. " + INSTALL_HINT)
        names = set(listed.split())
        if _ALT_NAME not in names or _EXT_NAME not in names:
            raise ExiftoolMissingError(
                f"exiftool {self.version} is too old to write alt text: it does not know the IPTC "
                "accessibility properties, which need exiftool 12.33 or later.")

    def read(self, path: Path) -> AltText:
        """The accessibility properties in `path` (a picture or an .xmp sidecar)."""
        result = self._run(["-j", "-XMP-iptcCore:all", "--", _absolute(path)], what=f"to read {path.name}")
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
        args: list[bytes | str | Path] = ["-q", "-o", _absolute(output), f"-{ALT_TEXT_TAG}={clean_value(alt_text)}",
                                          f"-{EXTENDED_TAG}={clean_value(extended)}"]
        if source is not None:
            args += ["--", _absolute(source)]
        result = self._run(args, what=f"to write {output.name}")
        if result.returncode != 0 or not output.is_file():
            name = (source or output).name
            message = _first_line(result.stderr.decode("utf-8", "replace")) or "it gave no reason"
            if source is not None and ("Can't write" in message or "not supported" in message):
                raise CannotHoldMetadataError(
                    f"The file {name} cannot hold alt text inside it (exiftool says: {message}); "
                    "write a sidecar for it instead, with --write sidecar.")
            raise ExiftoolError(f"exiftool could not write alt text for the file {name}: {message}.")


def _absolute(path: Path) -> Path:
    """`path` from the root: it starts with "/" and so can never look like an option."""
    return Path(os.path.abspath(path))


def _lang_alt(found: dict[str, object], name: str) -> str:
    """The x-default value of a lang-alt tag in exiftool's JSON, else its first language."""
    value = found.get(name)
    if value is None:
        others = sorted(k for k in found if k.startswith(name + "-"))
        value = found[others[0]] if others else ""
    return str(value) if not isinstance(value, list) else " ".join(str(v) for v in value)
