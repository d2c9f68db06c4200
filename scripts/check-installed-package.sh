#!/bin/sh
# Runs the installed slomo package as a capture box would, on a machine without a camera:
# check-fresh-install.sh runs it as root inside a fresh Debian 12 root after `apt install
# ./slomo_*.deb`. Each failure names what failed.
set -eu
fail() { echo "installed-package: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
daemon=""

# One version everywhere: the package's and each tool's.
package=$(dpkg-query -W -f='${Version}' slomo)
for tool in slomo slomod slomoctl; do
    [ "$($tool --version)" = "$package" ] || fail "$tool --version says '$($tool --version)', the package is $package"
done
echo "installed-package: slomo $package; slomo, slomod and slomoctl report the same version"

getent group slomo > /dev/null || fail "postinst made no slomo group"
for page in slomo.1 slomod.8 slomoctl.1 slomod.toml.5; do
    man -w "${page##*.}" "${page%.*}" > /dev/null 2>&1 || fail "no manual page ${page%.*}(${page##*.})"
done

(cd "$work" && slomo demo demo.y4m) > "$work/demo.log" 2>&1 || { cat "$work/demo.log" >&2; fail "slomo demo failed"; }
grep 'slomo demo' "$work/demo.log"
[ -s "$work/demo.y4m" ] || fail "slomo demo wrote no frames"

# slomod on the test pattern, steered and stopped over its socket as systemd would.
slomod --input testpattern --output null --width 320 --height 180 --fps 10 --scale 2 \
    --socket "$work/slomod.sock" > "$work/slomod.log" 2>&1 &
daemon=$!
deadline=$(( $(date +%s) + 600 ))
until [ -S "$work/slomod.sock" ] && slomoctl --socket "$work/slomod.sock" --json status 2> /dev/null | grep -q '"state":"running"'; do
    kill -0 "$daemon" 2> /dev/null || { cat "$work/slomod.log" >&2; fail "slomod ended before it ran"; }
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$work/slomod.log" >&2; fail "slomod not running after 600 s"; }
    sleep 1
done
slomoctl --socket "$work/slomod.sock" status
slomoctl --socket "$work/slomod.sock" set scale 4 > /dev/null || fail "slomoctl set scale 4 failed"
kill -TERM "$daemon"
wait "$daemon" || { cat "$work/slomod.log" >&2; fail "slomod did not exit cleanly on SIGTERM"; }
daemon=""

# The unit as installed: real paths, its Documentation= pages present (systemd runs man on them).
remarks=$(systemd-analyze verify /usr/lib/systemd/system/slomod@.service 2>&1) && [ -z "$remarks" ] ||
    fail "systemd-analyze verify slomod@.service: $remarks"
echo "installed-package: demo, slomod with slomoctl, and the unit all work"
