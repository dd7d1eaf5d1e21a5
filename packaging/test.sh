#!/usr/bin/env bash
# Runs every test: on its own D-Bus session bus (for AT-SPI and the screen-reader stand-ins);
# the tests start their own Xvfb displays and window managers.
set -euo pipefail
cd "$(dirname "$0")/.."
exec dbus-run-session -- .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
