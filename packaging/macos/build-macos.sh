#!/usr/bin/env bash
# Builds Lookaloud for macOS from this checkout: dist/Lookaloud.app (PyInstaller), signed with
# the entitlements beside this script, and dist/Lookaloud-VERSION.dmg (hdiutil) with the app and
# a link to /Applications to drag it onto.
#   bash packaging/macos/build-macos.sh
# MACOS_SIGN_IDENTITY="Developer ID Application: ..." signs for distribution (then notarize the
# .dmg with `xcrun notarytool submit`); without it the app is signed ad hoc, which runs on the
# machine that built it and, after the user allows it, elsewhere.
# Not run on the project's Linux machines: the GitHub Actions workflow runs it on macos-latest.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)

LOOKALOUD_VERSION="$VERSION" PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m PyInstaller --noconfirm --clean \
  --log-level WARN --distpath dist --workpath build/pyinstaller packaging/lookaloud.spec
APP=dist/Lookaloud.app
[ -d "$APP" ] || { echo "PyInstaller made no $APP" >&2; exit 1; }

# The hardened runtime with the entitlements (microphone; libraries and run-time code for Python).
codesign --force --deep --timestamp=none --options runtime \
  --entitlements packaging/macos/entitlements.plist --sign "${MACOS_SIGN_IDENTITY:--}" "$APP"
codesign --verify --deep --strict "$APP"
echo "App: $APP ($(du -sh "$APP" | cut -f1))"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG="dist/Lookaloud-$VERSION.dmg"
rm -f "$DMG"
hdiutil create -volname "Lookaloud $VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
echo "Disk image: $DMG ($(du -h "$DMG" | cut -f1))"
