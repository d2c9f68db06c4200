import CDRM
import Glibc
import SloMoCore
import SloMoLinux

/// Which display to drive; every field but the card is optional.
public struct DisplayConfig: Equatable, Sendable {
    /// `/dev/dri/cardN` (symlinks such as `/dev/dri/by-path/...` are resolved).
    public var card: String
    /// A connector name as the kernel spells it ("HDMI-A-1", "Virtual-1"); nil: the first connected.
    public var connector: String?
    /// A mode to ask for; nil: the connector's preferred mode.
    public var width: Int?
    public var height: Int?
    public var refresh: Int?
    /// Scanout buffers: 2 (double) or 3 (triple: drawing never waits for the flip before).
    public var bufferCount: Int

    public init(card: String, connector: String? = nil, width: Int? = nil, height: Int? = nil,
                refresh: Int? = nil, bufferCount: Int = 3) {
        self.card = card
        self.connector = connector
        self.width = width
        self.height = height
        self.refresh = refresh
        self.bufferCount = bufferCount
    }
}

/// A display driven directly through KMS, for a capture box with no desktop.
///
/// Frames go into dumb XRGB8888 buffers on the CPU (`XRGBConverter`: any slomo pixel format,
/// scaled to fit with black bars; frames already xrgb8888 at the mode's size are copied row by
/// row), then onto the screen with page flips that complete at vblank: `write` waits for the
/// previous flip's event before queueing the next, so the display paces the writer to its
/// refresh rate. Whatever the CRTC showed before `open` (a console, a splash) is set back at
/// `close`.
public final class DRMOutput: FrameSink {
    public let config: DisplayConfig
    /// Valid after `open`.
    public private(set) var mode: DisplayMode?
    public private(set) var connectorName = ""
    public private(set) var crtcID: UInt32 = 0
    /// Whether this process became DRM master (modesetting needs it unless no one else is).
    public private(set) var isMaster = false
    /// Page flips completed since `open`, and the vblank time of the last one (CLOCK_MONOTONIC ns).
    public private(set) var flipsCompleted = 0
    public private(set) var lastFlipTime: UInt64 = 0
    public private(set) var frameRate = Rational(60)

    private struct Scanout {
        var handle: UInt32
        var framebuffer: UInt32
        var pitch: Int
        var mapping: UnsafeMutableRawBufferPointer
    }

    private var card: DRMCard?
    private var connectorID: UInt32 = 0
    private var saved: slomo_drm_mode_crtc?
    private var scanouts: [Scanout] = []
    private var front = 0
    private var pending: Int?
    private var converter: XRGBConverter?
    private let events = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)

    public init(_ config: DisplayConfig) {
        precondition(config.bufferCount == 2 || config.bufferCount == 3, "DRMOutput buffers: 2 or 3")
        self.config = config
    }

    deinit {
        close()
        events.deallocate()
    }

    public func open(format: FrameFormat, frameRate: Rational) throws(DisplayError) {
        close()
        do {
            try start(format: format)
        } catch {
            close()
            throw error
        }
        self.frameRate = frameRate
    }

    private func start(format: FrameFormat) throws(DisplayError) {
        let card: DRMCard
        do {
            card = try DRMCard(path: config.card)
        } catch {
            throw error.errno == ENOENT || error.errno == ENODEV || error.errno == ENXIO ? .noDevice(path: config.card) : .driver(error)
        }
        self.card = card
        try mapErrors {
            guard try card.capability(UInt64(SLOMO_DRM_CAP_DUMB_BUFFER)) != 0 else {
                throw DisplayError.unsupported(path: card.path, reason: "no dumb buffers")
            }
            isMaster = try card.becomeMaster()
            let (crtcs, connectorIDs) = try card.resources()
            guard !crtcs.isEmpty, !connectorIDs.isEmpty else {
                throw DisplayError.unsupported(path: card.path, reason: "no CRTCs or connectors (not a KMS card)")
            }
            let connector = try pickConnector(card, ids: connectorIDs)
            let mode = try pickMode(connector)
            let crtc = try pickCRTC(card, connector: connector, crtcs: crtcs)
            connectorID = connector.id
            connectorName = connector.name
            crtcID = crtc
            self.mode = mode
            saved = try card.crtc(crtc)
            for _ in 0..<config.bufferCount {
                let dumb = try card.createDumb(width: mode.width, height: mode.height)
                let mapping: UnsafeMutableRawBufferPointer
                do { mapping = try card.mapDumb(handle: dumb.handle, size: dumb.size) } catch {
                    card.destroyDumb(handle: dumb.handle)
                    throw error
                }
                let framebuffer: UInt32
                do { framebuffer = try card.addFramebuffer(handle: dumb.handle, width: mode.width, height: mode.height, pitch: dumb.pitch) } catch {
                    Sys.munmap(mapping)
                    card.destroyDumb(handle: dumb.handle)
                    throw error
                }
                mapping.initializeMemory(as: UInt8.self, repeating: 0)
                scanouts.append(Scanout(handle: dumb.handle, framebuffer: framebuffer, pitch: dumb.pitch, mapping: mapping))
            }
            do {
                try card.setCRTC(crtc, framebuffer: scanouts[0].framebuffer, connectors: [connector.id], mode: mode.info)
            } catch let error as SystemError where error.errno == EACCES || error.errno == EPERM {
                throw DisplayError.notMaster(path: card.path)
            }
        }
        front = 0
        pending = nil
        flipsCompleted = 0
        converter = XRGBConverter(source: format, width: mode!.width, height: mode!.height)
    }

    private func pickConnector(_ card: DRMCard, ids: [UInt32]) throws -> Connector {
        var seen: [String] = []
        for id in ids {
            let connector = try card.connector(id)
            seen.append(connector.name + (connector.connected ? "" : " (disconnected)"))
            if let wanted = config.connector {
                if connector.name == wanted {
                    guard connector.connected, !connector.modes.isEmpty else { throw DisplayError.noConnector("\(wanted) has no display attached") }
                    return connector
                }
            } else if connector.connected && !connector.modes.isEmpty {
                return connector
            }
        }
        throw DisplayError.noConnector((config.connector.map { "\($0) not found" } ?? "none connected") + " among \(seen.joined(separator: ", "))")
    }

    /// The requested mode (size, then refresh if given), else the preferred one, else the first.
    private func pickMode(_ connector: Connector) throws -> DisplayMode {
        if config.width != nil || config.height != nil || config.refresh != nil {
            let matches = connector.modes.filter {
                (config.width == nil || $0.width == config.width) && (config.height == nil || $0.height == config.height)
                    && (config.refresh == nil || $0.refresh == config.refresh)
            }
            guard let mode = matches.first(where: \.isPreferred) ?? matches.first else {
                let wanted = "\(config.width.map(String.init) ?? "*")x\(config.height.map(String.init) ?? "*")@\(config.refresh.map(String.init) ?? "*")"
                throw DisplayError.noMode("\(connector.name) has no \(wanted) among \(connector.modes.map(\.description).joined(separator: ", "))")
            }
            return mode
        }
        return connector.modes.first(where: \.isPreferred) ?? connector.modes[0]
    }

    /// The CRTC already driving the connector, else the first one an encoder of it can use.
    private func pickCRTC(_ card: DRMCard, connector: Connector, crtcs: [UInt32]) throws -> UInt32 {
        if connector.encoderID != 0 {
            let current = try card.encoder(connector.encoderID)
            if current.crtc_id != 0 { return current.crtc_id }
        }
        for encoderID in connector.encoders {
            let encoder = try card.encoder(encoderID)
            for (index, crtc) in crtcs.enumerated() where encoder.possible_crtcs & (1 << UInt32(index)) != 0 {
                return crtc
            }
        }
        throw DisplayError.noCRTC("no CRTC can drive \(connector.name)")
    }

    public func write(_ frame: UnsafeRawBufferPointer, timestamp: UInt64) throws(DisplayError) {
        guard let card, let converter else { preconditionFailure("DRMOutput.write before open") }
        guard frame.count == converter.source.byteCount else {
            throw .wrongFrameSize(expected: converter.source.byteCount, got: frame.count)
        }
        try mapErrors {
            // With two buffers the one to draw into may still be waiting to go on screen.
            if pending != nil && scanouts.count == 2 { try waitForFlip(card) }
            let target = (0..<scanouts.count).first { $0 != front && $0 != pending }!
            converter.draw(frame, into: scanouts[target].mapping.baseAddress!, pitch: scanouts[target].pitch)
            if pending != nil { try waitForFlip(card) }
            try card.pageFlip(crtc: crtcID, framebuffer: scanouts[target].framebuffer, userData: UInt64(target))
            pending = target
        }
    }

    /// Waits for the pending flip's event; then its buffer is the one on screen.
    private func waitForFlip(_ card: DRMCard) throws {
        let deadline = Sys.monotonicNow() + 1_000_000_000
        while pending != nil {
            let now = Sys.monotonicNow()
            guard now < deadline else { throw DisplayError.flipTimeout(path: card.path) }
            guard try Sys.poll(card.fd, events: Int16(POLLIN), timeoutNanoseconds: deadline - now) != 0 else { continue }
            for flip in try card.readFlipEvents(into: events) where Int(flip.userData) == pending {
                front = Int(flip.userData)
                pending = nil
                flipsCompleted += 1
                lastFlipTime = flip.time
            }
        }
    }

    /// The display refreshes at its own rate; the rate is kept only for reporting.
    public func setFrameRate(_ frameRate: Rational) throws(DisplayError) {
        self.frameRate = frameRate
    }

    public func close() {
        guard let card else { return }
        if pending != nil { try? waitForFlip(card) }
        pending = nil
        if let saved {
            // Put back what was on screen before (GETCRTC at open): a console or splash.
            let restore = saved.fb_id != 0 && saved.mode_valid != 0
            try? card.setCRTC(saved.crtc_id, framebuffer: restore ? saved.fb_id : 0, x: saved.x, y: saved.y,
                              connectors: restore ? [connectorID] : [], mode: restore ? saved.mode : nil)
        }
        for scanout in scanouts {
            card.removeFramebuffer(scanout.framebuffer)
            Sys.munmap(scanout.mapping)
            card.destroyDumb(handle: scanout.handle)
        }
        scanouts = []
        if isMaster { card.dropMaster() }
        isMaster = false
        saved = nil
        converter = nil
        self.card = nil
    }

    private func mapErrors<T>(_ body: () throws -> T) throws(DisplayError) -> T {
        do {
            return try body()
        } catch let error as DisplayError {
            throw error
        } catch let error as SystemError {
            throw error.errno == ENODEV ? .deviceLost(path: card?.path ?? config.card) : .driver(error)
        } catch {
            preconditionFailure("unexpected \(error)")
        }
    }
}

/// What a CRTC shows, for checking that `close` put it back.
public struct CRTCState: Equatable, Sendable {
    public var framebuffer: UInt32
    public var x: UInt32
    public var y: UInt32
    public var mode: DisplayMode?

    /// The state of every CRTC of `card`, by CRTC id.
    public static func read(card path: String) throws(DisplayError) -> [UInt32: CRTCState] {
        do {
            let card = try DRMCard(path: path)
            var states: [UInt32: CRTCState] = [:]
            for id in try card.resources().crtcs {
                let crtc = try card.crtc(id)
                states[id] = CRTCState(framebuffer: crtc.fb_id, x: crtc.x, y: crtc.y,
                                       mode: crtc.mode_valid != 0 ? DisplayMode(crtc.mode) : nil)
            }
            return states
        } catch {
            throw error.errno == ENOENT ? .noDevice(path: path) : .driver(error)
        }
    }
}
