import CFFmpeg
import Foundation
import SloMoCore

/// Decodes the first frame of an image (PNG, JPEG, anything libavformat reads) to packed RGB.
/// Alpha is dropped, not composited.
public func readImage(path: String) throws -> (width: Int, height: Int, rgb: [UInt8]) {
    let reader = try LibavReader(path: path, outputFormat: .rgb24)
    guard let rgb = try reader.readFrame() else {
        throw MediaError.corruptStream(path: path, reason: "no image in the file")
    }
    return (reader.format.width, reader.format.height, rgb)
}

/// Encodes packed RGB (width * height * 3 bytes) as a PNG file, published atomically.
public func writePNG(path: String, width: Int, height: Int, rgb: [UInt8]) throws {
    let encoded = try encodePNG(width: width, height: height, rgb: rgb, naming: path)
    let output = TemporaryOutput(destination: path)
    guard let file = fopen(output.temporaryPath, "wbx") else {
        throw MediaError.ioFailure(path: path, reason: "cannot create file: \(systemError())")
    }
    let complete = fwrite(encoded, 1, encoded.count, file) == encoded.count
    guard fclose(file) == 0, complete else {
        throw MediaError.ioFailure(path: path, reason: "cannot write: \(systemError())")
    }
    try output.publish()
}

/// Packed RGB (width * height * 3 bytes) as the bytes of a PNG file; `naming` is what errors call it.
public func encodePNG(width: Int, height: Int, rgb: [UInt8], naming path: String = "PNG") throws -> [UInt8] {
    _ = quietLibavLogging
    guard FrameFormat(width: width, height: height, pixelFormat: .rgb24, color: .guess(height: height)).hasPlausibleSize else {
        throw MediaError.unsupportedFormat(path: path, reason: "image size \(width)x\(height)")
    }
    guard rgb.count == width * height * 3 else {
        throw MediaError.wrongBufferSize(path: path, expected: width * height * 3, actual: rgb.count)
    }
    guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
        throw MediaError.encoderFailure(path: path, reason: "no PNG encoder in this libavcodec")
    }
    var encoder = avcodec_alloc_context3(codec)
    var frame = av_frame_alloc()
    var packet = av_packet_alloc()
    defer {
        av_packet_free(&packet)
        av_frame_free(&frame)
        avcodec_free_context(&encoder)
    }
    guard let encoder, let frame, let packet else {
        throw MediaError.ioFailure(path: path, reason: "out of memory")
    }
    encoder.pointee.width = Int32(width)
    encoder.pointee.height = Int32(height)
    encoder.pointee.pix_fmt = AV_PIX_FMT_RGB24
    encoder.pointee.time_base = AVRational(num: 1, den: 1)
    let opened = avcodec_open2(encoder, codec, nil)
    guard opened >= 0 else {
        throw MediaError.encoderFailure(path: path, reason: "cannot open the PNG encoder: \(avErrorString(opened))")
    }
    frame.pointee.format = AV_PIX_FMT_RGB24.rawValue
    frame.pointee.width = Int32(width)
    frame.pointee.height = Int32(height)
    guard av_frame_get_buffer(frame, 0) >= 0 else {
        throw MediaError.ioFailure(path: path, reason: "out of memory")
    }
    let copy = try FrameTransfer(from: (AV_PIX_FMT_RGB24, width, height), to: (AV_PIX_FMT_RGB24, width, height),
                                 color: .guess(height: height), path: path)
    var pixels = rgb
    pixels.withUnsafeMutableBytes { buffer in
        // Never nil: the count was checked to be positive above.
        guard let base = buffer.baseAddress else { return }
        copy.run(from: PlanePointers(buffer: base, format: .rgb24, width: width, height: height),
                 to: PlanePointers(frame: frame))
    }
    var encoded: [UInt8] = []
    var sent = avcodec_send_frame(encoder, frame)
    if sent >= 0 { sent = avcodec_send_frame(encoder, nil) }
    guard sent >= 0 else {
        throw MediaError.encoderFailure(path: path, reason: avErrorString(sent))
    }
    while true {
        let received = avcodec_receive_packet(encoder, packet)
        if received == averrorEOF { break }
        guard received >= 0 else {
            throw MediaError.encoderFailure(path: path, reason: avErrorString(received))
        }
        encoded.append(contentsOf: UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size)))
        av_packet_unref(packet)
    }
    return encoded
}
