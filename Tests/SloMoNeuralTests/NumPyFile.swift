import Foundation
@testable import SloMoNeural

/// Float32 `.npy` files (format 1.0, C order), the currency of the NumPy references in Tests/reference.
enum NumPyFile {
    struct FormatError: Error, CustomStringConvertible {
        let description: String
    }

    static func read(_ url: URL) throws -> HostTensor {
        let bytes = Array(try Data(contentsOf: url))
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw FormatError(description: "\(url.path) is not a .npy file")
        }
        let major = bytes[6]
        let headerStart = major == 1 ? 10 : 12
        guard major <= 3, bytes.count >= headerStart else { throw FormatError(description: "\(url.path): unknown .npy version \(major)") }
        var headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        if major > 1 { headerLength |= Int(bytes[10]) << 16 | Int(bytes[11]) << 24 }
        guard bytes.count >= headerStart + headerLength else { throw FormatError(description: "\(url.path): truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False") else {
            throw FormatError(description: "\(url.path): not a C-ordered float32 array (\(header.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw FormatError(description: "\(url.path): .npy header without a shape")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let count = shape.reduce(1, *)
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == count * 4 else {
            throw FormatError(description: "\(url.path): shape \(shape) needs \(count * 4) bytes of data, the file has \(bytes.count - dataStart)")
        }
        let values = bytes.withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: dataStart + 4 * $0, as: UInt32.self))) }
        }
        return HostTensor(shape: shape, values: values)
    }

    static func write(_ tensor: HostTensor, to url: URL) throws {
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        // The header ends in a newline, padded so the data starts on a 64-byte boundary.
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + tensor.count * 4)
        for value in tensor.values {
            let bits = value.bitPattern.littleEndian
            bytes += [UInt8(bits & 0xff), UInt8(bits >> 8 & 0xff), UInt8(bits >> 16 & 0xff), UInt8(bits >> 24)]
        }
        try Data(bytes).write(to: url)
    }
}

/// Runs the NumPy references in Tests/reference with the system python3.
enum PythonReference {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The repository root, found from this file's place in Tests/SloMoNeuralTests.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `python3 Tests/reference/<script> arguments…` and returns its standard output; throws with its standard error if it fails.
    static func run(_ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot.appendingPathComponent("Tests/reference/\(script)").path] + arguments
        // Standard error goes to a file, so a chatty script cannot block on a full pipe while stdout is read.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-python-\(UUID().uuidString).err")
        try Data().write(to: errorFile)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let standardOutput = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let standardError = (try? Data(contentsOf: errorFile)) ?? Data()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: standardError, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw Failure(description: "python3 Tests/reference/\(script) failed (exit \(process.terminationStatus)): \(message)")
        }
        return String(decoding: standardOutput, as: UTF8.self)
    }
}
