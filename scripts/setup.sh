#!/bin/sh
# Installs what slomo needs on Debian 12: Vulkan (loader, lavapipe, validation layers, glslc)
# and FFmpeg's libraries. With --test, also what the test suite needs (the VM for kernel drivers,
# NumPy for the neural references in Tests/reference, the pretrained weights via fetch-models.sh).
# Idempotent: packages already present are skipped. The Swift toolchain itself is assumed.
set -eu
packages="pkg-config libvulkan-dev mesa-vulkan-drivers vulkan-tools vulkan-validationlayers glslc
libavcodec-dev libavformat-dev libswscale-dev libavutil-dev ffmpeg"
if [ "${1:-}" = "--test" ]; then
    packages="$packages systemd python3-numpy"
fi
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi
# Debian 12's lavapipe (Mesa 22.3) runs our shaders 2–2.6× slower than bookworm-backports' Mesa 25
# (the fast preset: bikes 14.5 against 5.6 ms a frame, 1280×720 70 against 32 ms; BENCHMARKS.md);
# on a machine without a GPU that is the difference between real time and not. Newer Debian
# releases ship Mesa 25 or later.
if grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release &&
    dpkg --compare-versions "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)" lt 25; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing Mesa's lavapipe from bookworm-backports"
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
        $sudo tee /etc/apt/sources.list.d/slomo-bookworm-backports.list >/dev/null
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers
fi
if [ "${1:-}" = "--test" ] && [ -x "$(dirname "$0")/vm-deps.sh" ]; then
    "$(dirname "$0")/vm-deps.sh"
fi
if [ "${1:-}" = "--test" ]; then
    "$(dirname "$0")/fetch-models.sh"
fi
