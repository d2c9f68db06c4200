import SloMoCore
@testable import SloMoV4L2
import XCTest

/// The one copy from a driver's planes into the engine's packed frame, against a reference
/// written from the V4L2 format descriptions (videodev2.h's comments and the pixfmt pages), not
/// from the layout table: random samples, padded rows of odd lengths, garbage in the padding,
/// a header before the data (vivid puts 128 bytes before plane 0 in multi-planar mode).
final class FramePlanesTests: XCTestCase {
    /// A format as the V4L2 documentation describes it: chroma subsampling, the planes in
    /// order ("Y", "U", "V", interleaved "UV"/"VU", packed "YUYV"), and whether each plane has a buffer of its own.
    struct Described {
        var format: V4L2PixelFormat
        var engine: PixelFormat
        var shift: (x: Int, y: Int)
        var planes: [String]
        var separateBuffers: Bool
    }

    static let formats: [Described] = [
        Described(format: .nv12, engine: .nv12, shift: (1, 1), planes: ["Y", "UV"], separateBuffers: false),
        Described(format: .nv12m, engine: .nv12, shift: (1, 1), planes: ["Y", "UV"], separateBuffers: true),
        Described(format: .nv21, engine: .yuv420p, shift: (1, 1), planes: ["Y", "VU"], separateBuffers: false),
        Described(format: .nv21m, engine: .yuv420p, shift: (1, 1), planes: ["Y", "VU"], separateBuffers: true),
        Described(format: .yu12, engine: .yuv420p, shift: (1, 1), planes: ["Y", "U", "V"], separateBuffers: false),
        Described(format: .yu12m, engine: .yuv420p, shift: (1, 1), planes: ["Y", "U", "V"], separateBuffers: true),
        Described(format: .yv12, engine: .yuv420p, shift: (1, 1), planes: ["Y", "V", "U"], separateBuffers: false),
        Described(format: .yv12m, engine: .yuv420p, shift: (1, 1), planes: ["Y", "V", "U"], separateBuffers: true),
        Described(format: .nv16, engine: .yuv422p, shift: (1, 0), planes: ["Y", "UV"], separateBuffers: false),
        Described(format: .nv16m, engine: .yuv422p, shift: (1, 0), planes: ["Y", "UV"], separateBuffers: true),
        Described(format: .nv61, engine: .yuv422p, shift: (1, 0), planes: ["Y", "VU"], separateBuffers: false),
        Described(format: .nv61m, engine: .yuv422p, shift: (1, 0), planes: ["Y", "VU"], separateBuffers: true),
        Described(format: .yuv422p, engine: .yuv422p, shift: (1, 0), planes: ["Y", "U", "V"], separateBuffers: false),
        Described(format: .yuv422m, engine: .yuv422p, shift: (1, 0), planes: ["Y", "U", "V"], separateBuffers: true),
        Described(format: .yuyv, engine: .yuyv, shift: (1, 0), planes: ["YUYV"], separateBuffers: false),
    ]

    /// A picture as sample grids, and the bytes a driver and the engine each hold for it.
    struct Picture {
        let width: Int, height: Int, cw: Int, ch: Int
        var y: [UInt8], u: [UInt8], v: [UInt8]

        init(width: Int, height: Int, shift: (x: Int, y: Int), random: inout SystemRandomNumberGenerator) {
            self.width = width
            self.height = height
            cw = (width + (1 << shift.x) - 1) >> shift.x
            ch = (height + (1 << shift.y) - 1) >> shift.y
            y = (0..<(width * height)).map { _ in UInt8.random(in: 0...255, using: &random) }
            u = (0..<(cw * ch)).map { _ in UInt8.random(in: 0...255, using: &random) }
            v = (0..<(cw * ch)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }

        /// One row of a plane as the V4L2 description lays it out.
        func row(_ plane: String, _ r: Int) -> [UInt8] {
            var luma: [UInt8] { Array(y[(r * width)..<((r + 1) * width)]) }
            var cb: [UInt8] { Array(u[(r * cw)..<((r + 1) * cw)]) }
            var cr: [UInt8] { Array(v[(r * cw)..<((r + 1) * cw)]) }
            var bytes: [UInt8] = []
            switch plane {
            case "Y": bytes = luma
            case "U": bytes = cb
            case "V": bytes = cr
            case "UV": for (b, c) in zip(cb, cr) { bytes += [b, c] }
            case "VU": for (b, c) in zip(cb, cr) { bytes += [c, b] }
            case "YUYV": for (x, (b, c)) in zip(cb, cr).enumerated() { bytes += [luma[2 * x], b, luma[2 * x + 1], c] }
            default: preconditionFailure(plane)
            }
            return bytes
        }

        func rows(_ plane: String) -> Int { plane == "Y" || plane == "YUYV" ? height : ch }

        /// The engine's packed frame, from PixelFormat's documentation.
        func engineFrame(_ format: PixelFormat) -> [UInt8] {
            switch format {
            case .yuv420p, .yuv422p: return y + u + v
            case .nv12: return y + (0..<ch).flatMap { row("UV", $0) }
            case .yuyv: return (0..<height).flatMap { row("YUYV", $0) }
            default: preconditionFailure("\(format)")
            }
        }
    }

    /// Lays the picture out as a driver would: each buffer a header of `dataOffset` garbage
    /// bytes, then its planes, each row followed by `padding` garbage bytes (the V4L2 rule for
    /// planes sharing a buffer: their rows padded by the same factor as the first's).
    func driverBuffers(_ d: Described, _ picture: Picture, padding: [Int], dataOffset: Int,
                       random: inout SystemRandomNumberGenerator) -> (buffers: [[UInt8]], bytesPerLine: [Int]) {
        var buffers: [[UInt8]] = []
        var bytesPerLine: [Int] = []
        var firstRow = 0, firstStride = 0
        for (index, plane) in d.planes.enumerated() {
            let rowBytes = picture.row(plane, 0).count
            let stride: Int
            if d.separateBuffers || index == 0 {
                stride = rowBytes + padding[min(index, padding.count - 1)]
                buffers.append((0..<dataOffset).map { _ in UInt8.random(in: 0...255, using: &random) })
                bytesPerLine.append(stride)
                (firstRow, firstStride) = (rowBytes, stride)
            } else {
                stride = firstStride * rowBytes / firstRow
            }
            for r in 0..<picture.rows(plane) {
                buffers[buffers.count - 1] += picture.row(plane, r)
                buffers[buffers.count - 1] += (0..<(stride - rowBytes)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
        }
        return (buffers, bytesPerLine)
    }

    func testRepackMatchesTheDescribedLayoutsWithPaddedRowsAndHeaders() throws {
        var random = SystemRandomNumberGenerator()
        for d in Self.formats {
            // Padding odd where a buffer holds one plane; even where planes share one and the
            // chroma rows are half the luma's, so that the halved bytesperline is whole.
            let shared = !d.separateBuffers && d.planes.count == 3
            for (width, height, padding, dataOffset) in [(34, 10, [0], 0), (34, 10, shared ? [6] : [7, 3, 5], 128),
                                                        (66, 6, shared ? [10] : [1, 9, 13], 5)] {
                let picture = Picture(width: width, height: height, shift: d.shift, random: &random)
                let (buffers, bytesPerLine) = driverBuffers(d, picture, padding: padding, dataOffset: dataOffset, random: &random)
                XCTAssertEqual(d.format.pixelFormat, d.engine, "\(d.format)")
                XCTAssertEqual(d.format.layout.memoryPlanes, buffers.count, "\(d.format)")
                XCTAssertEqual(d.format.isMultiPlanar, d.separateBuffers && d.planes.count > 1, "\(d.format)")
                let format = FrameFormat(width: width, height: height, pixelFormat: d.engine, color: .guess(height: height))
                let planes = try XCTUnwrap(FramePlanes(format: format, planes: d.format.layout.planes, bytesPerLine: bytesPerLine), "\(d.format)")
                let expected = picture.engineFrame(d.engine)
                XCTAssertEqual(expected.count, format.byteCount, "\(d.format)")
                for (buffer, needed) in zip(buffers, planes.needed) {
                    XCTAssertLessThanOrEqual(needed, buffer.count - dataOffset, "\(d.format): needs no more than the driver wrote")
                }
                var target = [UInt8](repeating: 0, count: format.byteCount)
                withPointers(buffers) { pointers in
                    target.withUnsafeMutableBytes { planes.repack(pointers.map { $0 + dataOffset }, into: $0.baseAddress!) }
                }
                XCTAssertEqual(target, expected, "\(d.format) \(width)x\(height) padding \(padding) header \(dataOffset)")
                let packed = padding.allSatisfy { $0 == 0 } && d.format.layout.isEnginePacked
                XCTAssertEqual(planes.inPlace, packed, "\(d.format) padding \(padding): lent in place only when packed already")
                if planes.inPlace {
                    XCTAssertEqual(Array(buffers[0][dataOffset...].prefix(format.byteCount)), expected, "\(d.format) in place")
                }
            }
        }
    }

    func testRowsShorterThanThePictureAreRejected() {
        let format = FrameFormat(width: 64, height: 8, pixelFormat: .nv12, color: .guess(height: 8))
        XCTAssertNil(FramePlanes(format: format, planes: V4L2PixelFormat.nv12m.layout.planes, bytesPerLine: [64, 60]))
        XCTAssertNil(FramePlanes(format: format, planes: V4L2PixelFormat.nv12m.layout.planes, bytesPerLine: [64]), "a plane with no bytesperline")
        XCTAssertNotNil(FramePlanes(format: format, planes: V4L2PixelFormat.nv12m.layout.planes, bytesPerLine: [64, 64]))
    }

    func testOutputsWriteOnlySinglePlanarFormatsTheEngineTakesAsTheyAre() {
        XCTAssertEqual(V4L2PixelFormat(.yuv420p), .yu12)
        XCTAssertEqual(V4L2PixelFormat(.yuv422p), .yuv422p)
        XCTAssertEqual(V4L2PixelFormat(.nv12), .nv12)
        for format in V4L2PixelFormat.allCases where format.isMultiPlanar {
            XCTAssertEqual(format.layout.memoryPlanes, format.layout.planes.count, "\(format): a buffer per plane")
        }
    }

    private func withPointers(_ buffers: [[UInt8]], _ body: ([UnsafeRawPointer]) -> Void, _ done: [UnsafeRawPointer] = []) {
        guard done.count < buffers.count else { return body(done) }
        buffers[done.count].withUnsafeBytes { withPointers(buffers, body, done + [$0.baseAddress!]) }
    }
}
