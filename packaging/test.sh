#!/usr/bin/env bash
# Runs every test: on its own D-Bus session bus (for AT-SPI and the screen-reader stand-ins);
# the tests start their own Xvfb displays, window managers and accessibility bus.
set -euo pipefail
cd "$(dirname "$0")/.."
# Desktop services started on the session bus complain when the test display goes away after
# the last test; that line would otherwise stand after pytest's summary.
dbus-run-session -- .venv/bin/python -m pytest -q -p no:cacheprovider "$@" 2>&1 \
  | grep -v --line-buffered -E '^X connection to .* broken|Failed to set fd limit'
