#!/bin/bash
# Boots Debian's own kernel under QEMU (virtme-ng, TCG: KVM hangs on these machines) with
# the devices slomo drives -- vivid, v4l2loopback (/dev/video10 to 12) and a virtio-gpu
# card -- and runs Tests/vm/guest.sh with the given scenarios inside. The host file system is
# visible read-only in the guest; OUTDIR is shared read-write for results.
#
# It also serves the guest's requests, printed as lines on its stdout:
#   @@screendump NAME   QEMU monitor screendump to OUTDIR/NAME.ppm, then OUTDIR/NAME.done
#
# Usage: run-vm.sh OUTDIR PROBE SCENARIO...   (exit status: the guest script's)
set -euo pipefail
out=$(realpath "$1")
probe=$(realpath "$2")
shift 2
here=$(cd "$(dirname "$0")" && pwd)
kver=$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -1)
[ -n "$kver" ] || { echo "run-vm: no Debian kernel in /lib/modules (run scripts/vm-deps.sh)"; exit 2; }
command -v vng >/dev/null || { echo "run-vm: vng missing (run scripts/vm-deps.sh)"; exit 2; }
monitor=$out/monitor.sock
rm -f "$monitor"
# v4l2loopback 0.13 for the loopback_013 scenario (built by scripts/vm-deps.sh), handed over
# through OUTDIR: the guest sees the host's /var through an overlay that hides the build.
ko013="/var/cache/slomo-vm/v4l2loopback-0.13.2/$kver/v4l2loopback.ko"
[ ! -e "$ko013" ] || cp "$ko013" "$out/v4l2loopback-0.13.2.ko"

screendump() {
    python3 - "$monitor" "$1" <<'PY'
import socket, sys, time
sock = socket.socket(socket.AF_UNIX)
sock.settimeout(60)
sock.connect(sys.argv[1])
def until_prompt():
    data = b""
    while not data.endswith(b"(qemu) "):
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("monitor closed")
        data += chunk
until_prompt()
sock.sendall(b"screendump " + sys.argv[2].encode() + b"\n")
until_prompt()
PY
}

echo "run-vm: kernel $kver, scenarios: $*"
start=$(date +%s)
set +e
vng -r "/boot/vmlinuz-$kver" --disable-kvm --memory 2G --cpus 2 --rwdir "$out" \
    --qemu-opts="-device virtio-gpu-pci -monitor unix:$monitor,server,nowait" \
    --exec "$here/guest.sh $out $probe $*" 2>&1 | while IFS= read -r line; do
    line=${line%$'\r'}
    printf '%s\n' "$line"
    case "$line" in
    "@@screendump "*)
        name=${line#@@screendump }
        if screendump "$out/$name.ppm"; then touch "$out/$name.done"; else echo "run-vm: screendump $name failed"; fi
        ;;
    esac
done
status=${PIPESTATUS[0]}
echo "run-vm: done in $(( $(date +%s) - start )) s, vng exit status $status"
exit "$status"
