#!/bin/sh
# Installs what the kernel-driver tests need: a Debian kernel to boot under QEMU (virtme-ng),
# v4l2loopback built for it by dkms, and the real consumers the tests read the devices with.
# Idempotent and non-interactive; CI calls it before `swift test`.
set -eu
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
packages="qemu-system-x86 busybox-static linux-image-amd64 linux-headers-amd64 v4l2loopback-dkms
v4l-utils libdrm-tests ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-good python3-pip"
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    echo "vm-deps: installing$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi
# The newest Debian kernel installed is the one the tests boot; dkms must have built for it.
kver=$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -1)
if ! find "/lib/modules/$kver" -name 'v4l2loopback.ko*' | grep -q .; then
    echo "vm-deps: building v4l2loopback for $kver"
    $sudo dkms autoinstall -k "$kver"
fi
# v4l2loopback 0.13, whose rules are stricter than 0.12's (STREAMON only on the handle that called
# REQBUFS), built for the same kernel from Debian's bookworm-backports source into a cache the
# guest loads it from after testing Debian 12's own 0.12. The system's apt sources stay as they are.
v013=0.13.2
ko013="/var/cache/slomo-vm/v4l2loopback-$v013/$kver/v4l2loopback.ko"
if [ ! -e "$ko013" ]; then
    echo "vm-deps: building v4l2loopback $v013 for $kver"
    work=$(mktemp -d)
    mkdir -p "$work/lists/partial"
    echo "deb http://deb.debian.org/debian bookworm-backports main" > "$work/sources.list"
    set -- -o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$work/lists" \
        -o APT::Sandbox::User=root
    apt-get "$@" update -qq
    (cd "$work" && apt-get "$@" download "v4l2loopback-dkms=$v013-1~bpo12+1")
    dpkg-deb -x "$work"/v4l2loopback-dkms_*.deb "$work/package"
    source="$work/package/usr/src/v4l2loopback-$v013"
    make -C "/lib/modules/$kver/build" M="$source" modules > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
    $sudo mkdir -p "$(dirname "$ko013")"
    $sudo cp "$source/v4l2loopback.ko" "$ko013"
    rm -rf "$work"
fi
command -v vng >/dev/null 2>&1 || python3 -m pip install --quiet virtme-ng
command -v vng >/dev/null
echo "vm-deps: ready (kernel $kver)"
