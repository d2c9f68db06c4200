#!/bin/bash
# Compares slomo builds on one clip, interleaved round by round so that each sees the same load
# (BENCHMARKS-quality.md, sections 6 and 7): whole-process wall time and the engine's own time per
# synthesised frame, or with PROFILE=1 the GPU time per shader (`--profile`). Prints each build's
# figures per round, then the median and the minimum.
#
#   scripts/compare-builds.sh CLIP.y4m ROUNDS BUILD... # e.g. /tmp/old/.build/release/slomo .build/release/slomo
#
# Environment: PRESET (fast), SCALE (2), PROFILE (0).
set -eu
clip=$1 rounds=$2
shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq "$rounds"); do
    for build in "$@"; do
        flags=(--scale "${SCALE:-2}" --preset "${PRESET:-fast}")
        [ "${PROFILE:-0}" = 1 ] && flags+=(--profile)
        began=$(date +%s.%N)
        "$build" interpolate "$clip" "$out/out.y4m" "${flags[@]}" > "$out/summary" 2>&1
        ended=$(date +%s.%N)
        if [ "${PROFILE:-0}" = 1 ]; then
            # "... by shader, 14.4 in all: unpack 1.44, downsample 0.37, ..." as "total 14.4 unpack 1.44 ..."
            echo "$build total $(grep 'by shader' "$out/summary" | sed 's/.*by shader, //; s/ in all:/,/; s/,//g')"
        else
            synthesised=$(grep -o '([0-9]* synthesised' "$out/summary" | tr -dc 0-9)
            engine=$(grep -o "engine's [0-9.]* ms" "$out/summary" | tr -dc 0-9.)
            echo "$build wall $(awk "BEGIN { print ($ended - $began) * 1000 / $synthesised }") engine $engine"
        fi
    done
done | python3 -c '
import collections, statistics, sys
figures = collections.defaultdict(lambda: collections.defaultdict(list))
for line in sys.stdin:
    words = line.split()
    for name, value in zip(words[1::2], words[2::2]):
        figures[words[0]][name].append(float(value))
for build, measures in figures.items():
    print(build)
    for name, values in measures.items():
        print("  %-16s %s  (median %.2f, min %.2f ms)" % (name, " ".join("%.1f" % v for v in values), statistics.median(values), min(values)))
'
