#!/bin/sh
# Proves the install steps on a machine that has nothing installed: bootstraps a minimal Debian 12
# root with mmdebstrap (the tarball is cached in /var/cache/slomo-fresh-root, so later runs only
# unpack it), then runs, inside it, the apt and pip parts of `setup.sh --test` (which include
# vm-deps.sh and fetch-models.sh), twice: the second run must find nothing to do. Fails naming the
# step and, for apt, the package (scripts/apt.sh). Needs root; about 6–9 minutes the first time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt.sh"
slomo_apt_install mmdebstrap ca-certificates
cache=/var/cache/slomo-fresh-root
tarball=$cache/bookworm-minbase.tar
if [ ! -s "$tarball" ]; then
    echo "fresh-root: bootstrapping Debian 12 (minbase) into $tarball"
    $slomo_sudo mkdir -p "$cache"
    $slomo_sudo mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$cache/bookworm-minbase.new.tar" ||
        { echo "fresh-root: mmdebstrap failed" >&2; exit 1; }
    $slomo_sudo mv "$cache/bookworm-minbase.new.tar" "$tarball"
fi
root=$(mktemp -d /var/tmp/slomo-fresh-root.XXXXXX)
cleanup() {
    for mount in dev/pts dev proc sys; do $slomo_sudo umount -l "$root/$mount" 2>/dev/null || true; done
    $slomo_sudo rm -rf "$root"
}
trap cleanup EXIT INT TERM
$slomo_sudo tar -C "$root" -xf "$tarball"
for mount in dev dev/pts proc sys; do $slomo_sudo mount --bind "/$mount" "$root/$mount"; done
$slomo_sudo cp /etc/resolv.conf "$root/etc/resolv.conf"
# The network as this machine reaches it: its local certificate authorities and pip's settings
# (a fresh machine here has the same), not anything the project installed.
if [ -d /usr/local/share/ca-certificates ]; then
    $slomo_sudo mkdir -p "$root/usr/local/share/ca-certificates"
    $slomo_sudo cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
    $slomo_sudo chroot "$root" update-ca-certificates > /dev/null
fi
[ ! -f /etc/pip.conf ] || $slomo_sudo cp /etc/pip.conf "$root/etc/pip.conf"
$slomo_sudo mkdir -p "$root/src/scripts"
$slomo_sudo cp "$here"/*.sh "$root/src/scripts/"
began=$(date +%s)
for run in first second; do
    echo "fresh-root: setup.sh --test, $run run"
    if ! $slomo_sudo chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root sh /src/scripts/setup.sh --test \
        > "$root/setup-$run.log" 2>&1; then
        grep -E '^apt: |^E: |error' "$root/setup-$run.log" | head -20 >&2
        echo "fresh-root: setup.sh --test failed in a fresh Debian 12 root ($run run); last lines:" >&2
        tail -15 "$root/setup-$run.log" >&2
        exit 1
    fi
done
if grep -q '^apt: installing' "$root/setup-second.log"; then
    echo "fresh-root: the second setup.sh run installed again:" >&2
    grep '^apt: installing' "$root/setup-second.log" >&2
    exit 1
fi
echo "fresh-root: setup.sh --test passed in a fresh Debian 12 root in $(( $(date +%s) - began )) s (and found nothing to do the second time)"
