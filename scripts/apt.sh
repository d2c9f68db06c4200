# Sourced by every install script (setup.sh, vm-deps.sh, fetch-models.sh, check-fresh-install.sh):
# the one place that decides which Debian suite supplies what, and the one way they install.
#
# On Debian 12 slomo wants bookworm-backports' Mesa (lavapipe runs our shaders 2–2.6× faster than
# bookworm's 22.3). Mesa pulls backports' libdrm, and every package built from those two sources
# (libdrm-tests, libgbm1, libegl-mesa0, ...) must then come from the same suite, or apt finds
# `libdrm2 = 2.4.114` against 2.4.123 and gives up ("held broken packages"). An apt pin on the
# two source packages makes that hold for every install, in any order, whatever an earlier run or
# an administrator installed. Newer Debian releases ship Mesa 25 or later: nothing is pinned there.
#
#   slomo_apt_install PACKAGE...   installs what is missing or not at the suite's version

slomo_sudo=""
[ "$(id -u)" -eq 0 ] || slomo_sudo="sudo"

slomo_backports_list=/etc/apt/sources.list.d/slomo-bookworm-backports.list
slomo_backports_pin=/etc/apt/preferences.d/slomo-mesa

# Writes $2 to file $1 (as root) unless it already holds exactly that; returns 0 when it wrote.
slomo_write_if_changed() {
    [ -f "$1" ] && [ "$(cat "$1")" = "$2" ] && return 1
    printf '%s\n' "$2" | $slomo_sudo tee "$1" > /dev/null
}

slomo_apt_sources() {
    grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release 2>/dev/null || return 0
    changed=""
    slomo_write_if_changed "$slomo_backports_list" \
        "deb http://deb.debian.org/debian bookworm-backports main" && changed=1
    slomo_write_if_changed "$slomo_backports_pin" "# slomo: Mesa and libdrm, and all they build, from bookworm-backports (scripts/apt.sh).
Package: src:mesa src:libdrm
Pin: release n=bookworm-backports
Pin-Priority: 990" && changed=1
    # Lists fetched before the backports entry existed know nothing of it.
    if [ -n "$changed" ] || ! ls /var/lib/apt/lists/*bookworm-backports*Packages* > /dev/null 2>&1; then
        SLOMO_APT_UPDATED=""
    fi
}

slomo_apt_update() {
    [ -n "${SLOMO_APT_UPDATED:-}" ] && return 0
    $slomo_sudo apt-get update -qq || { echo "apt: apt-get update failed" >&2; return 1; }
    SLOMO_APT_UPDATED=1
    export SLOMO_APT_UPDATED
}

# Whether apt would install or change anything for these packages. It cannot tell when its lists
# are missing or stale (a package it does not know): then it is asked again after an update.
slomo_apt_pending() {
    plan=$(apt-get install --simulate --no-install-recommends "$@" 2>&1) || return 0
    printf '%s\n' "$plan" | grep -q '^Inst '
}

slomo_apt_install() {
    slomo_apt_sources
    # Nothing at all installed of them yet, or never updated: the lists may be empty.
    if [ -z "${SLOMO_APT_UPDATED:-}" ] && ! ls /var/lib/apt/lists/*_Packages* > /dev/null 2>&1; then
        slomo_apt_update || return 1
    fi
    slomo_apt_pending "$@" || return 0
    slomo_apt_update || return 1
    slomo_apt_pending "$@" || return 0
    echo "apt: installing or updating $(apt-get install --simulate --no-install-recommends "$@" 2>/dev/null |
        sed -n 's/^Inst \([^ ]*\).*/\1/p' | tr '\n' ' ')"
    if ! DEBIAN_FRONTEND=noninteractive $slomo_sudo apt-get install -y -qq --no-install-recommends "$@"; then
        # Name the package that failed, not only apt's last words.
        for package in "$@"; do
            apt-get install --simulate --no-install-recommends "$package" > /dev/null 2>&1 ||
                echo "apt: cannot install $package: $(apt-get install --simulate --no-install-recommends "$package" 2>&1 |
                    grep -E '^ |^E:' | head -3 | tr -s ' \n' ' ')" >&2
        done
        return 1
    fi
}
