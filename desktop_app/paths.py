"""Where Lookaloud keeps its files: platform config, cache and data folders (platformdirs).

Nothing here runs at import time; every location is computed when asked, so tests that
point XDG_* elsewhere get their own folders.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "lookaloud"

PACKAGE_DIR = Path(__file__).resolve().parent
# resources/ sits beside the package in a source checkout; packaged builds copy it inside.
RESOURCES_DIR = next(
    (p for p in (PACKAGE_DIR / "resources", PACKAGE_DIR.parent / "resources") if p.is_dir()),
    PACKAGE_DIR.parent / "resources",
)


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def runtime_dir() -> Path:
    """A private per-user folder for sockets; falls back to the cache folder."""
    try:
        return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
    except Exception:  # noqa: BLE001 - some platforms have no runtime dir
        return cache_dir()


def resource(*parts: str) -> Path:
    return RESOURCES_DIR.joinpath(*parts)
