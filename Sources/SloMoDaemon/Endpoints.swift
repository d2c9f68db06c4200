import Foundation
import SloMoCore
import SloMoMedia

/// A source or sink as the user named it: a kind ("testpattern", "v4l2", "null", "file",
/// "loopback", "drm") and, for most kinds, a path.
public struct EndpointSpec: Equatable, Sendable, CustomStringConvertible {
    public var kind: String
    public var path: String
    public var description: String { path.isEmpty ? kind : "\(kind):\(path)" }
}

public enum SourceSpec {
    /// "testpattern", "v4l2:PATH" or a device path such as /dev/video0.
    public static func parse(_ text: String) throws -> EndpointSpec {
        if text == "testpattern" { return EndpointSpec(kind: "testpattern", path: "") }
        if text.hasPrefix("v4l2:"), text.count > 5 { return EndpointSpec(kind: "v4l2", path: String(text.dropFirst(5))) }
        if text.hasPrefix("/") { return EndpointSpec(kind: "v4l2", path: text) }
        throw ValueProblem("unknown input '\(text)' (use testpattern, /dev/videoN or v4l2:PATH)")
    }
}

public enum SinkSpec {
    /// "null", "file:PATH", "loopback:PATH", "drm:PATH", or a device path: /dev/dri/... is DRM,
    /// any other path a V4L2 output (v4l2loopback).
    public static func parse(_ text: String) throws -> EndpointSpec {
        if text == "null" { return EndpointSpec(kind: "null", path: "") }
        for kind in ["file", "loopback", "drm"] where text.hasPrefix(kind + ":") {
            let path = String(text.dropFirst(kind.count + 1))
            guard !path.isEmpty else { throw ValueProblem("'\(text)' names no path") }
            return EndpointSpec(kind: kind, path: path)
        }
        if text.hasPrefix("/dev/dri/") { return EndpointSpec(kind: "drm", path: text) }
        if text.hasPrefix("/") { return EndpointSpec(kind: "loopback", path: text) }
        throw ValueProblem("unknown output '\(text)' (use null, file:PATH.y4m, /dev/videoN or /dev/dri/cardN)")
    }
}

public enum EndpointError: Error, Equatable, CustomStringConvertible {
    case unknownKind(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case let .unknownKind(kind): return "no source or sink of kind '\(kind)' is registered"
        case let .unsupported(reason): return reason
        }
    }
}

/// Makes sources and sinks by kind. The daemon owns the built-in ones (test pattern, null, file);
/// the kernel-device ones plug in through `registerKernelIO` (KernelIO.swift).
public final class IORegistry {
    public typealias SourceMaker = (_ path: String, _ config: DaemonConfig) throws -> FrameSource
    public typealias SinkMaker = (_ path: String, _ config: DaemonConfig) throws -> FrameSink

    private var sources: [String: SourceMaker] = [:]
    private var sinks: [String: SinkMaker] = [:]

    public init() {}

    /// The registry slomod uses: built-ins plus kernel I/O.
    public static func standard() -> IORegistry {
        let registry = IORegistry()
        registry.registerBuiltIns()
        registry.registerKernelIO()
        return registry
    }

    public func registerSource(_ kind: String, _ maker: @escaping SourceMaker) { sources[kind] = maker }
    public func registerSink(_ kind: String, _ maker: @escaping SinkMaker) { sinks[kind] = maker }

    public func makeSource(_ spec: EndpointSpec, config: DaemonConfig) throws -> FrameSource {
        guard let maker = sources[spec.kind] else { throw EndpointError.unknownKind(spec.kind) }
        return try maker(spec.path, config)
    }

    public func makeSink(_ spec: EndpointSpec, config: DaemonConfig) throws -> FrameSink {
        guard let maker = sinks[spec.kind] else { throw EndpointError.unknownKind(spec.kind) }
        return try maker(spec.path, config)
    }

    func registerBuiltIns() {
        registerSource("testpattern") { _, config in
            TestPatternSource(width: config.width, height: config.height, frameRate: Rational.approximating(config.fps),
                              loopFrames: config.loopFrames)
        }
        registerSink("null") { _, _ in NullSink() }
        registerSink("file") { path, _ in FileSink(path: path) }
    }
}

/// Discards frames: for benchmarks and tests of everything before the output.
public final class NullSink: FrameSink {
    private var byteCount = 0
    public init() {}
    public func open(format: FrameFormat, frameRate: Rational) throws { byteCount = format.byteCount }
    public func write(_ frame: UnsafeRawBufferPointer, timestamp: UInt64) throws {
        guard frame.count == byteCount else {
            throw EndpointError.unsupported("null output: a frame of \(frame.count) bytes, expected \(byteCount)")
        }
    }
    public func setFrameRate(_ frameRate: Rational) throws {}
    public func close() {}
}

/// Writes a video file through SloMoMedia (Y4M, or what libav encodes). The file appears when it
/// is closed. A rate change cannot be written into a Y4M header after the fact, so the file keeps
/// the rate it was opened with.
public final class FileSink: FrameSink {
    public let path: String
    private var writer: VideoWriter?

    public init(path: String) { self.path = path }

    public func open(format: FrameFormat, frameRate: Rational) throws {
        writer = try makeVideoWriter(path: path, format: format, frameRate: frameRate, audioFrom: nil)
    }

    public func write(_ frame: UnsafeRawBufferPointer, timestamp: UInt64) throws {
        guard let writer else { throw EndpointError.unsupported("\(path): written before it was opened") }
        try writer.write(frame)
    }

    public func setFrameRate(_ frameRate: Rational) throws {}

    public func close() {
        // finish() publishes the file; failures were already reported by write().
        try? writer?.finish()
        writer = nil
    }
}
