"""Where Lookaloud keeps its files: platform config, cache and data folders (platformdirs).

Nothing here runs at import time; every location is computed when asked, so tests that
point XDG_* elsewhere get their own folders.
"""

from __future__ import annotations

import os
import sys
import warnings
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
    """Where this user's session keeps the app's socket and lock: $XDG_RUNTIME_DIR/lookaloud
    where XDG_RUNTIME_DIR is set, else the platform's per-user runtime folder; the cache
    folder where the platform has none. A location only: desktop_app.ipc checks that it is
    private before it uses it, and falls back to a private folder of its own."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if xdg and sys.platform != "win32":
        return Path(xdg) / APP_NAME
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # recent platformdirs warn about a missing XDG_RUNTIME_DIR
            return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
    except Exception:  # noqa: BLE001 - some platforms have no runtime dir
        return cache_dir()


def resource(*parts: str) -> Path:
    return RESOURCES_DIR.joinpath(*parts)
