#!/usr/bin/env bash
# Builds Lookaloud for Linux from this checkout: the PyInstaller one-folder bundle
# (dist/lookaloud/, run dist/lookaloud/lookaloud) and, from it, the Debian package
# dist/lookaloud_VERSION_amd64.deb (packaging/linux/build-deb.sh).
#
#   bash packaging/build-linux.sh               # bundle and .deb
#   bash packaging/build-linux.sh --bundle-only # just the bundle
#
# Needs a Python environment with Lookaloud's dependencies and PyInstaller: `bash
# packaging/setup.sh` makes one in .venv (PYTHON=... picks another), and dpkg-deb and
# fakeroot for the package. OUT=folder puts dist/ and build/ elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
OUT=${OUT:-$ROOT}
BUNDLE_ONLY=0
[ "${1:-}" = "--bundle-only" ] && BUNDLE_ONLY=1

if ! "$PY" -c 'import PyInstaller' 2>/dev/null; then
  echo "PyInstaller is not installed in $PY; run: $PY -m pip install -e '.[dev]'" >&2
  exit 1
fi

start=$(date +%s)
# PYTHONPATH first: the bundle must hold this checkout's desktop_app, whatever copy of
# Lookaloud the environment has installed.
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$OUT/dist" --workpath "$OUT/build/pyinstaller" packaging/lookaloud.spec
bundle="$OUT/dist/lookaloud"
# Byte-code caches written while PyInstaller's hooks imported modules are not needed.
find "$bundle" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "Bundle: $bundle ($(du -sh "$bundle" | cut -f1) on disk, built in $(( $(date +%s) - start )) s)"

if [ "$BUNDLE_ONLY" -eq 0 ]; then
  bash packaging/linux/build-deb.sh "$bundle" "$OUT/dist"
fi
