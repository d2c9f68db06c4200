// Exercises the V4L2 and DRM classes against real drivers inside the test VM and prints one
// `KEY k=v ...` line per result for the host test to check (Tests/vm/guest.sh runs it).
import ArgumentParser
import Glibc
import SloMoCore
import SloMoDRM
import SloMoLinux
import SloMoV4L2

@main
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slomo-kio-probe",
        subcommands: [Capture.self, Feed.self, Stall.self, Resilient.self, Display.self])
}

/// Prints one result line at once (stdout is a pipe to the host, and the host reacts to lines).
func report(_ line: String) {
    print(line)
    fflush(stdout)
}

func secondsText(_ nanoseconds: UInt64) -> String { String(format: "%.3f", Double(nanoseconds) / 1e9) }

/// Captures for a while in each format asked for (one process for all: each start costs seconds
/// in the VM) and reports the negotiated format, the frame count, the rate at which frames
/// arrived and timestamp checks.
struct Capture: ParsableCommand {
    @Option var device: String
    @Option var width: Int?
    @Option var height: Int?
    @Option var fps: Int?
    @Option(help: "Comma-separated V4L2 formats; none: the best the device offers.") var formats: String?
    @Option var seconds: Double = 2
    @Option(help: "Milliseconds to hold each frame: a consumer that falls behind, to make the capture drain.") var holdMs = 0
    @Flag(help: "Print STREAMING at the first frame, for a scenario to change the source mid-stream.") var announce = false

    func run() throws {
        guard let formats else { return try capture(nil) }
        for name in formats.split(separator: ",") {
            guard let f = V4L2PixelFormat(rawValue: String(name)) else { throw ValidationError("unknown format \(name)") }
            try capture(f)
        }
    }

    func capture(_ pixelFormat: V4L2PixelFormat?) throws {
        let format = pixelFormat?.rawValue
        let capture = V4L2Capture(CaptureConfig(device: device, width: width, height: height,
                                                frameRate: fps.map { Rational($0) }, pixelFormat: pixelFormat))
        do {
            try capture.open()
        } catch {
            report("CAPTURE device=\(device) format=\(format ?? "best") error=\"\(error)\"")
            return
        }
        defer { capture.close() }
        let start = Sys.monotonicNow()
        let end = start + UInt64(seconds * 1e9)
        var frames = 0, backwards = 0, wrongSize = 0, gaps = 0
        var first: UInt64 = 0, last: UInt64 = 0, lastSequence: UInt64?, maxSkew: UInt64 = 0
        var lumaMin = 255, lumaMax = 0
        var firstArrival: UInt64 = 0, lastArrival: UInt64 = 0
        // A stream from `feed` carries its frame number in the first two luma samples: the frames
        // the producer wrote over this window, to tell a slow producer from a lossy path.
        var firstNumber = 0, lastNumber = 0
        // Frames the sequence numbers skipped, and how old each frame was when it was lent (signed:
        // vivid stamps a frame's ideal time, which can lie up to an interval ahead of its dequeue).
        var skipped: UInt64 = 0
        var ages: [Int64] = []
        var bars = ""
        // The frame sizes in the order they came, each with its count: a source change shows as a second run.
        var sizes: [(size: String, frames: Int)] = []
        while Sys.monotonicNow() < end {
            _ = try capture.next(timeoutNanoseconds: 500_000_000) { frame in
                let now = Sys.monotonicNow()
                if frames == 0 { firstArrival = now }
                lastArrival = now
                if frames == 0 { first = frame.timestamp } else if frame.timestamp <= last { backwards += 1 }
                if let lastSequence, frame.sequence != lastSequence + 1 {
                    gaps += 1
                    if frame.sequence > lastSequence { skipped += frame.sequence - lastSequence - 1 }
                }
                ages.append(Int64(bitPattern: now &- frame.timestamp))
                lastSequence = frame.sequence
                last = frame.timestamp
                maxSkew = max(maxSkew, now > frame.timestamp ? now - frame.timestamp : frame.timestamp - now)
                // A frame must be as large as its format, and of the size and layout the capture
                // negotiated (its colour may differ: a JPEG says its own range).
                let negotiated = capture.format
                if frame.bytes.count != frame.format.byteCount || frame.format.width != negotiated.width
                    || frame.format.height != negotiated.height || frame.format.pixelFormat != negotiated.pixelFormat { wrongSize += 1 }
                let size = "\(frame.format.width)x\(frame.format.height)"
                if sizes.last?.size == size { sizes[sizes.count - 1].frames += 1 } else { sizes.append((size, 1)) }
                if announce && frames == 0 { report("STREAMING device=\(device) size=\(size)") }
                // The first byte of each luma sample's plane: enough to see a picture, not a blank.
                let step = frame.format.pixelFormat == .yuyv ? 2 : frame.format.pixelFormat == .uyvy ? 2 : 1
                let offset = frame.format.pixelFormat == .uyvy ? 1 : 0
                if frame.bytes.count > offset + step {
                    let number = Int(frame.bytes[offset]) << 8 | Int(frame.bytes[offset + step])
                    if frames == 0 { firstNumber = number }
                    lastNumber = number
                }
                for i in stride(from: offset, to: min(frame.bytes.count, frame.format.width * step), by: step) {
                    lumaMin = min(lumaMin, Int(frame.bytes[i]))
                    lumaMax = max(lumaMax, Int(frame.bytes[i]))
                }
                if frames == 0 { bars = Bars.signature(frame) }
                frames += 1
                if holdMs > 0 { usleep(UInt32(holdMs) * 1000) }
            }
        }
        let span = frames > 1 ? Double(last - first) / 1e9 : 0
        let arrivalSpan = frames > 1 ? Double(lastArrival - firstArrival) / 1e9 : 0
        report("CAPTURE device=\(device) resolved=\(capture.devicePath) format=\(capture.deviceFormat.rawValue) "
               + "pixfmt=\(capture.format.pixelFormat.rawValue) size=\(capture.format.width)x\(capture.format.height) "
               + "rate=\(capture.frameRate) frames=\(frames) fps=\(String(format: "%.2f", span > 0 ? Double(frames - 1) / span : 0)) "
               + "arrivalfps=\(String(format: "%.2f", arrivalSpan > 0 ? Double(frames - 1) / arrivalSpan : 0)) "
               + "backwards=\(backwards) gaps=\(gaps) wrongsize=\(wrongSize) corrupt=\(capture.corruptFrames) "
               + "drivertimestamps=\(capture.driverTimestamps ? 1 : 0) maxskewms=\(maxSkew / 1_000_000) "
               + "matrix=\(capture.format.color.matrix.rawValue) range=\(capture.format.color.range.rawValue) "
               + "rowspread=\(lumaMax - lumaMin) numbers=\(firstNumber)..\(lastNumber) "
               + "api=\(capture.multiPlanar ? "mplane" : "single") drained=\(capture.drainedFrames) skipped=\(skipped) "
               + "medianagems=\(ages.isEmpty ? "none" : String(ages.sorted()[ages.count / 2] / 1_000_000)) bars=\(bars) "
               + "changes=\(capture.sourceChanges) timings=\(capture.dvTimings?.description ?? "none") "
               + "sizes=\(sizes.map { "\($0.size):\($0.frames)" }.joined(separator: ","))")
    }
}

/// Y, Cb and Cr at the middle of each of eight vertical bars, near the bottom of the picture
/// (below vivid's text): "Y/Cb/Cr,..." from left to right, or "none" for RGB. Read from the
/// engine's packed frame, so it shows what any repacking made of the driver's planes.
enum Bars {
    static func signature(_ frame: LentFrame) -> String {
        let f = frame.format
        guard !f.pixelFormat.isRGB, frame.bytes.count >= f.byteCount else { return "none" }
        let planes = f.pixelFormat.planes(width: f.width, height: f.height)
        let (sx, sy) = f.pixelFormat.chromaShift
        let y = f.height * 19 / 20
        return (0..<8).map { bar in
            let x = (2 * bar + 1) * f.width / 16
            let samples: [Int]
            switch f.pixelFormat {
            case .yuyv, .uyvy:
                let base = y * planes[0].stride + x / 2 * 4
                let (luma, cb, cr) = f.pixelFormat == .yuyv ? (base + x % 2 * 2, base + 1, base + 3) : (base + 1 + x % 2 * 2, base, base + 2)
                samples = [luma, cb, cr].map { Int(frame.bytes[$0]) }
            case .nv12:
                let chroma = planes[1].offset + (y >> sy) * planes[1].stride + (x >> sx) * 2
                samples = [y * planes[0].stride + x, chroma, chroma + 1].map { Int(frame.bytes[$0]) }
            default:
                samples = [planes[0].offset + y * planes[0].stride + x,
                           planes[1].offset + (y >> sy) * planes[1].stride + (x >> sx),
                           planes[2].offset + (y >> sy) * planes[2].stride + (x >> sx)].map { Int(frame.bytes[$0]) }
            }
            return samples.map(String.init).joined(separator: "/")
        }.joined(separator: ",")
    }
}

nonisolated(unsafe) var rateChangeRequested: sig_atomic_t = 0

/// Feeds a loopback device with a moving ramp whose first luma bytes carry the frame number
/// (big-endian, 2 bytes), so a consumer's recording shows order, drops and repeats.
/// SIGUSR1 halves the rate once (setFrameRate, no reopen).
struct Feed: ParsableCommand {
    @Option var device: String
    @Option var width = 320
    @Option var height = 240
    @Option var format = "yuyv"
    @Option var fps = 30
    @Option var seconds: Double = 10

    func run() throws {
        guard let pixelFormat = PixelFormat(rawValue: format) else { throw ValidationError("unknown format \(format)") }
        let frameFormat = FrameFormat(width: width, height: height, pixelFormat: pixelFormat, color: .guess(height: height))
        let output = LoopbackOutput(device: device)
        // Opened twice: a daemon restarting its output must find the device writable again.
        try output.open(format: frameFormat, frameRate: Rational(fps))
        output.close()
        try output.open(format: frameFormat, frameRate: Rational(fps))
        defer { output.close() }
        signal(SIGUSR1) { _ in rateChangeRequested = 1 }
        report("FEED_READY device=\(device) size=\(width)x\(height) format=\(format) fps=\(fps)")
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: frameFormat.byteCount, alignment: 64)
        defer { frame.deallocate() }
        let start = Sys.monotonicNow()
        var index = 0
        var changed = false
        while Sys.monotonicNow() < start + UInt64(seconds * 1e9) {
            if rateChangeRequested != 0 && !changed {
                changed = true
                try output.setFrameRate(Rational(fps, 2))
                report("FEED_RATE fps=\(Rational(fps, 2))")
            }
            Ramp.draw(frameFormat, index: index, into: frame)
            try output.write(UnsafeRawBufferPointer(frame), timestamp: Sys.monotonicNow())
            index += 1
        }
        let elapsed = Sys.monotonicNow() - start
        report("FEED_DONE frames=\(output.framesWritten) seconds=\(secondsText(elapsed))")
    }
}

enum Ramp {
    /// A horizontal gray ramp moving 4 pixels per frame, neutral chroma, frame number in the first two luma samples.
    static func draw(_ format: FrameFormat, index: Int, into frame: UnsafeMutableRawBufferPointer) {
        let planes = format.pixelFormat.planes(width: format.width, height: format.height)
        let (lumaStep, lumaOffset): (Int, Int)
        switch format.pixelFormat {
        case .yuyv: (lumaStep, lumaOffset) = (2, 0)
        case .uyvy: (lumaStep, lumaOffset) = (2, 1)
        default: (lumaStep, lumaOffset) = (1, 0)
        }
        frame.initializeMemory(as: UInt8.self, repeating: 128)
        let row = planes[0]
        for y in 0..<format.height {
            for x in 0..<format.width {
                frame[row.offset + y * row.stride + x * lumaStep + lumaOffset] = UInt8(truncatingIfNeeded: 16 + (x + index * 4) % 220)
            }
        }
        frame[row.offset + lumaOffset] = UInt8(truncatingIfNeeded: index >> 8)
        frame[row.offset + lumaStep + lumaOffset] = UInt8(truncatingIfNeeded: index)
    }
}

/// Captures from a loopback device fed by this process, stops feeding, and reports how the
/// capture noticed: it must throw `noSignal` within its stall limit.
struct Stall: ParsableCommand {
    @Option var device: String
    @Option var feedSeconds: Double = 2

    func run() throws {
        let frameFormat = FrameFormat(width: 320, height: 240, pixelFormat: .yuyv, color: .guess(height: 240))
        let output = LoopbackOutput(device: device)
        try output.open(format: frameFormat, frameRate: Rational(30))
        defer { output.close() }
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: frameFormat.byteCount, alignment: 64)
        defer { frame.deallocate() }
        // Feed on another thread; the capture below reads what it writes through the driver.
        let feedEnd = Sys.monotonicNow() + UInt64(feedSeconds * 1e9)
        var feeder = pthread_t()
        final class Job { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
        let job = Unmanaged.passRetained(Job {
            var index = 0
            while Sys.monotonicNow() < feedEnd {
                Ramp.draw(frameFormat, index: index, into: frame)
                try? output.write(UnsafeRawBufferPointer(frame), timestamp: Sys.monotonicNow())
                index += 1
            }
        })
        pthread_create(&feeder, nil, { argument in
            Unmanaged<Job>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, job.toOpaque())
        let capture = V4L2Capture(CaptureConfig(device: device, minimumStallNanoseconds: 1_000_000_000))
        try capture.open()
        defer { capture.close() }
        var frames = 0
        var outcome = "none"
        var stalledAfter: UInt64 = 0
        let giveUp = Sys.monotonicNow() + UInt64(feedSeconds * 1e9) + 10_000_000_000
        do {
            while Sys.monotonicNow() < giveUp {
                _ = try capture.next(timeoutNanoseconds: 200_000_000) { _ in frames += 1 }
            }
        } catch CaptureError.noSignal(_, let stalled) {
            outcome = "noSignal"
            stalledAfter = stalled
        }
        pthread_join(feeder, nil)
        report("STALL device=\(device) frames=\(frames) outcome=\(outcome) stalledms=\(stalledAfter / 1_000_000)")
    }
}

/// Runs a ResilientSource until it has lost the device and got it back, reporting each change.
struct Resilient: ParsableCommand {
    @Option var device: String
    @Option var seconds: Double = 120
    @Option var framesAfterRecovery = 30
    @Option var recoveries = 2

    func run() throws {
        let fallback = FrameFormat(width: 640, height: 360, pixelFormat: .yuyv, color: .guess(height: 360))
        let capture = V4L2Capture(CaptureConfig(device: device, width: 640, height: 360, frameRate: Rational(30), pixelFormat: .yuyv))
        let source = ResilientSource(capture, fallbackFormat: fallback, fallbackRate: Rational(30))
        let start = Sys.monotonicNow()
        source.onSignalChange = { signal in
            switch signal {
            case .present: report("SIGNAL present t=\(secondsText(Sys.monotonicNow() - start)) resolved=\(capture.devicePath)")
            case .lost(let error): report("SIGNAL lost t=\(secondsText(Sys.monotonicNow() - start)) reason=\"\(error)\"")
            }
        }
        try source.open()
        var before = 0, after = 0
        while Sys.monotonicNow() < start + UInt64(seconds * 1e9) && after < framesAfterRecovery {
            _ = try source.next(timeoutNanoseconds: 200_000_000) { _ in
                if source.recoveries == 0 { before += 1 } else if source.recoveries >= recoveries { after += 1 }
            }
        }
        source.close()
        report("RESILIENT before=\(before) after=\(after) recoveries=\(source.recoveries) failedreopens=\(source.failedReopens)")
    }
}

/// Shows a known picture (four coloured quadrants, 16:9, so letterboxed on a 16:10 or 4:3
/// mode) in yuv420p, asks the host for a screendump and holds the picture until `--until-file`
/// appears; then streams xrgb8888 frames at the mode's size to measure the page-flip rate.
/// After each close it checks that the CRTC shows what it showed before.
struct Display: ParsableCommand {
    @Option var card: String
    @Option var untilFile: String
    @Option var timeout: Double = 120
    @Option var flipFrames = 120

    func run() throws {
        let before = try CRTCState.read(card: card)
        let format = FrameFormat(width: 320, height: 180, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .limited))
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: format.byteCount, alignment: 64)
        defer { frame.deallocate() }
        Quadrants.draw(format, into: frame)
        let output = DRMOutput(DisplayConfig(card: card))
        try output.open(format: format, frameRate: Rational(60))
        let mode = output.mode!
        let crtc = output.crtcID
        report("DRM_OPEN connector=\(output.connectorName) mode=\(mode) crtc=\(crtc) master=\(output.isMaster ? 1 : 0)")
        // Held open past the outputs' close: when the last client of a card closes, the kernel's
        // fbdev console restores its own mode, which would hide a close that restores nothing.
        let observer = open(card, O_RDWR | O_CLOEXEC)
        defer { Glibc.close(observer) }
        // Converting on the CPU is slow in a debug build under TCG: a few frames show the picture.
        for _ in 0..<3 { try output.write(UnsafeRawBufferPointer(frame), timestamp: Sys.monotonicNow()) }
        report("DRM_SHOWING flips=\(output.flipsCompleted)")
        // The host runner takes a screendump on this request and creates the file when done.
        report("@@screendump drm")
        let start = Sys.monotonicNow()
        while access(untilFile, F_OK) != 0 && Sys.monotonicNow() < start + UInt64(timeout * 1e9) { usleep(100_000) }
        output.close()
        let afterPicture = try CRTCState.read(card: card)

        let screen = FrameFormat(width: mode.width, height: mode.height, pixelFormat: .xrgb8888, color: .guess(height: mode.height))
        let full = UnsafeMutableRawBufferPointer.allocate(byteCount: screen.byteCount, alignment: 64)
        defer { full.deallocate() }
        full.initializeMemory(as: UInt8.self, repeating: 0x40)
        let flipping = DRMOutput(DisplayConfig(card: card, bufferCount: 2))
        try flipping.open(format: screen, frameRate: Rational(mode.refresh))
        let flipStart = Sys.monotonicNow()
        for _ in 0..<flipFrames { try flipping.write(UnsafeRawBufferPointer(full), timestamp: Sys.monotonicNow()) }
        let flipSeconds = Double(Sys.monotonicNow() - flipStart) / 1e9
        flipping.close()
        // Read after close, which waits for the last flip's event.
        let flips = flipping.flipsCompleted
        let after = try CRTCState.read(card: card)
        report("DRM_CLOSED flips=\(flips) fliprate=\(String(format: "%.1f", Double(flips) / flipSeconds)) "
               + "restored=\(before == afterPicture && before == after ? 1 : 0) "
               + "before_fb=\(before[crtc]?.framebuffer ?? 0) after_fb=\(after[crtc]?.framebuffer ?? 0) "
               + "before_mode=\(before[crtc]?.mode?.description ?? "none") after_mode=\(after[crtc]?.mode?.description ?? "none")")
    }
}

enum Quadrants {
    /// Red, green / blue, white in BT.601 limited-range YCbCr.
    static let colours: [(y: UInt8, cb: UInt8, cr: UInt8)] = [(81, 90, 240), (145, 54, 34), (41, 240, 110), (235, 128, 128)]

    static func draw(_ format: FrameFormat, into frame: UnsafeMutableRawBufferPointer) {
        let planes = format.pixelFormat.planes(width: format.width, height: format.height)
        for (index, plane) in planes.enumerated() {
            for y in 0..<plane.height {
                for x in 0..<plane.width {
                    let quadrant = (y * 2 / plane.height) * 2 + x * 2 / plane.width
                    let c = colours[quadrant]
                    frame[plane.offset + y * plane.stride + x] = index == 0 ? c.y : index == 1 ? c.cb : c.cr
                }
            }
        }
    }
}
