import Foundation
import Glibc
import SloMoCore
@testable import SloMoDaemon
import SloMoGPU
import XCTest

/// Frames lent as dma-bufs reach the pool through the device (ImportedBuffer, DmaBufImporter), not
/// the CPU. Here files in tmpfs stand in for a driver's exported buffers (lavapipe imports any mappable
/// descriptor); the VM tests (DaemonEndToEndTests' vivid → slomod → loopback scenario and
/// CaptureHardwareTests' multi-planar one) do it with vivid's own buffers through VIDIOC_EXPBUF.
final class DmaBufImportTests: XCTestCase {
    func testImportedBufferReadsTheDescriptorsPagesWhereTheyAre() throws {
        let context = try GPUContext(options: GPUOptions())
        try XCTSkipUnless(context.supportsDmaBufImport, "\(context.info.name) cannot import dma-bufs")
        let exported = try SharedMemory(byteCount: 8192)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<exported.bytes.count { exported.bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        let imported = try ImportedBuffer(context: context, dmaBuf: exported.fd, byteCount: 8192, label: "tmpfs file")
        let arena = BufferArena(context: context, placement: .host)
        let host = try arena.allocate([("copy", 4096)])[0]
        let sequence = try GPUSequence(context: context)
        func copied() throws -> [UInt8] {
            try sequence.record { $0.copy(from: imported.buffer, to: host, sourceOffset: 1000, destinationOffset: 96, byteCount: 3000) }
            try sequence.run()
            return [UInt8](UnsafeRawBufferPointer(start: host.contents! + 96, count: 3000))
        }
        XCTAssertEqual(try copied(), [UInt8](exported.bytes[1000..<4000]))
        // Written after the import: the device sees the same pages, not a copy taken at import.
        exported.bytes[1500] &+= 1
        XCTAssertEqual(try copied(), [UInt8](exported.bytes[1000..<4000]))
        XCTAssertEqual(context.validationLog.messages, [])
    }

    /// A new ring may bring its buffers under the old descriptor numbers (the kernel reuses the
    /// lowest free one): the importer must import them anew, not copy from the old ring's memory.
    func testImporterTakesANewRingsBufferUnderAReusedDescriptor() throws {
        let context = try GPUContext(options: GPUOptions())
        try XCTSkipUnless(context.supportsDmaBufImport, "\(context.info.name) cannot import dma-bufs")
        let importer = try DmaBufImporter(context: context)
        let (arenas, frames) = try HostFrame.allocate(1, byteCount: 512, context: context)
        defer { withExtendedLifetime(arenas) {} }
        func copied(_ buffer: SharedMemory, ring: UInt64) throws -> [UInt8] {
            try importer.copy(DmaBufSlice(fd: buffer.fd, bufferBytes: buffer.bytes.count, offset: 64, ring: ring), byteCount: 512, into: frames[0])
            return [UInt8](frames[0].bytes)
        }
        var first: SharedMemory? = try SharedMemory(byteCount: 4096)
        first!.bytes.initializeMemory(as: UInt8.self, repeating: 1)
        let firstFD = first!.fd
        XCTAssertEqual(try copied(first!, ring: 1), [UInt8](repeating: 1, count: 512))
        first = nil
        let second = try SharedMemory(byteCount: 4096)
        second.bytes.initializeMemory(as: UInt8.self, repeating: 2)
        XCTAssertEqual(second.fd, firstFD, "the test needs the descriptor number reused")
        XCTAssertEqual(try copied(second, ring: 2), [UInt8](repeating: 2, count: 512))
        XCTAssertEqual(context.validationLog.messages, [])
    }

    func testDaemonCopiesFramesLentAsDmaBufsOnTheDevice() throws {
        let pattern = TestPatternSource(width: 160, height: 96, frameRate: Rational(20), loopFrames: 12)
        try pattern.open()
        var loop = Set<[UInt8]>()
        for _ in 0..<12 { _ = try pattern.next(timeoutNanoseconds: 1_000_000_000) { loop.insert([UInt8]($0.bytes)) } }
        pattern.close()

        let source = try DmaBufSource(TestPatternSource(width: 160, height: 96, frameRate: Rational(20), loopFrames: 12))
        let sink = RecordingSink()
        let daemon = try startDaemon(self, source: { source }, sink: sink, flags: [("fps", "20"), ("scale", "2"), ("mode", "repeat")])
        Thread.sleep(forTimeInterval: 2)
        let stats = try daemon.handle(.stats)
        daemon.stop()

        let captured = number(stats, "captured")
        XCTAssertGreaterThan(captured, 10, "\(stats.serialized)")
        XCTAssertEqual(number(stats, "imported"), captured, "every captured frame came through the device: \(stats.serialized)")
        // In repeat mode every output frame is a captured one: the pattern's, not the grey decoy
        // the source lends as bytes.
        let writes = sink.writes
        XCTAssertGreaterThan(writes.count, 20)
        XCTAssertTrue(writes.allSatisfy { loop.contains($0.bytes) }, "frames are the dma-bufs' contents")
        XCTAssertGreaterThan(Set(writes.map(\.bytes)).count, 5, "and they move")
    }
}

/// A descriptor of `byteCount` bytes of shared memory (an unlinked file in tmpfs), mapped.
final class SharedMemory {
    let fd: Int32
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int) throws {
        let path = "/dev/shm/slomo-test-\(UInt64.random(in: 0...UInt64.max))"
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        unlink(path)
        guard fd >= 0, ftruncate(fd, off_t(byteCount)) == 0,
              let base = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        bytes = UnsafeMutableRawBufferPointer(start: base, count: byteCount)
    }

    deinit {
        munmap(bytes.baseAddress, bytes.count)
        close(fd)
    }
}

/// A camera whose driver exports its buffers: each frame of `pattern` is written into the next of a
/// ring of three tmpfs files, 256 bytes in (a driver's data offset), and lent with that dma-buf. The
/// bytes it lends beside it are a grey decoy, so the output shows which copy the daemon made.
final class DmaBufSource: FrameSource {
    private let pattern: TestPatternSource
    private let ring: [SharedMemory]
    private let decoy: UnsafeMutableRawBufferPointer
    private var next = 0
    static let dataOffset = 256

    init(_ pattern: TestPatternSource) throws {
        self.pattern = pattern
        ring = try (0..<3).map { _ in try SharedMemory(byteCount: Self.dataOffset + pattern.format.byteCount) }
        decoy = .allocate(byteCount: pattern.format.byteCount, alignment: 64)
        decoy.initializeMemory(as: UInt8.self, repeating: 128)
    }

    deinit { decoy.deallocate() }

    var format: FrameFormat { pattern.format }
    var frameRate: Rational { pattern.frameRate }
    func open() throws { try pattern.open() }
    func close() { pattern.close() }

    func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        try pattern.next(timeoutNanoseconds: timeoutNanoseconds) { frame in
            let buffer = ring[next]
            next = (next + 1) % ring.count
            UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[Self.dataOffset...]).copyMemory(from: frame.bytes)
            var lent = frame
            lent.bytes = UnsafeRawBufferPointer(decoy)
            lent.dmaBuf = DmaBufSlice(fd: buffer.fd, bufferBytes: buffer.bytes.count, offset: Self.dataOffset, ring: 1)
            try body(lent)
        }
    }
}
