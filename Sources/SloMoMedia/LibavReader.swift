import CFFmpeg
import Foundation
import SloMoCore

/// Decodes the first video stream of anything libavformat/libavcodec can read.
///
/// Output formats: yuv420p, yuv422p and yuv444p pass through (the yuvj variants too, as full
/// range); RGB-family sources (rgb24, rgba, bgra, pal8, PNG, ...) become rgb24; everything else is
/// converted to yuv420p. For rgb24 output, `format.color` is the YCbCr encoding to use if the
/// frames are later converted to YUV. The first audio stream's packets are kept for a
/// LibavWriter to copy (see makeVideoWriter's `audioFrom`).
public final class LibavReader: VideoReader {
    public let path: String
    public let format: FrameFormat
    public let frameRate: Rational
    public let frameCountHint: Int?
    public let chromaSiting: ChromaSiting?
    /// Whether the input has an audio stream a writer could copy.
    public var hasAudio: Bool { demuxer.audio != nil }

    private let demuxer: Demuxer
    private var transfer: FrameTransfer?
    private var framePending = true

    public convenience init(path: String) throws {
        try self.init(path: path, outputFormat: nil)
    }

    /// - Parameter outputFormat: forces this pixel format instead of the rules above.
    init(path: String, outputFormat: PixelFormat?) throws {
        _ = quietLibavLogging
        self.path = path
        demuxer = try Demuxer(path: path)
        // Decoding the first frame up front gives the true pixel format and colour tags (the
        // codec parameters may not have them) and turns an undecodable stream into an error here.
        guard try demuxer.decodeFrame() else {
            throw MediaError.corruptStream(path: path, reason: "no decodable video frame")
        }
        let frame = demuxer.frame.pointee
        let decoded = AVPixelFormat(rawValue: frame.format)
        let guess = ColorSpace.guess(height: Int(frame.height))
        var color = guess
        switch frame.colorspace {
        case AVCOL_SPC_BT709: color.matrix = .bt709
        case AVCOL_SPC_BT470BG, AVCOL_SPC_SMPTE170M, AVCOL_SPC_FCC: color.matrix = .bt601
        default: break
        }
        let fullRange = [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P].contains(decoded)
        if fullRange || frame.color_range == AVCOL_RANGE_JPEG {
            color.range = .full
        } else if frame.color_range == AVCOL_RANGE_MPEG {
            color.range = .limited
        }
        let pixelFormat: PixelFormat
        switch decoded {
        case AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P: pixelFormat = .yuv420p
        case AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUVJ422P: pixelFormat = .yuv422p
        case AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUVJ444P: pixelFormat = .yuv444p
        default:
            let flags = av_pix_fmt_desc_get(decoded)?.pointee.flags ?? 0
            let rgbFamily = flags & UInt64(AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL) != 0
            pixelFormat = rgbFamily ? .rgb24 : .yuv420p
            // An RGB source has no YCbCr encoding of its own; its range tag (usually "full") is
            // about RGB and must not make later YUV conversions full range.
            if rgbFamily { color = guess }
        }
        format = FrameFormat(width: Int(frame.width), height: Int(frame.height),
                             pixelFormat: outputFormat ?? pixelFormat, color: color)
        guard format.hasPlausibleSize else {
            throw MediaError.corruptStream(path: path, reason: "frame size \(frame.width)x\(frame.height)")
        }
        switch (format.pixelFormat, frame.chroma_location) {
        case (.yuv420p, AVCHROMA_LOC_CENTER): chromaSiting = .center
        case (.yuv420p, AVCHROMA_LOC_LEFT): chromaSiting = .left
        case (.yuv420p, AVCHROMA_LOC_TOPLEFT): chromaSiting = .topLeft
        default: chromaSiting = nil
        }
        let stream = demuxer.videoStream.pointee
        if stream.avg_frame_rate.num > 0 && stream.avg_frame_rate.den > 0 {
            frameRate = Rational(Int(stream.avg_frame_rate.num), Int(stream.avg_frame_rate.den))
        } else if stream.r_frame_rate.num > 0 && stream.r_frame_rate.den > 0 {
            frameRate = Rational(Int(stream.r_frame_rate.num), Int(stream.r_frame_rate.den))
        } else {
            frameRate = Rational(25)
        }
        frameCountHint = demuxer.frameCountEstimate(frameRate: frameRate)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard buffer.count == format.byteCount, let base = buffer.baseAddress else {
            throw MediaError.wrongBufferSize(path: path, expected: format.byteCount, actual: buffer.count)
        }
        demuxer.audio?.framesAreBeingRead()
        if framePending {
            framePending = false
        } else {
            guard try demuxer.decodeFrame() else { return false }
        }
        let frame = demuxer.frame
        defer { av_frame_unref(frame) }
        let source = (format: AVPixelFormat(rawValue: frame.pointee.format),
                      width: Int(frame.pointee.width), height: Int(frame.pointee.height))
        // Rebuilt only when the stream changes size or format midway.
        if transfer.map({ $0.source != source }) ?? true {
            transfer = try FrameTransfer(from: source,
                                         to: (format.pixelFormat.avPixelFormat, format.width, format.height),
                                         color: format.color, path: path)
        }
        transfer?.run(from: PlanePointers(frame: frame),
                      to: PlanePointers(buffer: base, format: format.pixelFormat, width: format.width, height: format.height))
        return true
    }

    /// The audio packets kept for copying, if there is an audio stream.
    var audioSource: AudioPacketQueue? { demuxer.audio }

    /// Demuxes ahead (keeping video packets for later decoding) until the audio queue reaches
    /// `seconds` of output time or the input ends: a writer finishing needs the audio up to the
    /// end of its video, which the video reads may not have reached.
    func demuxAudio(through seconds: Double) throws {
        try demuxer.demuxAudio(through: seconds)
    }
}

/// libavformat and libavcodec state for one input. Separate from LibavReader so that its deinit
/// frees whatever a failing setup had already allocated.
final class Demuxer {
    let path: String
    private var formatContext: UnsafeMutablePointer<AVFormatContext>?
    private var decoder: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    /// The most recently decoded frame.
    let frame: UnsafeMutablePointer<AVFrame>
    let videoStream: UnsafeMutablePointer<AVStream>
    private(set) var audio: AudioPacketQueue?
    /// Video packets read while demuxing ahead for audio, in order, not yet decoded.
    private var heldVideoPackets: [UnsafeMutablePointer<AVPacket>] = []
    private var demuxEnded = false
    private var flushSent = false

    init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw MediaError.fileNotFound(path: path)
        }
        var opened: UnsafeMutablePointer<AVFormatContext>?
        let openResult = avformat_open_input(&opened, path, nil, nil)
        guard openResult >= 0, let context = opened else {
            throw MediaError.notAVideo(path: path, reason: avErrorString(openResult))
        }
        // deinit only runs once every stored property is set; until then, close by hand.
        func closing(_ error: MediaError) -> MediaError {
            avformat_close_input(&opened)
            return error
        }
        let found = avformat_find_stream_info(context, nil)
        guard found >= 0 else {
            throw closing(MediaError.corruptStream(path: path, reason: avErrorString(found)))
        }
        let streams = (0..<Int(context.pointee.nb_streams)).compactMap { context.pointee.streams[$0] }
        guard let video = streams.first(where: {
            $0.pointee.codecpar?.pointee.codec_type == AVMEDIA_TYPE_VIDEO
                && $0.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0
        }), let parameters = video.pointee.codecpar else {
            throw closing(MediaError.notAVideo(path: path, reason: "no video stream"))
        }
        guard let frame = av_frame_alloc() else {
            throw closing(MediaError.ioFailure(path: path, reason: "out of memory"))
        }
        formatContext = context
        videoStream = video
        self.frame = frame

        let audioStream = streams.first { $0.pointee.codecpar?.pointee.codec_type == AVMEDIA_TYPE_AUDIO }
        // Skipping the other streams spares the demuxer work.
        for stream in streams where stream != video && stream != audioStream {
            stream.pointee.discard = AVDISCARD_ALL
        }
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            let name = String(cString: avcodec_get_name(parameters.pointee.codec_id))
            throw MediaError.unsupportedFormat(path: path, reason: "no decoder for codec \(name)")
        }
        packet = av_packet_alloc()
        decoder = avcodec_alloc_context3(codec)
        guard let decoder, packet != nil, avcodec_parameters_to_context(decoder, parameters) >= 0 else {
            throw MediaError.ioFailure(path: path, reason: "out of memory")
        }
        decoder.pointee.thread_count = 0  // as many as there are cores
        let codecOpened = avcodec_open2(decoder, codec, nil)
        guard codecOpened >= 0 else {
            throw MediaError.corruptStream(path: path, reason: "cannot open decoder: \(avErrorString(codecOpened))")
        }
        if let audioStream {
            audio = try AudioPacketQueue(stream: audioStream, path: path)
        }
    }

    deinit {
        for held in heldVideoPackets {
            var p: UnsafeMutablePointer<AVPacket>? = held
            av_packet_free(&p)
        }
        var frame: UnsafeMutablePointer<AVFrame>? = self.frame
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&decoder)
        avformat_close_input(&formatContext)
    }

    /// Decodes the next frame into `frame`; false at the end of the stream.
    func decodeFrame() throws -> Bool {
        guard let decoder, let packet else { return false }
        while true {
            let received = avcodec_receive_frame(decoder, frame)
            if received == 0 {
                if let audio, !audio.startOffsetKnown {
                    audio.setStart(videoTimestamp: frame.pointee.best_effort_timestamp, in: videoStream)
                }
                return true
            }
            if received == averrorEOF { return false }
            guard received == averrorEAGAIN else {
                throw MediaError.corruptStream(path: path, reason: "decoding failed: \(avErrorString(received))")
            }
            if try nextVideoPacket(into: packet) {
                let sent = avcodec_send_packet(decoder, packet)
                av_packet_unref(packet)
                guard sent >= 0 else {
                    throw MediaError.corruptStream(path: path, reason: "decoding failed: \(avErrorString(sent))")
                }
            } else if !flushSent {
                flushSent = true
                avcodec_send_packet(decoder, nil)
            } else {
                return false
            }
        }
    }

    /// Demuxes until the next video packet, queueing audio on the way; false at the end of input.
    private func nextVideoPacket(into target: UnsafeMutablePointer<AVPacket>) throws -> Bool {
        if !heldVideoPackets.isEmpty {
            var held: UnsafeMutablePointer<AVPacket>? = heldVideoPackets.removeFirst()
            av_packet_move_ref(target, held)
            av_packet_free(&held)
            return true
        }
        while let stream = try readPacket(into: target) {
            if stream == videoStream.pointee.index { return true }
            av_packet_unref(target)
        }
        return false
    }

    /// Reads one packet and returns its stream index, or nil at the end. Audio packets go to
    /// the queue, leaving `target` empty.
    private func readPacket(into target: UnsafeMutablePointer<AVPacket>) throws -> Int32? {
        guard !demuxEnded, let formatContext else { return nil }
        let result = av_read_frame(formatContext, target)
        if result == averrorEOF {
            demuxEnded = true
            return nil
        }
        guard result >= 0 else {
            throw MediaError.corruptStream(path: path, reason: "demuxing failed: \(avErrorString(result))")
        }
        let stream = target.pointee.stream_index
        if let audio, stream == audio.streamIndex {
            audio.push(target)
        }
        return stream
    }

    func demuxAudio(through seconds: Double) throws {
        guard let audio, !audio.discarded, let spare = av_packet_alloc() else { return }
        var packet: UnsafeMutablePointer<AVPacket>? = spare
        defer { av_packet_free(&packet) }
        while audio.queuedEnd < seconds, let stream = try readPacket(into: spare) {
            if stream == videoStream.pointee.index, let held = av_packet_alloc() {
                av_packet_move_ref(held, spare)
                heldVideoPackets.append(held)
            }
            av_packet_unref(spare)
        }
    }

    func frameCountEstimate(frameRate: Rational) -> Int? {
        let stream = videoStream.pointee
        if stream.nb_frames > 0 { return Int(stream.nb_frames) }
        var seconds: Double?
        if stream.duration != noTimestamp && stream.duration > 0 {
            seconds = Double(stream.duration) * av_q2d(stream.time_base)
        } else if let context = formatContext?.pointee, context.duration != noTimestamp, context.duration > 0 {
            seconds = Double(context.duration) / Double(AV_TIME_BASE)
        }
        return seconds.map { Int(($0 * frameRate.doubleValue).rounded()) }
    }
}

/// The audio packets of one input stream, waiting to be copied by a writer, with timestamps
/// made relative to the first video frame (output video starts at zero). The reader pushes and
/// the writer pops, and the converter runs them on threads of their own: hence the lock.
final class AudioPacketQueue: @unchecked Sendable {
    let streamIndex: Int32
    let timeBase: AVRational
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    /// Whether a writer has claimed the packets. Until the first frame is read they are kept in
    /// case one does; after that, unclaimed audio would only pile up in memory, so it is dropped.
    var claimed = false
    private(set) var discarded = false
    private let lock = NSLock()
    private var startKnown = false
    private var startOffset: Int64 = 0
    private var packets: [UnsafeMutablePointer<AVPacket>] = []

    var startOffsetKnown: Bool { lock.withLock { startKnown } }

    /// Output time, in seconds, where the last queued packet ends.
    var queuedEnd: Double { lock.withLock { packets.last.map { outputSeconds($0, end: true) } ?? -.infinity } }

    init(stream: UnsafeMutablePointer<AVStream>, path: String) throws {
        guard let parameters = avcodec_parameters_alloc() else {
            throw MediaError.ioFailure(path: path, reason: "out of memory")
        }
        avcodec_parameters_copy(parameters, stream.pointee.codecpar)
        self.parameters = parameters
        streamIndex = stream.pointee.index
        timeBase = stream.pointee.time_base
    }

    deinit {
        dropAll()
        var p: UnsafeMutablePointer<AVCodecParameters>? = parameters
        avcodec_parameters_free(&p)
    }

    func setStart(videoTimestamp: Int64, in stream: UnsafeMutablePointer<AVStream>) {
        let start = videoTimestamp != noTimestamp ? videoTimestamp
                  : stream.pointee.start_time != noTimestamp ? stream.pointee.start_time : 0
        lock.withLock {
            startOffset = av_rescale_q(start, stream.pointee.time_base, timeBase)
            startKnown = true
        }
    }

    func framesAreBeingRead() {
        guard !claimed, !discarded else { return }
        discarded = true
        lock.withLock { dropAll() }
    }

    /// Takes over the packet's reference.
    func push(_ source: UnsafeMutablePointer<AVPacket>) {
        guard !discarded, let copy = av_packet_alloc() else { return }
        av_packet_move_ref(copy, source)
        lock.withLock { packets.append(copy) }
    }

    /// The next packet starting before `seconds` (output time), timestamps shifted to output
    /// time in `timeBase`; the caller owns it.
    func pop(startingBefore seconds: Double) -> UnsafeMutablePointer<AVPacket>? {
        lock.lock()
        defer { lock.unlock() }
        guard let first = packets.first, outputSeconds(first, end: false) < seconds else { return nil }
        packets.removeFirst()
        if first.pointee.pts != noTimestamp { first.pointee.pts -= startOffset }
        if first.pointee.dts != noTimestamp { first.pointee.dts -= startOffset }
        return first
    }

    private func outputSeconds(_ packet: UnsafeMutablePointer<AVPacket>, end: Bool) -> Double {
        let p = packet.pointee
        let start = p.pts != noTimestamp ? p.pts : p.dts != noTimestamp ? p.dts : startOffset
        return Double(start - startOffset + (end ? p.duration : 0)) * av_q2d(timeBase)
    }

    private func dropAll() {
        for packet in packets {
            var p: UnsafeMutablePointer<AVPacket>? = packet
            av_packet_free(&p)
        }
        packets.removeAll()
    }
}
