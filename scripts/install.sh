#!/bin/sh
# Builds slomod and slomoctl (release, Swift runtime linked in) and installs them with the
# systemd unit, the configuration and the documentation.
#
#   scripts/install.sh                         # into /usr/local, configuration in /etc/slomod
#   PREFIX=/usr DESTDIR=/tmp/stage scripts/install.sh   # staged, for packaging
#
# Variables: PREFIX (/usr/local), DESTDIR (empty), SYSCONFDIR (/etc), SCRATCH (the SwiftPM
# scratch path, .build-release), SKIP_BUILD=1 to install binaries already built in SCRATCH.
set -eu

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
SCRATCH=${SCRATCH:-.build-release}
cd "$(dirname "$0")/.."

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    for product in slomod slomoctl; do
        swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product "$product"
    done
fi
BUILT=$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)
for product in slomod slomoctl; do
    [ -x "$BUILT/$product" ] || { echo "install.sh: $BUILT/$product is not built" >&2; exit 1; }
done

BINDIR=$PREFIX/bin
UNITDIR=$PREFIX/lib/systemd/system
DOCDIR=$PREFIX/share/doc/slomod

install -d "$DESTDIR$BINDIR" "$DESTDIR$UNITDIR" "$DESTDIR$SYSCONFDIR/slomod" "$DESTDIR$DOCDIR/examples"
install -m 0755 "$BUILT/slomod" "$BUILT/slomoctl" "$DESTDIR$BINDIR/"
sed -e "s|@BINDIR@|$BINDIR|g" -e "s|file:///usr/local/share/doc/slomod|file://$DOCDIR|g" \
    systemd/slomod@.service > "$DESTDIR$UNITDIR/slomod@.service"
chmod 0644 "$DESTDIR$UNITDIR/slomod@.service"
install -m 0644 Configs/slomod.toml Configs/examples/*.toml "$DESTDIR$DOCDIR/examples/"
install -m 0644 docs/control-protocol.md "$DESTDIR$DOCDIR/"
# The default instance's configuration; an existing one is the administrator's and is kept.
if [ ! -e "$DESTDIR$SYSCONFDIR/slomod/default.toml" ]; then
    install -m 0644 Configs/slomod.toml "$DESTDIR$SYSCONFDIR/slomod/default.toml"
fi

if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ]; then
    # The group whose members may use slomoctl (control.group = "slomo"); the unit joins it.
    getent group slomo > /dev/null || groupadd --system slomo
    if command -v systemctl > /dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
fi

echo "installed slomod and slomoctl in $DESTDIR$BINDIR, the unit in $DESTDIR$UNITDIR"
echo "next: edit $SYSCONFDIR/slomod/default.toml (or add NAME.toml) and run: systemctl enable --now slomod@default"
