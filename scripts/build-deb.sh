#!/bin/sh
# Builds the Debian package slomo_<version>_amd64.deb: slomo, slomod and slomoctl (one binary by
# three names) linked with the static Swift standard library (a capture box needs no toolchain),
# the systemd unit, the sysusers entry, the configuration as conffiles under /etc/slomod, man
# pages, completions and docs, as scripts/install.sh lays them out under /usr. Depends comes from dpkg-shlibdeps; lintian checks
# the result and any error fails the build. The package's path is the last line printed.
#
#   scripts/build-deb.sh [OUTDIR]      # OUTDIR defaults to dist/
#
# SCRATCH (the SwiftPM scratch path, .build-release) and SKIP_BUILD=1 pass through to install.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
. "$here/apt.sh"
# What the build needs (Vulkan headers, glslc, FFmpeg's libraries), then the packaging tools.
"$here/setup.sh"
slomo_apt_install dpkg-dev lintian binutils
outdir=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
version=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/SloMoCore/Version.swift)
[ -n "$version" ] || { echo "build-deb: no version in Sources/SloMoCore/Version.swift" >&2; exit 1; }
arch=$(dpkg --print-architecture)
maintainer="slomo developers <slomo@users.noreply.github.com>"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/slomo
PREFIX=/usr DESTDIR=$stage SYSCONFDIR=/etc "$here/install.sh" > "$work/install.log" ||
    { cat "$work/install.log" >&2; echo "build-deb: install.sh failed" >&2; exit 1; }

# The package's version is the binaries' own.
for tool in slomo slomod slomoctl; do
    reported=$("$stage/usr/bin/$tool" --version)
    [ "$reported" = "$version" ] ||
        { echo "build-deb: $tool --version says '$reported', Version.swift says '$version'" >&2; exit 1; }
done

# Debian's layout: stripped binaries, compressed manual pages, the changelog and copyright.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/slomo"
gzip -9n "$stage"/usr/share/man/man*/*
docdir=$stage/usr/share/doc/slomo
date=$(date -R -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
cat > "$work/changelog" <<EOF
slomo ($version) bookworm; urgency=medium

  * Release $version: see README.md for what it does, BENCHMARKS.md for its
    figures.

 -- $maintainer  $date
EOF
gzip -9n < "$work/changelog" > "$docdir/changelog.gz"
cat > "$docdir/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: slomo

Files: *
Copyright: 2026 the slomo developers
License: Apache-2.0

Files: usr/bin/*
Copyright: Apple Inc. and the Swift project authors
License: Apache-2.0
Comment: the Swift standard library, Foundation, swift-argument-parser and swift-log are linked
 in statically; Apache-2.0 with the Runtime Library Exception.

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
chmod 0644 "$docdir/changelog.gz" "$docdir/copyright"

install -d "$stage/DEBIAN"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
find "$stage/etc" -type f | sed "s|^$stage||" | sort > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # The group whose members may use slomoctl (control.group = "slomo").
    if command -v systemd-sysusers > /dev/null; then
        systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} slomo.conf
    elif ! getent group slomo > /dev/null; then
        groupadd --system slomo
    fi
fi
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload > /dev/null || true
fi
EOF
cat > "$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload > /dev/null || true
fi
EOF
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"

# Depends: the libraries as dpkg-shlibdeps finds them, a Vulkan driver (lavapipe at least), and
# procps for the unit's ExecReload=/bin/kill (as openssh-server does).
# dpkg-shlibdeps reads a source package's debian/control: give it a minimal one.
mkdir -p "$work/src/debian"
printf 'Source: slomo\n\nPackage: slomo\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e"$stage/usr/bin/slomo" |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no libraries" >&2; exit 1; }
cat > "$stage/DEBIAN/control" <<EOF
Package: slomo
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $shlibs, mesa-vulkan-drivers | vulkan-icd, procps
Suggests: v4l2loopback-dkms, ffmpeg
Section: video
Priority: optional
Description: real-time frame-rate upconverter for cameras and video files
 slomo synthesises the frames between a video's frames on Vulkan compute
 shaders (optical flow both ways, backward warps and visibility-weighted
 fusion after Super SloMo, or the RIFE networks), on any Vulkan device,
 lavapipe's CPU included.
 .
 slomod captures a V4L2 camera or capture card and delivers the faster
 stream to a v4l2loopback device or a DRM/KMS display within a bounded
 latency, one systemd instance per camera (slomod@NAME.service reads
 /etc/slomod/NAME.toml), steered live with slomoctl. slomo converts files.
EOF

deb=$outdir/slomo_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" > /dev/null
echo "build-deb: lintian $deb"
lintian --fail-on error --tag-display-limit 0 "$deb" || { echo "build-deb: lintian reports errors" >&2; exit 1; }
echo "build-deb: $(du -h "$deb" | cut -f1), Depends: $(dpkg-deb -f "$deb" Depends)"
echo "$deb"
