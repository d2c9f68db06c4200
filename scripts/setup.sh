#!/bin/sh
# Installs what slomo needs on Debian 12: Vulkan (loader, lavapipe, validation layers, glslc)
# and FFmpeg's libraries. With --test, also what the test suite needs (the VM for kernel drivers,
# NumPy for the neural references in Tests/reference, OpenCV and SciPy for the benchmark's DIS
# anchor, the pretrained weights via fetch-models.sh).
# Idempotent and order-free: scripts/apt.sh decides where each package comes from (on Debian 12,
# Mesa from bookworm-backports: its lavapipe runs the engine 2–2.6× faster than bookworm's 22.3),
# and installs only what is missing or not at that suite's version. The Swift toolchain is assumed.
set -eu
here=$(dirname "$0")
. "$here/apt.sh"
packages="pkg-config libvulkan-dev mesa-vulkan-drivers vulkan-tools vulkan-validationlayers glslc
libavcodec-dev libavformat-dev libswscale-dev libavutil-dev ffmpeg"
if [ "${1:-}" = "--test" ]; then
    # OpenCV and SciPy: the benchmark's DIS anchor (../shared/bench/dis_slomo.py) and vfi_eval.py.
    packages="$packages systemd python3-numpy python3-opencv python3-scipy"
fi
# shellcheck disable=SC2086 # word splitting is the list
slomo_apt_install $packages
if [ "${1:-}" = "--test" ]; then
    "$here/vm-deps.sh"
    "$here/fetch-models.sh"
fi
