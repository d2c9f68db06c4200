/// The entries of a zip archive as torch.save writes it: every record stored uncompressed,
/// so an entry is a byte range of the file. Reads the central directory only.
struct ZipArchive {
    /// Entry name → byte range of its data in the file.
    let entries: [String: Range<Int>]

    init(bytes: [UInt8], path: String) throws {
        func truncated(_ what: String) -> CheckpointError { .truncated(path: path, detail: "zip \(what) lies past the end of the file") }
        func read(_ offset: Int, _ count: Int) throws -> Int {
            guard offset >= 0, offset + count <= bytes.count else { throw truncated("field at byte \(offset)") }
            var value = 0
            for index in 0..<count { value |= Int(bytes[offset + index]) << (8 * index) }
            return value
        }

        // The end-of-central-directory record sits in the last 22 bytes plus a comment of up to 64 KiB.
        var end = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        while end >= lowest, try read(end, 4) != 0x0605_4b50 { end -= 1 }
        guard end >= lowest else {
            throw CheckpointError.truncated(path: path, detail: "the zip archive has no end-of-central-directory record")
        }
        let count = try read(end + 10, 2)
        var offset = try read(end + 16, 4)
        guard count != 0xFFFF, offset != 0xFFFF_FFFF else {
            throw CheckpointError.unsupported(path: path, detail: "zip64 archives (over 4 GiB or 65535 records)")
        }

        var entries: [String: Range<Int>] = [:]
        for _ in 0..<count {
            guard try read(offset, 4) == 0x0201_4b50 else { throw truncated("central directory entry at byte \(offset)") }
            let method = try read(offset + 10, 2)
            let compressedSize = try read(offset + 20, 4)
            let size = try read(offset + 24, 4)
            let nameLength = try read(offset + 28, 2)
            let extraLength = try read(offset + 30, 2)
            let commentLength = try read(offset + 32, 2)
            let localOffset = try read(offset + 42, 4)
            guard offset + 46 + nameLength <= bytes.count else { throw truncated("entry name at byte \(offset + 46)") }
            let name = String(decoding: bytes[(offset + 46)..<(offset + 46 + nameLength)], as: UTF8.self)
            guard size != 0xFFFF_FFFF, localOffset != 0xFFFF_FFFF else {
                throw CheckpointError.unsupported(path: path, detail: "zip64 record '\(name)' (over 4 GiB)")
            }
            guard method == 0, compressedSize == size else {
                throw CheckpointError.unsupported(path: path, detail: "zip record '\(name)' is compressed; torch.save stores records uncompressed")
            }
            guard try read(localOffset, 4) == 0x0403_4b50 else { throw truncated("local header of '\(name)'") }
            let start = localOffset + 30 + (try read(localOffset + 26, 2)) + (try read(localOffset + 28, 2))
            guard start + size <= bytes.count else { throw truncated("data of '\(name)'") }
            entries[name] = start..<(start + size)
            offset += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }
}
