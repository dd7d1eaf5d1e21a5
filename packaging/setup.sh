#!/usr/bin/env bash
# Sets up Lookaloud on a fresh Debian/Ubuntu machine: system packages, then a virtual
# environment in .venv with the CPU build of torch (install a CUDA build yourself for a GPU,
# see README), then Lookaloud itself with its test tools. binutils (objdump) is for PyInstaller;
# speech-dispatcher is a dependency of the Debian package that tests/test_installers.py installs;
# libimage-exiftool-perl (exiftool) writes the alt text of `lookaloud alt-text`.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    python3-venv python3-dev xvfb xdotool openbox x11-utils espeak-ng libespeak-ng1 alsa-utils sox \
    at-spi2-core python3-pyatspi gir1.2-atspi-2.0 dbus dbus-x11 \
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 \
    libxcb-shape0 libxcb-render-util0 libxcb-image0 libgl1 libegl1 libfontconfig1 libdbus-1-3 \
    libportaudio2 imagemagick tesseract-ocr fonts-dejavu-core pulseaudio pulseaudio-utils \
    binutils orca speech-dispatcher speech-dispatcher-espeak-ng libimage-exiftool-perl
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: the CPU build; an unpinned torch pulled by another package is a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
echo "Lookaloud is set up in $(pwd)/.venv"
