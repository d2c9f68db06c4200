#!/bin/sh
# Installs what the kernel-driver tests need: a Debian kernel to boot under QEMU (virtme-ng),
# v4l2loopback built for it by dkms, and the real consumers the tests read the devices with.
# Idempotent, order-free and non-interactive (packages through scripts/apt.sh); CI calls it
# before `swift test`.
set -eu
here=$(dirname "$0")
. "$here/apt.sh"
packages="qemu-system-x86 busybox-static linux-image-amd64 linux-headers-amd64 v4l2loopback-dkms
v4l-utils libdrm-tests ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-good python3 python3-venv make"
# shellcheck disable=SC2086 # word splitting is the list
slomo_apt_install $packages
# The newest Debian kernel installed is the one the tests boot; dkms must have built for it.
kver=$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -1)
if ! find "/lib/modules/$kver" -name 'v4l2loopback.ko*' | grep -q .; then
    echo "vm-deps: building v4l2loopback for $kver"
    $slomo_sudo dkms autoinstall -k "$kver"
fi
cache=/var/cache/slomo-vm
# v4l2loopback 0.13, whose rules are stricter than 0.12's (STREAMON only on the handle that called
# REQBUFS), built for the same kernel from Debian's bookworm-backports source into a cache the
# guest loads it from after testing Debian 12's own 0.12. Only a finished build enters the cache.
v013=0.13.2
ko013="$cache/v4l2loopback-$v013/$kver/v4l2loopback.ko"
if [ ! -s "$ko013" ]; then
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
    $slomo_sudo mkdir -p "$(dirname "$ko013")"
    $slomo_sudo cp "$source/v4l2loopback.ko" "$ko013.new"
    $slomo_sudo mv "$ko013.new" "$ko013"
    rm -rf "$work"
fi
# virtme-ng from PyPI in its own virtual environment (Debian's Python refuses pip installs into
# the system, PEP 668), linked onto the PATH. A broken or partial environment is made anew.
virtme=1.42
venv="$cache/virtme-ng"
if ! "$venv/bin/vng" --version 2>/dev/null | grep -q "$virtme"; then
    echo "vm-deps: installing virtme-ng $virtme"
    $slomo_sudo rm -rf "$venv"
    $slomo_sudo /usr/bin/python3 -m venv "$venv"
    $slomo_sudo "$venv/bin/pip" install --quiet --disable-pip-version-check "virtme-ng==$virtme"
fi
# vng runs its siblings (virtme-run, ...) from the PATH.
for tool in vng virtme-run virtme-ng virtme-configkernel virtme-mkinitramfs virtme-prep-kdir-mods; do
    $slomo_sudo ln -sfn "$venv/bin/$tool" "/usr/local/bin/$tool"
done
vng --version > /dev/null
echo "vm-deps: ready (kernel $kver, $(vng --version))"
