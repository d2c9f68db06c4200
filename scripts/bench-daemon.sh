#!/bin/sh
# The daemon benchmark of BENCHMARKS-daemon.md: the built-in test pattern, 640x360 at 30 fps,
# upconverted to 60 fps (scale 2, flow, fast preset, adaptive, the auto latency budget) to the
# null output, for DURATION seconds (default 70) after start-up. Prints a Markdown report.
#
#   swift build -c release --static-swift-stdlib --scratch-path .build-daemon --product slomod
#   swift build -c release --static-swift-stdlib --scratch-path .build-daemon --product slomoctl
#   scripts/bench-daemon.sh 70
#
# Environment: BIN (the binaries, .build-daemon/release), CTL (the control client, $BIN/slomoctl), PRESET (fast), BUDGET (auto),
# ADAPTIVE (true), WIDTH (640), HEIGHT (360), FPS (30), MODE (flow), SWITCH (a mode to `slomoctl set` half-way,
# e.g. rife: the report then says how long the answer took and the longest gap between outputs
# before and after it), EXTRA (more slomod flags, e.g. "--realtime-priority 0").
set -eu
DURATION=${1:-70}
BIN=${BIN:-.build-daemon/release}
CTL=${CTL:-$BIN/slomoctl}
PRESET=${PRESET:-fast}
BUDGET=${BUDGET:-auto}
ADAPTIVE=${ADAPTIVE:-true}
WIDTH=${WIDTH:-640}
HEIGHT=${HEIGHT:-360}
FPS=${FPS:-30}
SWITCH=${SWITCH:-}
MODE=${MODE:-flow}
EXTRA=${EXTRA:-}
SOCKET=/tmp/slomod-bench-$$.sock
LOG=/tmp/slomod-bench-$$.log
OUT=/tmp/slomod-bench-$$

date +%s.%N > "$OUT.time-launch"
"$BIN/slomod" --input testpattern --width "$WIDTH" --height "$HEIGHT" --fps "$FPS" --scale 2 --mode "$MODE" --preset "$PRESET" \
    --adaptive="$ADAPTIVE" --latency-budget "$BUDGET" --output null --socket "$SOCKET" $EXTRA 2> "$LOG" &
PID=$!
trap 'kill $PID 2> /dev/null || true' EXIT
tries=0
until "$CTL" --socket "$SOCKET" --json status 2> /dev/null | grep -q '"state":"running"'; do
    tries=$((tries + 1))
    [ $tries -lt 600 ] || { echo "slomod did not start:"; cat "$LOG"; exit 1; }
    sleep 0.1
done
"$CTL" --socket "$SOCKET" --json stats > "$OUT.start"
date +%s.%N > "$OUT.time-start"
# Each thread's CPU time (/proc/PID/task/*/stat), to tell the frame path's own work from lavapipe's.
cat /proc/$PID/task/*/stat > "$OUT.threads-start" 2> /dev/null || true
cat /proc/loadavg > "$OUT.load-start"
# Resident memory every tenth of the run, to show it stays flat. Nothing heavier than grep runs
# in the window: a python3 start every tenth (50 ms of a core) slowed the pairs around it by
# half and set the auto budget's 99.5th percentile.
: > "$OUT.rss"
TENTH=$(awk "BEGIN { print $DURATION / 10 }")
for step in 1 2 3 4 5 6 7 8 9 10; do
    sleep "$TENTH"
    grep VmRSS /proc/$PID/status | awk '{printf "%.1f ", $2 / 1024}' >> "$OUT.rss"
    if [ -n "$SWITCH" ] && [ $step = 5 ]; then
        "$CTL" --socket "$SOCKET" --json stats > "$OUT.before-switch"
        began=$(date +%s.%N)
        "$CTL" --socket "$SOCKET" --json set mode "$SWITCH" > "$OUT.switch"
        python3 -c "print(round(($(date +%s.%N) - $began) * 1000, 1))" > "$OUT.switch-ms"
    fi
done
"$CTL" --socket "$SOCKET" --json stats > "$OUT.end"
cat /proc/$PID/task/*/stat > "$OUT.threads-end" 2> /dev/null || true
"$CTL" --socket "$SOCKET" --json status > "$OUT.status"
date +%s.%N > "$OUT.time-end"
cat /proc/loadavg > "$OUT.load-end"
(top -bn1 2> /dev/null || ps aux) | sed -n "7,12p" > "$OUT.top"
kill -TERM $PID
wait $PID
trap - EXIT

python3 - "$OUT" "$DURATION" "$PRESET" "$BUDGET" "$ADAPTIVE" "$LOG" "${WIDTH}x$HEIGHT" "$FPS" "$MODE" <<'PY'
import json, os, sys
out, duration, preset, budget, adaptive, log, size, fps = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], float(sys.argv[8])
mode = sys.argv[9]
a = json.load(open(out + ".start"))["result"]
b = json.load(open(out + ".end"))["result"]
d = lambda k: b[k] - a[k]
# The window as measured between the two stats requests, a little over DURATION.
duration = float(open(out + ".time-end").read()) - float(open(out + ".time-start").read())
expected = duration * b["output_fps"]
inbetween = d("synthesised") + d("repeated")
by_mode = {k: b["synthesised_by_mode"][k] - a["synthesised_by_mode"][k] for k in b["synthesised_by_mode"]}
print(f"| measure | value |\n|---|---|")
print(f"| window | {duration:.1f} s after start-up, {size} {fps:g} → {2 * fps:g} fps, mode `{mode}`, preset `{preset}`, adaptive {adaptive}, latency budget {budget} |")
launch = float(open(out + ".time-launch").read())
print(f"| start-up: launch to `status` running (shaders, warm-up, the test pattern's rendering) | {float(open(out + '.time-start').read()) - launch:.1f} s |")
print(f"| delivered / expected frames | {d('delivered')} / {expected:.0f} ({100 * d('delivered') / expected:.2f} %) |")
print(f"| captured | {d('captured')} |")
print(f"| in-between slots filled with synthesised frames | {d('synthesised')} / {inbetween} ({100 * d('synthesised') / max(inbetween, 1):.2f} %) |")
print(f"| ... made by mode | " + ", ".join(f"{k}: {v}" for k, v in by_mode.items()) + " |")
print(f"| late | {d('late')} |")
print(f"| dropped (input + slots) | {d('dropped')} ({d('dropped_input')} + {d('dropped_slots')}) |")
print(f"| latency p50 / p99 / max (whole run) | {b['latency_p50_ms']} / {b['latency_p99_ms']} / {b['latency_max_ms']} ms (bound {b['latency_bound_ms']:g} ms) |")
print(f"| delay in effect / floor / planned need / margin | {b['delay_ms']} / {b['latency_floor_ms']} / {b['delay_need_ms']} / {b['delay_margin_ms']} ms |")
print(f"| GPU time per synthesised frame (mean, whole run) | {b['gpu_ms_per_frame']} ms (GPU budget per pair {b['gpu_budget_ms']} ms) |")
def thread_seconds(path):
    """CPU seconds by thread name (utime + stime; names repeat for lavapipe's threads)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {}
    for line in open(path):
        name, rest = line[line.index("(") + 1:line.rindex(")")], line[line.rindex(")") + 2:].split()
        totals[name] = totals.get(name, 0) + (int(rest[11]) + int(rest[12])) / ticks
    return totals
t0, t1 = thread_seconds(out + ".threads-start"), thread_seconds(out + ".threads-end")
per_frame = lambda name: 1000 * (t1.get(name, 0) - t0.get(name, 0)) / max(d("captured"), 1)
print(f"| CPU per captured frame: capture / engine / output thread / whole process | {per_frame('slomod-capture'):.2f} / {per_frame('slomod-engine'):.2f} / "
      f"{per_frame('slomod-output'):.2f} / {1000 * (sum(t1.values()) - sum(t0.values())) / max(d('captured'), 1):.1f} ms |")
print(f"| mode at the end, level changes | {b['mode']}, {b['level_changes']} |")
print(f"| longest gap between outputs | {b['max_delivery_gap_ms']} ms |")
if os.path.exists(out + ".switch"):
    before = json.load(open(out + ".before-switch"))["result"]
    reply = json.load(open(out + ".switch"))["result"]
    print(f"| `slomoctl set mode` half-way: answer (whole command) | {open(out + '.switch-ms').read().strip()} ms: `{json.dumps(reply)}` |")
    print(f"| longest gap between outputs before the switch / over the run | {before['max_delivery_gap_ms']} / {b['max_delivery_gap_ms']} ms |")
    print(f"| network at the end | `{json.dumps(json.load(open(out + '.status'))['result']['network'])}` |")
print(f"| RSS at start / end | {a['rss_kib'] / 1024:.1f} / {b['rss_kib'] / 1024:.1f} MiB (frame buffers: {b['pool_buffers']}) |")
print(f"| RSS every tenth of the window | {open(out + '.rss').read().strip()} MiB |")
print(f"| load average at start / end | {open(out + '.load-start').read().split()[0]} / {open(out + '.load-end').read().split()[0]} |")
print("\nBusiest processes at the end:\n```\n" + open(out + ".top").read() + "```")
print("\nDaemon log:\n```\n" + "".join(l for l in open(log) if "control: client" not in l) + "```")
PY
rm -f "$OUT".* "$LOG"
