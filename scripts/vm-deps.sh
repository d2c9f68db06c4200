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
command -v vng >/dev/null 2>&1 || python3 -m pip install --quiet virtme-ng
command -v vng >/dev/null
echo "vm-deps: ready (kernel $kver)"
