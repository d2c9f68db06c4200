import CFFmpeg
import SloMoCore

/// Encodes to .mp4, .mkv or .mov through libavformat/libavcodec.
///
/// Video: H.264 with libx264 (CRF 16, preset medium) in the input's chroma resolution (4:2:0,
/// 4:2:2 or 4:4:4; RGB as 4:4:4 YCbCr with `format.color`; odd-sized 4:2:0/4:2:2 as 4:4:4,
/// which x264 cannot subsample). Without libx264, a lossless codec: FFV1 in .mkv, and in
/// .mp4/.mov JPEG 2000 with the reversible 5/3 wavelet, because FFV1 is not allowed in MP4 and
/// JPEG 2000 is the lossless codec the MP4 muxer accepts for YUV as well as RGB.
/// Audio: the first audio stream of `audioFrom` is copied packet by packet when the container
/// can hold its codec.
public final class LibavWriter: VideoWriter {
    public let path: String
    public let format: FrameFormat
    /// Whether the input's audio is being copied into this file.
    public private(set) var copiesAudio = false

    private enum State { case open, finished, failed }
    private var state = State.open
    private let output: TemporaryOutput
    private let frameRate: Rational
    private var formatContext: UnsafeMutablePointer<AVFormatContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var videoStream: UnsafeMutablePointer<AVStream>?
    private var audioStream: UnsafeMutablePointer<AVStream>?
    private var audioReader: LibavReader?
    private var transfer: FrameTransfer?
    private var framesWritten: Int64 = 0

    public convenience init(path: String, format: FrameFormat, frameRate: Rational, audioFrom: VideoReader?,
                            chromaSiting: ChromaSiting? = nil) throws {
        try self.init(path: path, format: format, frameRate: frameRate, audioFrom: audioFrom,
                      chromaSiting: chromaSiting, lossless: avcodec_find_encoder_by_name("libx264") == nil)
    }

    /// - Parameter lossless: use the lossless fallback codecs even where libx264 exists.
    init(path: String, format: FrameFormat, frameRate: Rational, audioFrom: VideoReader?,
         chromaSiting: ChromaSiting?, lossless: Bool) throws {
        _ = quietLibavLogging
        self.path = path
        self.format = format
        self.frameRate = frameRate
        output = TemporaryOutput(destination: path)
        let muxer: String
        switch fileExtension(of: path) {
        case "mp4": muxer = "mp4"
        case "mkv": muxer = "matroska"
        case "mov": muxer = "mov"
        default: throw MediaError.unsupportedOutputExtension(path: path)
        }
        guard format.hasPlausibleSize, frameRate.numerator > 0 else {
            throw MediaError.unsupportedFormat(path: path, reason: "frame size \(format.width)x\(format.height) at \(frameRate) fps")
        }
        let codecName = !lossless ? "libx264" : muxer == "matroska" ? "ffv1" : "jpeg2000"
        guard let codec = avcodec_find_encoder_by_name(codecName) else {
            throw MediaError.encoderFailure(path: path, reason: "no \(codecName) encoder in this libavcodec")
        }
        let (pixelFormat, colorTagged) = LibavWriter.encoderPixelFormat(for: format, codec: codecName)

        var context: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_alloc_output_context2(&context, nil, muxer, output.temporaryPath) >= 0, let context else {
            throw MediaError.encoderFailure(path: path, reason: "no \(muxer) muxer in this libavformat")
        }
        formatContext = context
        frame = av_frame_alloc()
        packet = av_packet_alloc()
        encoder = avcodec_alloc_context3(codec)
        guard let encoder, let frame, packet != nil, let stream = avformat_new_stream(context, nil) else {
            throw MediaError.ioFailure(path: path, reason: "out of memory")
        }
        videoStream = stream

        encoder.pointee.width = Int32(format.width)
        encoder.pointee.height = Int32(format.height)
        encoder.pointee.pix_fmt = pixelFormat
        encoder.pointee.time_base = AVRational(num: frameRate.avRational.den, den: frameRate.avRational.num)
        encoder.pointee.framerate = frameRate.avRational
        encoder.pointee.thread_count = 0
        if colorTagged {
            encoder.pointee.colorspace = format.color.avColorSpace
            encoder.pointee.color_range = format.color.avColorRange
        } else {
            encoder.pointee.colorspace = AVCOL_SPC_RGB
        }
        switch chromaSiting {
        case .center?: encoder.pointee.chroma_sample_location = AVCHROMA_LOC_CENTER
        case .left?: encoder.pointee.chroma_sample_location = AVCHROMA_LOC_LEFT
        case .topLeft?: encoder.pointee.chroma_sample_location = AVCHROMA_LOC_TOPLEFT
        case nil: break
        }
        if context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            encoder.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        switch codecName {
        case "libx264":
            av_dict_set(&options, "crf", "16", 0)
            av_dict_set(&options, "preset", "medium", 0)
        case "jpeg2000":
            av_dict_set(&options, "pred", "dwt53", 0)
        default:
            break
        }
        let opened = avcodec_open2(encoder, codec, &options)
        guard opened >= 0 else {
            throw MediaError.encoderFailure(path: path, reason: "cannot open \(codecName): \(avErrorString(opened))")
        }
        guard avcodec_parameters_from_context(stream.pointee.codecpar, encoder) >= 0 else {
            throw MediaError.ioFailure(path: path, reason: "out of memory")
        }
        stream.pointee.time_base = encoder.pointee.time_base
        stream.pointee.avg_frame_rate = encoder.pointee.framerate

        frame.pointee.format = pixelFormat.rawValue
        frame.pointee.width = encoder.pointee.width
        frame.pointee.height = encoder.pointee.height
        guard av_frame_get_buffer(frame, 0) >= 0 else {
            throw MediaError.ioFailure(path: path, reason: "out of memory")
        }
        transfer = try FrameTransfer(from: (format.pixelFormat.avPixelFormat, format.width, format.height),
                                     to: (pixelFormat, format.width, format.height),
                                     color: format.color, path: path)

        if let reader = audioFrom as? LibavReader, let audio = reader.audioSource, !audio.discarded,
           avformat_query_codec(context.pointee.oformat, audio.parameters.pointee.codec_id, FF_COMPLIANCE_NORMAL) == 1,
           let audioOut = avformat_new_stream(context, nil) {
            avcodec_parameters_copy(audioOut.pointee.codecpar, audio.parameters)
            // The input container's codec tag may mean nothing (or something else) in this one.
            audioOut.pointee.codecpar.pointee.codec_tag = 0
            audioOut.pointee.time_base = audio.timeBase
            audio.claimed = true
            audioStream = audioOut
            audioReader = reader
            copiesAudio = true
        }

        let ioOpened = avio_open(&context.pointee.pb, output.temporaryPath, AVIO_FLAG_WRITE)
        guard ioOpened >= 0 else {
            throw MediaError.ioFailure(path: path, reason: "cannot create file: \(avErrorString(ioOpened))")
        }
        let headerWritten = avformat_write_header(context, nil)
        guard headerWritten >= 0 else {
            throw MediaError.encoderFailure(path: path, reason: "cannot start the file: \(avErrorString(headerWritten))")
        }
    }

    deinit {
        if state != .finished { abandon() }
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&encoder)
        avformat_free_context(formatContext)
    }

    public func write(_ data: UnsafeRawBufferPointer) throws {
        guard state == .open, let frame else { throw MediaError.writerClosed(path: path) }
        guard data.count == format.byteCount, let base = data.baseAddress else {
            throw MediaError.wrongBufferSize(path: path, expected: format.byteCount, actual: data.count)
        }
        do {
            // The encoder may still hold a reference to the previous picture.
            guard av_frame_make_writable(frame) >= 0 else {
                throw MediaError.ioFailure(path: path, reason: "out of memory")
            }
            transfer?.run(from: PlanePointers(buffer: UnsafeMutableRawPointer(mutating: base), format: format.pixelFormat,
                                              width: format.width, height: format.height),
                          to: PlanePointers(frame: frame))
            frame.pointee.pts = framesWritten
            framesWritten += 1
            try encode(frame)
            try copyAudio(before: Double(framesWritten) / frameRate.doubleValue)
        } catch {
            abandon()
            throw error
        }
    }

    public func finish() throws {
        guard state == .open, let formatContext else { throw MediaError.writerClosed(path: path) }
        do {
            try encode(nil)
            if let audioReader {
                let end = Double(framesWritten) / frameRate.doubleValue
                try audioReader.demuxAudio(through: end)
                try copyAudio(before: end)
            }
            let trailer = av_write_trailer(formatContext)
            guard trailer >= 0 else {
                throw MediaError.encoderFailure(path: path, reason: "cannot complete the file: \(avErrorString(trailer))")
            }
            let closed = avio_closep(&formatContext.pointee.pb)
            guard closed >= 0 else {
                throw MediaError.ioFailure(path: path, reason: "cannot write: \(avErrorString(closed))")
            }
            try output.publish()
            state = .finished
        } catch {
            abandon()
            throw error
        }
    }

    /// Sends a frame (nil: end of stream) and muxes every packet the encoder has ready.
    private func encode(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        guard let encoder, let packet, let videoStream else { return }
        let sent = avcodec_send_frame(encoder, frame)
        guard sent >= 0 else {
            throw MediaError.encoderFailure(path: path, reason: avErrorString(sent))
        }
        while true {
            let received = avcodec_receive_packet(encoder, packet)
            if received == averrorEAGAIN || received == averrorEOF { return }
            guard received >= 0 else {
                throw MediaError.encoderFailure(path: path, reason: avErrorString(received))
            }
            av_packet_rescale_ts(packet, encoder.pointee.time_base, videoStream.pointee.time_base)
            packet.pointee.stream_index = videoStream.pointee.index
            try mux(packet)
        }
    }

    /// Muxes the queued audio that starts before `seconds` of output time.
    private func copyAudio(before seconds: Double) throws {
        guard let audio = audioReader?.audioSource, let audioStream else { return }
        while let popped = audio.pop(startingBefore: seconds) {
            var packet: UnsafeMutablePointer<AVPacket>? = popped
            defer { av_packet_free(&packet) }
            // Audio ending before the first video frame has nothing to accompany; one ending
            // right at it is kept, as that is how encoder priming (AAC's first packet) looks.
            guard popped.pointee.pts == noTimestamp || popped.pointee.pts + popped.pointee.duration >= 0 else { continue }
            av_packet_rescale_ts(popped, audio.timeBase, audioStream.pointee.time_base)
            popped.pointee.stream_index = audioStream.pointee.index
            popped.pointee.pos = -1
            try mux(popped)
        }
    }

    private func mux(_ packet: UnsafeMutablePointer<AVPacket>) throws {
        let written = av_interleaved_write_frame(formatContext, packet)
        guard written >= 0 else {
            throw MediaError.ioFailure(path: path, reason: "cannot write: \(avErrorString(written))")
        }
    }

    /// Closes and deletes the temporary file; the writer cannot be used afterwards.
    private func abandon() {
        state = .failed
        if let formatContext, formatContext.pointee.pb != nil {
            avio_closep(&formatContext.pointee.pb)
        }
        output.discard()
    }

    /// The pixel format to encode, and whether it is YCbCr (so the colour tags apply).
    private static func encoderPixelFormat(for format: FrameFormat, codec: String) -> (AVPixelFormat, Bool) {
        if format.pixelFormat.isRGB {
            switch codec {
            case "ffv1": return (AV_PIX_FMT_BGR0, false)
            case "jpeg2000": return (AV_PIX_FMT_RGB24, false)
            default: return (AV_PIX_FMT_YUV444P, true)
            }
        }
        var planar = format.pixelFormat.planarYUVEquivalent
        let odd = format.width % 2 == 1 || (planar == .yuv420p && format.height % 2 == 1)
        if codec == "libx264" && planar != .yuv444p && odd {
            planar = .yuv444p
        }
        return (planar.avPixelFormat, true)
    }
}
