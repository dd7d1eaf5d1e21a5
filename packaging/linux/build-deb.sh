#!/usr/bin/env bash
# Builds lookaloud_VERSION_ARCH.deb from a PyInstaller bundle (packaging/build-linux.sh makes one):
#   bash packaging/linux/build-deb.sh BUNDLE_FOLDER [OUTPUT_FOLDER]
#
# The package puts the bundle in /opt/lookaloud, the command in /usr/bin/lookaloud, the menu
# entry in /usr/share/applications and the icon in the hicolor theme; it declares the Debian
# packages the bundle calls or loads from the system. It starts nothing at login: the app's
# setting "Start Lookaloud when I log in" writes the user's autostart entry.
# DEB_COMPRESSION=xz|zstd|gzip picks the compressor (zstd by default: fast on 1.4 GB, and dpkg
# reads it since Debian 12 and Ubuntu 21.10; xz or gzip for older systems). DEB_MAINTAINER sets the
# Maintainer field.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUNDLE=$(cd "${1:?usage: build-deb.sh BUNDLE_FOLDER [OUTPUT_FOLDER]}" && pwd)
OUTPUT=${2:-$ROOT/dist}
[ -x "$BUNDLE/lookaloud" ] || { echo "No lookaloud program in $BUNDLE: build the bundle first." >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "dpkg-deb is missing: apt-get install dpkg" >&2; exit 1; }

VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)
ARCH=$(dpkg --print-architecture)
mkdir -p "$OUTPUT"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/lookaloud-deb.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

install -d "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/icons/hicolor/scalable/apps" "$STAGE/usr/share/doc/lookaloud" "$STAGE/DEBIAN"
# Hard links where the stage and the bundle share a file system: 1.4 GB not copied. Nothing
# below changes a file in place (the prerm and links are new files), so the bundle stays as it was.
cp -al "$BUNDLE" "$STAGE/opt/lookaloud" 2>/dev/null || { rm -rf "$STAGE/opt/lookaloud"; cp -a "$BUNDLE" "$STAGE/opt/lookaloud"; }
find "$STAGE/opt/lookaloud" -name __pycache__ -type d -prune -exec rm -rf {} +
# A symlink, so the frozen program still finds its folder (PyInstaller resolves /proc/self/exe).
ln -s /opt/lookaloud/lookaloud "$STAGE/usr/bin/lookaloud"
install -m 644 packaging/lookaloud.desktop "$STAGE/usr/share/applications/lookaloud.desktop"
install -m 644 resources/icons/lookaloud.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/lookaloud.svg"
cat > "$STAGE/usr/share/doc/lookaloud/copyright" <<'COPYRIGHT'
Lookaloud is released under the MIT licence. The bundle in /opt/lookaloud also holds the
Python packages it runs on (torch, transformers, PySide6 with Qt under the LGPL, and others),
each under its own licence; their metadata lies beside them in /opt/lookaloud/_internal.
COPYRIGHT

# Python writes byte-code caches beside any module it imports from a file; a run as root
# could leave some in /opt/lookaloud, which would keep dpkg from removing the folder.
cat > "$STAGE/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /opt/lookaloud ]; then
  find /opt/lookaloud -name __pycache__ -type d -prune -exec rm -rf {} +
fi
exit 0
PRERM
chmod 755 "$STAGE/DEBIAN/prerm"

INSTALLED_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
# The bundle carries the build machine's libraries: it needs at least the glibc they were
# linked against, the newest GLIBC_ symbol version any of its programs or libraries asks for.
GLIBC=2.31
if command -v objdump >/dev/null; then
  GLIBC=$(find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -print0 | xargs -0 objdump -p 2>/dev/null \
    | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1) || true  # objdump skips scripts
fi
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: lookaloud
Version: $VERSION
Architecture: $ARCH
Maintainer: ${DEB_MAINTAINER:-Lookaloud developers <lookaloud@invalid.invalid>}
Installed-Size: $INSTALLED_KB
Section: utils
Priority: optional
Depends: libc6 (>= ${GLIBC:-2.31}), espeak-ng, tesseract-ocr, libportaudio2, speech-dispatcher, at-spi2-core,
 libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-render-util0, libxcb-randr0,
 libxcb-shape0, libxcb-xinerama0, libxcb-xkb1, libxkbcommon-x11-0, libxkbcommon0, libx11-xcb1,
 libgl1, libegl1, libfontconfig1, libdbus-1-3
Recommends: alsa-utils | pulseaudio-utils | pipewire-bin, orca
Description: describes the screen aloud and answers questions about it, offline
 Lookaloud is a companion for screen-reader users: a hotkey captures the screen, a
 window or a region, a vision model of the BLIP-2 family describes it on this
 computer, and Lookaloud speaks the description and answers spoken questions.
 Nothing leaves the machine. The package carries the CPU build of torch, the
 small demo model and the Whisper tiny.en speech model; larger describers are
 downloaded from the app.
CONTROL

DEB="$OUTPUT/lookaloud_${VERSION}_${ARCH}.deb"
start=$(date +%s)
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-zstd}" --build "$STAGE" "$DEB" >/dev/null
echo "Debian package: $DEB ($(du -h "$DEB" | cut -f1), installs $(( INSTALLED_KB / 1024 )) MiB, packed in $(( $(date +%s) - start )) s)"
