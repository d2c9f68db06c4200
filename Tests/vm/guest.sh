#!/bin/sh
# Runs inside the test VM (started by run-vm.sh): loads the drivers once, then runs each
# named scenario, framed by "=== BEGIN name" and "=== END name rc=N" lines for the host test.
# To add a scenario, write a scenario_NAME function below and name it on the command line.
# Usage: guest.sh OUTDIR PROBE SCENARIO...
set -u
out=$1
probe=$2
shift 2

# Waits up to $3 seconds for the text $1 to appear in file $2, and gives up early when
# process $4 (if given) has ended.
wait_for() {
    deadline=$(( $(date +%s) + $3 ))
    while ! grep -q "$1" "$2" 2>/dev/null; do
        [ $(date +%s) -gt $deadline ] && { echo "guest: timed out waiting for '$1' in $2"; return 1; }
        [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && { echo "guest: process $4 ended before '$1'"; return 1; }
        sleep 0.2
    done
}

load_drivers() {
    modprobe vivid n_devs=1 || return 1
    # max_buffers=8: v4l2loopback 0.12 defaults to 2, a ring so short that a slow reader sees
    # the writer overwrite the frame it is reading (slomo's deployment sets the same option).
    # /dev/video12 is ffmpeg's alone: 0.12 never offers OUTPUT again after a write()-only
    # writer such as ffmpeg exits (LoopbackOutput marks itself a writer to avoid that).
    modprobe v4l2loopback devices=3 video_nr=10,11,12 exclusive_caps=1,1,1 max_buffers=8 \
        card_label=slomo-out,slomo-stall,ffmpeg-mjpeg || return 1
    modprobe virtio-gpu || return 1
    udevadm settle 2>/dev/null
    echo "guest: kernel $(uname -r)"
    ls /dev/video* /dev/dri/card* /dev/v4l/by-path/
}

# Capture from vivid in every format it shares with slomo, then once with nothing requested
# (the best the device offers) through its stable by-path name.
scenario_capture() {
    "$probe" capture --device /dev/video0 --width 320 --height 180 --fps 30 \
        --formats yuyv,uyvy,nv12,yu12,yuv422p,rgb24,bgr24,xbgr32 --seconds 2 || return 1
    "$probe" capture --device /dev/v4l/by-path/platform-vivid.0-video-index0 --seconds 2
}

# Feed /dev/video10 from LoopbackOutput while real consumers read it: v4l2-ctl (rate, then
# the rate after setFrameRate) and ffmpeg (what a browser or OBS would see). Recordings land
# in OUTDIR for the host to check frame by frame.
scenario_loopback() {
    "$probe" feed --device /dev/video10 --width 320 --height 240 --format yuyv --fps 30 --seconds 600 > "$out/feed.log" 2>&1 &
    feeder=$!
    wait_for FEED_READY "$out/feed.log" 60 $feeder || { cat "$out/feed.log"; return 1; }
    v4l2-ctl -d /dev/video10 --all | grep -E "Driver version|Capabilities|Width/Height|Pixel Format|Frames per second" | sed 's/^/v4l2-ctl: /'
    v4l2-ctl -d /dev/video10 --stream-mmap --stream-count=90 --stream-to="$out/v4l2ctl.raw" > "$out/v4l2ctl.log" 2>&1
    echo "V4L2CTL rc=$?"
    # passthrough: record each frame as delivered, without ffmpeg's constant-rate dups and drops.
    ffmpeg -nostdin -hide_banner -f v4l2 -i /dev/video10 -frames:v 50 -fps_mode passthrough -c:v rawvideo -f rawvideo \
        -y "$out/ffmpeg.yuv" > "$out/ffmpeg.log" 2>&1
    echo "FFMPEG rc=$? $(grep -m1 'Stream #0:0' "$out/ffmpeg.log")"
    tr '\r' '\n' < "$out/ffmpeg.log" | grep '^frame=' | tail -1 | sed 's/^/FFMPEG_STATS /'
    # slomo's own capture as a third consumer: it times when each frame arrives.
    "$probe" capture --device /dev/video10 --seconds 3
    kill -USR1 $feeder
    wait_for FEED_RATE "$out/feed.log" 10
    "$probe" capture --device /dev/video10 --seconds 3
    kill $feeder
    wait $feeder 2>/dev/null
    cat "$out/feed.log"
}

# A capture whose producer stops must end in noSignal, not hang.
scenario_stall() {
    "$probe" stall --device /dev/video11
}

# MJPEG capture and decode: vivid has no compressed formats, so ffmpeg encodes its test
# source to MJPEG into /dev/video12 (through write(), as a camera app would) and slomo reads it.
scenario_mjpeg() {
    ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=30 \
        -c:v mjpeg -q:v 3 -f v4l2 /dev/video12 > "$out/mjpeg-feed.log" 2>&1 &
    feeder=$!
    n=0
    until v4l2-ctl -d /dev/video12 --get-fmt-video 2>/dev/null | grep -q MJPG; do
        n=$((n + 1)); [ $n -gt 300 ] && { echo "guest: ffmpeg never fed /dev/video12"; cat "$out/mjpeg-feed.log"; kill $feeder; return 1; }
        sleep 0.2
    done
    "$probe" capture --device /dev/video12 --formats mjpeg --seconds 3
    rc=$?
    kill $feeder
    wait $feeder 2>/dev/null
    return $rc
}

# Break vivid mid-stream twice: its Disconnect control (the open stream fails), then an
# unbind from its driver, as an unplug (the node is gone for 3 s), and a bind back.
# ResilientSource must report each loss, keep retrying, and stream again each time.
scenario_resilient() {
    "$probe" resilient --device /dev/v4l/by-path/platform-vivid.0-video-index0 > "$out/resilient.log" 2>&1 &
    reader=$!
    wait_for "SIGNAL present" "$out/resilient.log" 60 $reader || { cat "$out/resilient.log"; kill $reader; return 1; }
    sleep 2
    v4l2-ctl -d /dev/video0 --set-ctrl disconnect=1
    wait_for "SIGNAL lost" "$out/resilient.log" 30 $reader
    # vivid takes new opens after Disconnect: wait for the reader to be back before the unbind.
    n=0
    while [ "$(grep -c 'SIGNAL present' "$out/resilient.log")" -lt 2 ] && [ $n -lt 150 ]; do n=$((n + 1)); sleep 0.2; done
    sleep 2
    echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind
    echo "guest: vivid unbound, /dev/video0 $(test -e /dev/video0 && echo present || echo gone)"
    sleep 3
    echo vivid.0 > /sys/bus/platform/drivers/vivid/bind
    echo "guest: vivid bound again"
    wait $reader
    rc=$?
    cat "$out/resilient.log"
    return $rc
}

# Show a known picture on the virtio-gpu display; the host takes a screendump meanwhile.
scenario_drm() {
    modetest -M virtio_gpu -c 2>/dev/null | grep -E "connected" | sed 's/^/modetest: /'
    "$probe" display --card /dev/dri/card0 --until-file "$out/drm.done" --timeout 180
}

load_drivers || { echo "guest: loading drivers failed"; exit 1; }
status=0
for scenario in "$@"; do
    echo "=== BEGIN $scenario"
    start=$(date +%s)
    "scenario_$scenario"
    rc=$?
    echo "=== END $scenario rc=$rc seconds=$(( $(date +%s) - start ))"
    [ $rc -eq 0 ] || status=1
done
exit $status
