#!/bin/sh
# The converter benchmark of BENCHMARKS-converter.md: `slomo interpolate` at 1280x720 x2 on 300 frames of
# bikes cut at its own rate (25 fps; it has 250 frames, so forward then backward), as one whole
# process, against the engine's own time per synthesised frame in the same run.
#   scripts/bench-converter.sh                # SLOMO, DATA, RUNS, PRESET, INPUT=y4m|mp4 vary it
# INPUT=mp4 feeds H.264 (libx264, CRF 16) so the decoder thread has real work. The output is Y4M.
set -eu
SLOMO=${SLOMO:-.build/release/slomo}
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-2}
PRESET=${PRESET:-fast}
INPUT=${INPUT:-y4m}

work=$(mktemp -d "${TMPDIR:-/tmp}/slomo-bench-converter.XXXXXX")
trap 'rm -rf "$work"' EXIT
case $INPUT in
    y4m) codec="" ;;
    mp4) codec="-c:v libx264 -crf 16 -preset fast" ;;
    *) echo "bench-converter.sh: INPUT must be y4m or mp4, not $INPUT" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086 # codec is a list of words
ffmpeg -nostdin -v error -i "$DATA/bikes.mp4" -filter_complex \
    "[0:v]split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1:a=0,scale=1280:720:flags=bicubic,format=yuv420p[v]" \
    -map "[v]" -frames:v 300 $codec "$work/in.$INPUT"

for run in $(seq "$RUNS"); do
    start=$(date +%s.%N)
    line=$("$SLOMO" interpolate "$work/in.$INPUT" "$work/out.y4m" --scale 2 --preset "$PRESET")
    end=$(date +%s.%N)
    rm -f "$work/out.y4m"
    echo "run $run: $line"
    synthesised=$(echo "$line" | sed -n 's/.*(\([0-9]*\) synthesised.*/\1/p')
    engine=$(echo "$line" | sed -n 's/.*, \([0-9.]*\) ms per synthesised frame (.*/\1/p')
    awk -v s="$start" -v e="$end" -v n="$synthesised" -v g="$engine" 'BEGIN {
        whole = (e - s) * 1000 / n
        printf "run %d: whole process %.2f s, %.1f ms per synthesised frame; engine %.1f ms; ratio %.2f\n", '"$run"', e - s, whole, g, whole / g
    }'
done
