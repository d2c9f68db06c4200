#!/bin/sh
# Proves the install steps on a machine that has nothing installed. Bootstraps a minimal Debian 12
# root with mmdebstrap (the tarball is cached in /var/cache/slomo-fresh-root, so later runs only
# unpack it) and, in one copy of it, runs the apt and pip parts of `setup.sh --test` (which include
# vm-deps.sh and fetch-models.sh) twice: the second run must find nothing to do. Then builds the
# Debian package here (scripts/build-deb.sh) and, in a second fresh copy, installs it with apt as a
# capture box would and runs it: `slomo demo`, slomod on the test pattern with `slomoctl status`,
# `systemd-analyze verify` of the installed unit, the four versions agree, and a purge leaves no
# files. Fails naming the step and, for apt, the package (scripts/apt.sh). Needs root; about 10
# minutes, more the first time (bootstrap, the release build).
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
roots=""
cleanup() {
    for root in $roots; do
        for mount in dev/pts dev proc sys; do $slomo_sudo umount -l "$root/$mount" 2>/dev/null || true; done
        $slomo_sudo rm -rf "$root"
    done
}
trap cleanup EXIT INT TERM
# A fresh copy of the root, its path in $root.
fresh_root() {
    root=$(mktemp -d /var/tmp/slomo-fresh-root.XXXXXX)
    roots="$roots $root"
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
}
in_root() { $slomo_sudo chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root "$@"; }

fresh_root
$slomo_sudo mkdir -p "$root/src/scripts"
$slomo_sudo cp "$here"/*.sh "$root/src/scripts/"
began=$(date +%s)
for run in first second; do
    echo "fresh-root: setup.sh --test, $run run"
    if ! in_root sh /src/scripts/setup.sh --test > "$root/setup-$run.log" 2>&1; then
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

# The package, installed with apt on a root that has seen nothing of the project: its Depends
# must bring everything it needs (plain bookworm, no backports pin). systemd and man-db are what
# systemd-analyze verify needs to check the unit and its Documentation= pages.
began=$(date +%s)
deb=$("$here/build-deb.sh" | tail -1)
echo "fresh-root: built $deb in $(( $(date +%s) - began )) s"
began=$(date +%s)
fresh_root
$slomo_sudo cp "$deb" "$here/check-installed-package.sh" "$root/tmp/"
if ! in_root sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/${deb##*/} systemd man-db" \
    > "$root/install-deb.log" 2>&1; then
    grep -E '^E: |Depends:' "$root/install-deb.log" | head -20 >&2
    echo "fresh-root: apt install ./${deb##*/} failed in a fresh Debian 12 root; last lines:" >&2
    tail -15 "$root/install-deb.log" >&2
    exit 1
fi
in_root sh /tmp/check-installed-package.sh || { echo "fresh-root: the installed package does not work" >&2; exit 1; }
# Purged, it leaves nothing behind but the group (Debian never removes groups: files may still be owned by it).
in_root sh -c 'apt-get purge -y -q slomo > /tmp/purge.log 2>&1 && ! ls -d /usr/bin/slomo* /etc/slomod /usr/lib/systemd/system/slomod@.service 2> /dev/null' ||
    { echo "fresh-root: apt purge slomo failed or left files" >&2; exit 1; }
echo "fresh-root: ${deb##*/} installed and ran in a fresh Debian 12 root in $(( $(date +%s) - began )) s"
