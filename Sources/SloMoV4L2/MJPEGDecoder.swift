import CFFmpeg
import SloMoCore

/// Decodes MJPEG frames into yuv420p with libavcodec, into one buffer reused for every frame.
/// 4:2:0 JPEGs are copied plane by plane; other subsamplings (4:2:2 from most UVC cameras)
/// go through swscale, told the J formats' non-J twins so that it keeps the full range.
final class MJPEGDecoder {
    let width: Int
    let height: Int
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var scaler: OpaquePointer?
    /// The compressed frame, copied with the zeroed padding libavcodec's bitstream reader needs.
    private let input: UnsafeMutableRawBufferPointer
    /// The decoded frame, tightly packed yuv420p.
    private let output: UnsafeMutableRawBufferPointer
    private let planes: [PlaneLayout]

    init(width: Int, height: Int, maxCompressedBytes: Int) throws(CaptureError) {
        self.width = width
        self.height = height
        planes = PixelFormat.yuv420p.planes(width: width, height: height)
        output = .allocate(byteCount: PixelFormat.yuv420p.frameByteCount(width: width, height: height), alignment: 64)
        input = .allocate(byteCount: maxCompressedBytes + Int(AV_INPUT_BUFFER_PADDING_SIZE), alignment: 64)
        input.initializeMemory(as: UInt8.self, repeating: 0)
        guard let codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG) else {
            throw .decoderUnavailable("libavcodec has no MJPEG decoder")
        }
        context = avcodec_alloc_context3(codec)
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        guard let context, packet != nil, frame != nil else { throw .decoderUnavailable("out of memory") }
        // Frame threading would hold frames back; a live source needs each one out at once.
        context.pointee.thread_count = 1
        guard avcodec_open2(context, codec, nil) >= 0 else { throw .decoderUnavailable("avcodec_open2 failed") }
    }

    deinit {
        sws_freeContext(scaler)
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&context)
        input.deallocate()
        output.deallocate()
    }

    /// Decodes one JPEG. Returns the yuv420p picture (valid until the next call) and its range,
    /// or nil for a corrupt frame or one of another size, which the caller drops.
    func decode(_ jpeg: UnsafeRawBufferPointer) -> (bytes: UnsafeRawBufferPointer, range: ColorSpace.Range)? {
        guard let context, let packet, let frame, jpeg.count > 0,
              jpeg.count + Int(AV_INPUT_BUFFER_PADDING_SIZE) <= input.count else { return nil }
        input.copyMemory(from: jpeg)
        input[jpeg.count..<(jpeg.count + Int(AV_INPUT_BUFFER_PADDING_SIZE))].initializeMemory(as: UInt8.self, repeating: 0)
        packet.pointee.data = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        packet.pointee.size = Int32(jpeg.count)
        let sent = avcodec_send_packet(context, packet)
        packet.pointee.data = nil
        packet.pointee.size = 0
        guard sent >= 0, avcodec_receive_frame(context, frame) >= 0 else { return nil }
        defer { av_frame_unref(frame) }
        guard Int(frame.pointee.width) == width, Int(frame.pointee.height) == height else { return nil }
        let range: ColorSpace.Range = frame.pointee.color_range == AVCOL_RANGE_MPEG ? .limited : .full
        let source = AVPixelFormat(rawValue: frame.pointee.format)
        if source == AV_PIX_FMT_YUVJ420P || source == AV_PIX_FMT_YUV420P {
            for (index, plane) in planes.enumerated() {
                let stride = Int(withUnsafeBytes(of: frame.pointee.linesize) { $0.load(fromByteOffset: index * 4, as: Int32.self) })
                guard let from = withUnsafeBytes(of: frame.pointee.data, {
                    $0.load(fromByteOffset: index * MemoryLayout<UnsafeMutablePointer<UInt8>?>.stride, as: UnsafeMutablePointer<UInt8>?.self)
                }) else { return nil }
                for row in 0..<plane.height {
                    (output.baseAddress! + plane.offset + row * plane.stride)
                        .copyMemory(from: from + row * stride, byteCount: plane.width)
                }
            }
        } else {
            guard convert(frame, from: MJPEGDecoder.nonJ(source)) else { return nil }
        }
        return (UnsafeRawBufferPointer(output), range)
    }

    private func convert(_ frame: UnsafeMutablePointer<AVFrame>, from source: AVPixelFormat) -> Bool {
        scaler = sws_getCachedContext(scaler, Int32(width), Int32(height), source,
                                      Int32(width), Int32(height), AV_PIX_FMT_YUV420P,
                                      SWS_BILINEAR, nil, nil, nil)
        guard let scaler else { return false }
        var destination: [UnsafeMutablePointer<UInt8>?] = planes.map {
            (output.baseAddress! + $0.offset).assumingMemoryBound(to: UInt8.self)
        } + [nil]
        var strides: [Int32] = planes.map { Int32($0.stride) } + [0]
        let rows = withUnsafePointer(to: &frame.pointee.data) { data in
            withUnsafePointer(to: &frame.pointee.linesize) { linesize in
                data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { sources in
                    linesize.withMemoryRebound(to: Int32.self, capacity: 8) { sourceStrides in
                        sws_scale(scaler, sources, sourceStrides, 0, Int32(height), &destination, &strides)
                    }
                }
            }
        }
        return rows == Int32(height)
    }

    /// The J ("full range") formats are swscale's only way to say range; passing their twins
    /// for both ends keeps the samples' range as it is.
    private static func nonJ(_ format: AVPixelFormat) -> AVPixelFormat {
        switch format {
        case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P
        case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P
        case AV_PIX_FMT_YUVJ440P: return AV_PIX_FMT_YUV440P
        case AV_PIX_FMT_YUVJ411P: return AV_PIX_FMT_YUV411P
        default: return format
        }
    }
}
