#!/bin/sh
# Runs inside the test VM (started by run-vm.sh): loads the drivers once, then runs each
# named scenario, framed by "=== BEGIN name" and "=== END name rc=N" lines for the host test.
# To add a scenario, write a scenario_NAME function below and name it on the command line.
# Usage: guest.sh OUTDIR PROBE SCENARIO...
set -u
out=$1
probe=$2
shift 2
# The kernel's log as it is written, in the shared folder: if the guest dies mid-scenario (a
# driver oops), the host still has what the kernel said. Started from a subshell, so it is no
# child of this script for end_children to end or wait for.
(dmesg --follow > "$out/dmesg.log" 2>&1 &)

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
# the rate after setFrameRate), ffmpeg and GStreamer's v4l2src (what a browser or OBS would see). Recordings land
# in OUTDIR for the host to check frame by frame.
scenario_loopback() {
    "$probe" feed --device /dev/video10 --width 320 --height 240 --format yuyv --fps 30 --seconds 600 > "$out/feed.log" 2>&1 &
    feeder=$!
    wait_for FEED_READY "$out/feed.log" 60 $feeder || { cat "$out/feed.log"; return 1; }
    # Which module is loaded: the GNU build ID kbuild links into every module, as sysfs shows
    # the loaded one's notes, against the file's. (A source hash exists only for modules with
    # MODULE_VERSION, and Debian's 0.12 reports the kernel's version in QUERYCAP.)
    ko=${loopback_ko:-$(modinfo -n v4l2loopback)}
    loaded=$(od -An -v -tx1 /sys/module/v4l2loopback/notes/.note.gnu.build-id 2>/dev/null | tr -d ' \n' | tail -c 40)
    built=$(readelf -n "$ko" | sed -n 's/.*Build ID: *//p')
    echo "LOOPBACK_MODULE loaded=$loaded built=$built file=$ko"
    v4l2-ctl -d /dev/video10 --all | grep -E "Driver version|Capabilities|Width/Height|Pixel Format|Frames per second" | sed 's/^/v4l2-ctl: /'
    v4l2-ctl -d /dev/video10 --stream-mmap --stream-count=90 --stream-to="$out/v4l2ctl.raw" > "$out/v4l2ctl.log" 2>&1
    echo "V4L2CTL rc=$?"
    # passthrough: record each frame as delivered, without ffmpeg's constant-rate dups and drops.
    ffmpeg -nostdin -hide_banner -f v4l2 -i /dev/video10 -frames:v 50 -fps_mode passthrough -c:v rawvideo -f rawvideo \
        -y "$out/ffmpeg.yuv" > "$out/ffmpeg.log" 2>&1
    echo "FFMPEG rc=$? $(grep -m1 'Stream #0:0' "$out/ffmpeg.log")"
    tr '\r' '\n' < "$out/ffmpeg.log" | grep '^frame=' | tail -1 | sed 's/^/FFMPEG_STATS /'
    # GStreamer's v4l2src, what OBS's and many desktop apps' pipelines are built on.
    gst-launch-1.0 -q v4l2src device=/dev/video10 num-buffers=40 ! video/x-raw,format=YUY2,width=320,height=240 \
        ! filesink location="$out/gstreamer.yuv" > "$out/gstreamer.log" 2>&1
    echo "GSTREAMER rc=$?"
    # slomo's own capture as a third consumer: it times when each frame arrives.
    "$probe" capture --device /dev/video10 --seconds 3
    kill -USR1 $feeder
    wait_for FEED_RATE "$out/feed.log" 10
    "$probe" capture --device /dev/video10 --seconds 3
    kill $feeder
    wait $feeder 2>/dev/null
    cat "$out/feed.log"
}

# The loopback scenario again on v4l2loopback 0.13 (stricter STREAMON rules), which
# scripts/vm-deps.sh builds for this kernel; recordings land in OUTDIR/v0.13. Runs last: it
# swaps the module under the other scenarios' devices.
scenario_loopback_013() {
    ko="$out/v4l2loopback-0.13.2.ko"
    [ -e "$ko" ] || { echo "guest: $ko is missing (scripts/vm-deps.sh builds it)"; return 1; }
    rmmod v4l2loopback || return 1
    insmod "$ko" devices=3 video_nr=10,11,12 exclusive_caps=1,1,1 max_buffers=8 \
        card_label=slomo-out,slomo-stall,ffmpeg-mjpeg || return 1
    udevadm settle 2>/dev/null
    saved=$out
    out="$out/v0.13"
    mkdir -p "$out"
    loopback_ko=$ko scenario_loopback
    rc=$?
    out=$saved
    return $rc
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

# slomod end to end, in one boot: the daemon_* scenarios run in this order and share the
# daemon, its consumer and the recording. vivid (moving colour bars) feeds slomod, which
# writes /dev/video10; ffmpeg reads it throughout, as any camera app would, and records each
# frame as delivered (luma only) with its v4l2loopback timestamp (CLOCK_MONOTONIC). Each step
# prints "EVENT name t=SECONDS" on the same clock (/proc/uptime: no suspend in the VM), so the
# host test can cut the recording into the windows between steps.
# Under TCG, lavapipe blends a 320x180 pair in 200-450 ms (flow/fast takes about as long or
# twice that, flow/quality 1.3-2 s), so vivid runs at 2 fps with an 800 ms budget, and the
# quality preset: the controller has to find the level that fits. slomoctl takes
# ~7 s to start there (the Swift runtime loads from the 9p root), so it runs only between
# measurements: its start also slows the engine enough to push the controller down a level.
bin=$(dirname "$probe")
# Mesa's shader cache, writable in the guest and shared by every slomod this boot starts: the
# first start (daemon_warmup) fills it, the timed scenarios find it warm.
export MESA_SHADER_CACHE_DIR="$out/mesa-cache"
# How long a slomod start may take: three times the measured first start (cold shader cache,
# Vulkan under TCG, on however busy a host), at least 120 s. Set by daemon_warmup.
start_limit=""
daemon_socket=/tmp/slomod.sock
vivid=/dev/v4l/by-path/platform-vivid.0-video-index0
daemon=""
consumer=""

event() {
    echo "EVENT $1 t=$(cut -d' ' -f1 /proc/uptime)"
}

centiseconds() {
    cut -d' ' -f1 /proc/uptime | tr -d .
}

# The first CRTC's id, framebuffer and size, as modetest lists them ("33 37 (0,0) (1280x800)").
crtc() {
    modetest -M virtio_gpu -p | awk '/^CRTCs:/ { getline; getline; print "id=" $1 " fb=" $2 " size=" $4; exit }'
}

# slomoctl's JSON reply on one line: KEY {"ok":true,"result":{...}}.
control() {
    key=$1
    shift
    echo "$key $("$bin/slomoctl" --socket "$daemon_socket" --json "$@" 2>&1 | tr -d '\n')"
}

# Waits until slomod (process $1, socket $2, log $3) answers `status` with state running, for at
# most $4 seconds; gives up early when it has ended.
wait_running() {
    deadline=$(( $(date +%s) + $4 ))
    while :; do
        kill -0 "$1" 2>/dev/null || { echo "guest: slomod ended before it ran"; cat "$3"; return 1; }
        [ -S "$2" ] && "$bin/slomoctl" --socket "$2" --json status 2>/dev/null | grep -q '"state":"running"' && return 0
        [ $(date +%s) -gt $deadline ] && { echo "guest: slomod not running after $4 s"; cat "$3"; return 1; }
        sleep 1
    done
}

# Measures one slomod start on the test pattern (instance, device, every pipeline compiled into
# the shader cache) and sets start_limit from it.
daemon_warmup() {
    [ -n "$start_limit" ] && return 0
    began=$(date +%s)
    "$bin/slomod" --input testpattern --width 320 --height 180 --fps 2 --scale 2 --preset quality \
        --output null --socket /tmp/slomod-warmup.sock > "$out/slomod-warmup.log" 2>&1 &
    warm=$!
    wait_running $warm /tmp/slomod-warmup.sock "$out/slomod-warmup.log" 900 || { kill $warm 2>/dev/null; return 1; }
    seconds=$(( $(date +%s) - began ))
    kill -TERM $warm
    wait $warm
    start_limit=$(( seconds * 3 > 120 ? seconds * 3 : 120 ))
    echo "WARMUP slomod_start_s=$seconds start_limit_s=$start_limit"
}

scenario_daemon_loopback() {
    daemon_warmup || return 1
    v4l2-ctl -d /dev/video0 --set-ctrl horizontal_movement=6 || return 1
    "$bin/slomod" --input "$vivid" --width 320 --height 180 --fps 2 --scale 2 --latency-budget 650 --preset quality \
        --output /dev/video10 --socket "$daemon_socket" > "$out/slomod.log" 2>&1 &
    daemon=$!
    wait_running $daemon "$daemon_socket" "$out/slomod.log" "$start_limit" || return 1
    # -copyts: pts are the driver's timestamps; passthrough: no frame duplicated or dropped.
    ffmpeg -nostdin -nostats -hide_banner -f v4l2 -i /dev/video10 -copyts -fps_mode passthrough -vf showinfo \
        -pix_fmt gray -f rawvideo -y "$out/e2e.gray" > "$out/e2e-ffmpeg.log" 2>&1 &
    consumer=$!
    wait_for "n:   8 " "$out/e2e-ffmpeg.log" 120 $consumer || { cat "$out/e2e-ffmpeg.log"; return 1; }
    # Past the start: the first pairs, a reopen if the slow start outlasted vivid's stall limit.
    sleep 2
    event steady
    sleep 12
    event steady_end
    control STATS stats
}

# A live scale change while ffmpeg keeps reading: 2 fps x 2 -> x 3.
scenario_daemon_scale() {
    [ -n "$daemon" ] && [ -n "$consumer" ] || return 1
    event scale
    control SET set scale 3
    # slomoctl itself takes seconds to start under TCG: the change is in from here on.
    event scale_applied
    sleep 8
    event scale_end
}

# vivid's Disconnect control (the open stream fails; vivid takes a new open at once), then an
# unplug: unbound from its driver for 6 s or more (slomoctl status runs meanwhile), the node
# gone, then bound again. The consumer and the daemon end here.
scenario_daemon_signal() {
    [ -n "$daemon" ] && [ -n "$consumer" ] || return 1
    event disconnect
    v4l2-ctl -d /dev/video0 --set-ctrl disconnect=1
    sleep 5
    reopens=$(grep -c "capture reopened" "$out/slomod.log")
    event unbind
    unbound=$(centiseconds)
    echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind
    sleep 1
    control STATUS_UNPLUGGED status
    kill -0 $daemon && echo "DAEMON alive while unplugged"
    while [ $(( $(centiseconds) - unbound )) -lt 600 ]; do sleep 0.1; done
    event bind
    echo vivid.0 > /sys/bus/platform/drivers/vivid/bind
    udevadm settle 2>/dev/null
    v4l2-ctl -d /dev/video0 --set-ctrl horizontal_movement=6
    deadline=$(( $(centiseconds) + 3000 ))
    while [ "$(grep -c "capture reopened" "$out/slomod.log")" -le "$reopens" ]; do
        [ $(centiseconds) -gt $deadline ] && { echo "guest: slomod did not reopen vivid"; break; }
        sleep 0.3
    done
    event resumed
    sleep 5
    event signal_end
    control STATUS status
    control STATS stats
    kill -INT $consumer
    wait $consumer
    echo "CONSUMER rc=$?"
    consumer=""
    grep -E "Stream #0:0" "$out/e2e-ffmpeg.log" | sed 's/^/FFMPEG /'
    kill -TERM $daemon
    wait $daemon
    echo "DAEMON_EXIT rc=$?"
    daemon=""
    cat "$out/slomod.log"
}

# slomod on the virtio-gpu display (vivid again, freshly bound): the host takes
# a screendump while it shows; after SIGTERM the CRTC must show the console's framebuffer
# again. A second handle on the card, opened once slomod is master, stays open across its
# exit: the kernel's own fbdev restore runs only at the last close, so it cannot stand in
# for slomod's.
scenario_daemon_drm() {
    daemon_warmup || return 1
    echo "CRTC before $(crtc)"
    "$bin/slomod" --input "$vivid" --width 320 --height 180 --fps 5 --scale 2 \
        --output /dev/dri/card0 --socket /tmp/slomod-drm.sock > "$out/slomod-drm.log" 2>&1 &
    drm=$!
    wait_running $drm /tmp/slomod-drm.sock "$out/slomod-drm.log" "$start_limit" || return 1
    exec 9< /dev/dri/card0
    # slomod starts on a black buffer; a page flip (a new framebuffer on the CRTC) puts a frame
    # up. Drawing one takes seconds here (XRGB conversion on the CPU under TCG).
    first=$(crtc)
    deadline=$(( $(centiseconds) + 6000 ))
    while [ "$(crtc)" = "$first" ] && [ $(centiseconds) -lt $deadline ]; do sleep 0.3; done
    echo "CRTC during $(crtc)"
    rm -f "$out/daemon-drm.done"
    echo "@@screendump daemon-drm"
    n=0
    while [ ! -e "$out/daemon-drm.done" ] && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.2; done
    kill -TERM $drm
    wait $drm
    echo "DAEMON_EXIT rc=$?"
    echo "CRTC after $(crtc)"
    exec 9<&-
    cat "$out/slomod-drm.log"
}

# vivid reloaded as a multi-planar camera (multiplanar=2: its capture node speaks only the
# MPLANE API, as HDMI capture cards and SoC camera pipelines do), or back as it was loaded.
vivid_reload() {
    rmmod vivid || return 1
    modprobe vivid n_devs=1 "$@" || return 1
    udevadm settle 2>/dev/null
    n=0
    until [ -e "$vivid" ]; do n=$((n + 1)); [ $n -gt 100 ] && { echo "guest: no $vivid after reloading vivid"; return 1; }; sleep 0.1; done
    v4l2-ctl -d "$vivid" --info | grep -E "Device Caps" -A3 | sed "s/^/CAPS ${1:-multiplanar=1} /"
}

# V4L2Capture on the multi-planar vivid: every format slomo knows that it offers (planes in
# buffers of their own, single-buffer forms, vivid's 128-byte header before plane 0 of YUYV and
# NV16M and before plane 1 of NV61M), then a consumer that holds each frame for 100 ms (three
# intervals at 30 fps: capture must drain to the newest), then the best mode, unasked.
scenario_capture_mplane() {
    vivid_reload multiplanar=2 || return 1
    rc=0
    v4l2-ctl -d "$vivid" --list-formats-ext 2>/dev/null | grep -E "^\s*\[[0-9]+\]" | sed 's/^/FORMATS /'
    "$probe" capture --device "$vivid" --width 320 --height 180 --fps 30 \
        --formats nv12m,nv21m,yu12m,yv12m,nv16m,nv61m,yuv422m,yuyv,nv12,yu12,yv12,nv16,nv61,yuv422p --seconds 2 || rc=1
    "$probe" capture --device "$vivid" --width 320 --height 180 --fps 30 --formats nv12m --seconds 3 --hold-ms 100 | sed 's/^CAPTURE/HELD/'
    "$probe" capture --device "$vivid" --seconds 2 | sed 's/^CAPTURE/BEST/'
    vivid_reload || rc=1
    return $rc
}

# Records what slomod writes to loopback $1 (luma, with showinfo's timestamps) into OUTDIR/$2.gray
# and $2-ffmpeg.log, until the caller ends it; sets $consumer.
record_output() {
    ffmpeg -nostdin -nostats -hide_banner -f v4l2 -i "$1" -copyts -fps_mode passthrough -vf showinfo \
        -pix_fmt gray -f rawvideo -y "$out/$2.gray" > "$out/$2-ffmpeg.log" 2>&1 &
    consumer=$!
    wait_for "n:   8 " "$out/$2-ffmpeg.log" 120 $consumer || { cat "$out/$2-ffmpeg.log"; return 1; }
}

# Ends slomod ($daemon) and the consumer after a recording, and reports how each ended.
end_daemon_run() {
    control STATS stats
    kill -INT $consumer
    wait $consumer
    echo "CONSUMER rc=$?"
    consumer=""
    grep -E "Stream #0:0" "$out/$1-ffmpeg.log" | sed 's/^/FFMPEG /'
    kill -TERM $daemon
    wait $daemon
    echo "DAEMON_EXIT rc=$?"
    daemon=""
    cat "$out/$1-slomod.log"
}

# The multi-planar vivid (moving colour bars, 2 fps as in daemon_loopback) through slomod into
# /dev/video10, read by ffmpeg. Which format slomod takes is its own choice; the node offers
# no other API, and v4l2-ctl shows the format slomod set while it streams.
scenario_daemon_mplane() {
    daemon_warmup || return 1
    vivid_reload multiplanar=2 || return 1
    v4l2-ctl -d "$vivid" --set-ctrl horizontal_movement=6 || return 1
    "$bin/slomod" --input "$vivid" --width 320 --height 180 --fps 2 --scale 2 --latency-budget 650 --preset quality \
        --output /dev/video10 --socket "$daemon_socket" > "$out/mplane-slomod.log" 2>&1 &
    daemon=$!
    wait_running $daemon "$daemon_socket" "$out/mplane-slomod.log" "$start_limit" || return 1
    v4l2-ctl -d "$vivid" --get-fmt-video | sed 's/^/FMT /'
    record_output /dev/video10 mplane || return 1
    sleep 2
    event mplane_steady
    sleep 12
    event mplane_end
    end_daemon_run mplane
    vivid_reload
}

# An MJPEG camera: ffmpeg encodes its test source to MJPEG into /dev/video12 at 2 fps (write(),
# as a camera app would) and the camera declares that rate (ffmpeg sets none, and v4l2loopback
# then offers its default 30 fps alone); slomod decodes it and writes /dev/video11, which ffmpeg
# reads. The source's first frames, as luma, go to OUTDIR/testsrc2.gray for the host to compare.
scenario_daemon_mjpeg() {
    daemon_warmup || return 1
    ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x180:rate=2 \
        -c:v mjpeg -q:v 3 -f v4l2 /dev/video12 > "$out/mjpeg-camera.log" 2>&1 &
    camera=$!
    n=0
    until v4l2-ctl -d /dev/video12 --get-fmt-video 2>/dev/null | grep -q MJPG; do
        n=$((n + 1)); [ $n -gt 300 ] && { echo "guest: ffmpeg never fed /dev/video12"; cat "$out/mjpeg-camera.log"; return 1; }
        sleep 0.2
    done
    v4l2-ctl -d /dev/video12 --set-parm=2 | sed 's/^/PARM /'
    "$bin/slomod" --input /dev/video12 --width 320 --height 180 --fps 2 --scale 2 --latency-budget 650 --preset quality \
        --output /dev/video11 --socket "$daemon_socket" > "$out/mjpeg-slomod.log" 2>&1 &
    daemon=$!
    wait_running $daemon "$daemon_socket" "$out/mjpeg-slomod.log" "$start_limit" || return 1
    control STATUS status
    record_output /dev/video11 mjpeg || return 1
    sleep 2
    event mjpeg_steady
    sleep 12
    event mjpeg_end
    end_daemon_run mjpeg
    kill $camera
    wait $camera 2>/dev/null
    ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x180:rate=2 -frames:v 40 -pix_fmt gray -f rawvideo -y "$out/testsrc2.gray"
}

# vivid's HDMI input (input 3) as the HDMI receiver of a capture card without a scaler
# (ccs_cap_mode=0: frames are the size the timings say), its source sending preset $1.
hdmi_input() {
    vivid_reload ccs_cap_mode=0 || return 1
    v4l2-ctl -d "$vivid" --set-input 3 > /dev/null || return 1
    hdmi_source "$1"
}

# The HDMI source switches to preset $1 (as vivid's "DV Timings" menu names it, 720x480p59):
# the receiver detects it (QUERY_DV_TIMINGS) and sends V4L2_EVENT_SOURCE_CHANGE. The timings
# set (S_DV_TIMINGS) stay the reader's to change; vivid refuses that (EBUSY) while it streams.
hdmi_source() {
    index=$(v4l2-ctl -d "$vivid" --list-ctrls-menus | awk -v name="$1" '
        $1 == "dv_timings" { menu = 1; next }
        menu && $1 ~ /^[0-9]+:$/ { if ($2 == name) { sub(":", "", $1); print $1; exit } next }
        menu { exit }')
    [ -n "$index" ] || { echo "guest: vivid's HDMI source has no timings $1"; return 1; }
    # Signal mode 4: the source sends the timings selected in the dv_timings menu.
    v4l2-ctl -d "$vivid" --set-ctrl dv_timings_signal_mode=4,dv_timings="$index"
}

# An HDMI source changing timings mid-stream (640x480p59 -> 720x480p59) under V4L2Capture:
# it must take the change up once, in place, and lend no frame in a format not its own.
scenario_capture_source_change() {
    hdmi_input 640x480p59 || return 1
    "$probe" capture --device "$vivid" --seconds 8 --announce > "$out/source-change.log" 2>&1 &
    reader=$!
    wait_for STREAMING "$out/source-change.log" 60 $reader || { cat "$out/source-change.log"; kill $reader; return 1; }
    sleep 1
    hdmi_source 720x480p59
    wait $reader
    rc=$?
    cat "$out/source-change.log"
    vivid_reload || rc=1
    return $rc
}

# The same change through slomod (HDMI presets run at 59.94 fps: x2 makes 120 fps) into
# /dev/video10, which ffmpeg reads (showinfo's sizes, timestamps and checksums only, no
# recording: at this rate that would be most of the guest's time). The output must keep its size
# and keep coming, and the capture must go on. Under TCG the fit of each new frame takes about a
# second on lavapipe, so those frames reach the output later than any latency bound allows and
# it holds its last frame: that the fitted picture moves is SourceChangeTests' to show, on the host.
# In yuv420p (V4L2's YU12), the test pattern's format: daemon_warmup's start compiled every shader
# slomod needs for it (the shaders are specialised by pixel format, not size), and under TCG each
# shader that another format needs adds minutes to the start.
scenario_daemon_source_change() {
    daemon_warmup || return 1
    hdmi_input 640x480p59 || return 1
    "$bin/slomod" --input "$vivid" --width 640 --height 480 --fps 60 --pixel-format yuv420p --scale 2 --preset fast \
        --output /dev/video10 --socket "$daemon_socket" > "$out/hdmi-slomod.log" 2>&1 &
    daemon=$!
    wait_running $daemon "$daemon_socket" "$out/hdmi-slomod.log" "$start_limit" || return 1
    ffmpeg -nostdin -nostats -hide_banner -f v4l2 -i /dev/video10 -copyts -fps_mode passthrough -vf showinfo \
        -f null - > "$out/hdmi-ffmpeg.log" 2>&1 &
    consumer=$!
    wait_for "n:   8 " "$out/hdmi-ffmpeg.log" 120 $consumer || { cat "$out/hdmi-ffmpeg.log"; return 1; }
    control STATUS_BEFORE status
    event hdmi_change
    hdmi_source 720x480p59 || return 1
    wait_for "the source now sends 720x480" "$out/hdmi-slomod.log" 60 $daemon || return 1
    event hdmi_taken_up
    control STATS_TAKEN_UP stats
    sleep 5
    event hdmi_end
    control STATUS_AFTER status
    end_daemon_run hdmi
    vivid_reload
}

# Ends this script's background processes (gently, then not) and waits for them.
end_children() {
    children=$(pgrep -P $$)
    [ -n "$children" ] || return 0
    echo "guest: ending $(echo $children | wc -w) leftover process(es)"
    kill -TERM $children 2>/dev/null
    n=0
    while [ -n "$(pgrep -P $$)" ] && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.2; done
    children=$(pgrep -P $$)
    [ -z "$children" ] || kill -KILL $children 2>/dev/null
    wait 2>/dev/null
}

load_drivers || { echo "guest: loading drivers failed"; exit 1; }
status=0
for scenario in "$@"; do
    echo "=== BEGIN $scenario"
    start=$(date +%s)
    "scenario_$scenario"
    rc=$?
    echo "=== END $scenario rc=$rc seconds=$(( $(date +%s) - start ))"
    if [ $rc -ne 0 ]; then
        status=1
        # A failed scenario ends everything it started, so the next finds its devices free
        # (the daemon_* scenarios that share its daemon then fail at once, not on a busy device).
        end_children
        daemon=""
        consumer=""
    fi
done
exit $status
