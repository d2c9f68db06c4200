#!/bin/sh
# The GPU run (BENCHMARKS-gpu.md), after scripts/gpu/bundle.sh here: slomo-speed on RIFE 4.25 and
# the classical engine, PyTorch's RIFE 4.25 on the same GPU, and slomod live at 1280x720 (rife) and
# 640x360 (flow, the auto latency budget). Figures land in $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
G=/tmp/gpu; mkdir -p $G/bin
xz -dc .gpu/bin.tar.xz | tar xf - -C $G/bin
chmod +x $G/bin/*; export CTL="$PWD/scripts/gpu/control.py"
export SLOMO_MODELS_DIR=$PWD/.gpu/models
{ nvidia-smi -L; nvidia-smi --query-gpu=driver_version --format=csv; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d; nproc; } > $OUT/gpu.txt 2>&1
if ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* > /dev/null 2>&1; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
S=$G/bin/slomo-speed
echo "== speed $(date +%T)"
timeout 150 $S --device NVIDIA --sizes 640x360 1280x720 1920x1080 --seconds 1 --networks --only rife-4.25 --rife-precision float16 float32 > $OUT/speed.txt 2>&1; echo "rc=$?"
tail -25 $OUT/speed.txt
echo "== layers $(date +%T)"
timeout 90 $S --device NVIDIA --sizes 1920x1080 --seconds 1 --networks --only rife-4.25 --layers > $OUT/layers.txt 2>&1; echo "rc=$?"
echo "== torch $(date +%T)"
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/gpu/torch-rife-speed.py .gpu/ifnet .gpu/models/rife-4.25/flownet.pkl > $OUT/torch.txt 2>&1; echo "rc=$?"
cat $OUT/torch.txt | tail -12
echo "== daemon rife 720p $(date +%T)"
BIN=$G/bin WIDTH=1280 HEIGHT=720 MODE=rife timeout 150 scripts/bench-daemon.sh 60 > $OUT/daemon-rife-720.md 2>&1; echo "rc=$?"
head -22 $OUT/daemon-rife-720.md
echo "== daemon flow 360p $(date +%T)"
BIN=$G/bin timeout 100 scripts/bench-daemon.sh 40 > $OUT/daemon-flow-360.md 2>&1; echo "rc=$?"
head -14 $OUT/daemon-flow-360.md
echo "== daemon rife 1080p $(date +%T)"
BIN=$G/bin WIDTH=1920 HEIGHT=1080 MODE=rife timeout 100 scripts/bench-daemon.sh 40 > $OUT/daemon-rife-1080.md 2>&1; echo "rc=$?"
head -14 $OUT/daemon-rife-1080.md
echo "== end $(date +%T)"
