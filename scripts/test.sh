#!/bin/sh
# Runs every test: shaders against their CPU references, the engine on known motion and real
# footage, media I/O, the CLI, the daemon, and the kernel drivers in a VM. Vulkan validation is on.
set -eu
cd "$(dirname "$0")/.."
export SLOMO_VULKAN_VALIDATION=1
swift build --build-tests
swift test --skip-build --disable-swift-testing
