#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One sort record, laid out identically in memory and in spill files:
/// `[u32 keyCount][u32 payloadCount][i64 version][key][payload]`, little-endian.
enum SortRecord {
    static let headerBytes = 16

    @inline(__always) static func keyCount(_ record: UnsafeRawPointer) -> Int {
        Int(UInt32(littleEndian: record.loadUnaligned(as: UInt32.self)))
    }
    @inline(__always) static func payloadCount(_ record: UnsafeRawPointer) -> Int {
        Int(UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
    }
    @inline(__always) static func version(_ record: UnsafeRawPointer) -> Int64 {
        Int64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: Int64.self))
    }
    @inline(__always) static func size(_ record: UnsafeRawPointer) -> Int {
        headerBytes + keyCount(record) + payloadCount(record)
    }
    @inline(__always) static func key(_ record: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: record + headerBytes, count: keyCount(record))
    }
    @inline(__always) static func payload(_ record: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: record + headerBytes + keyCount(record), count: payloadCount(record))
    }

    static func write(
        to destination: UnsafeMutableRawPointer, key: UnsafeRawBufferPointer, version: Int64,
        payload: UnsafeRawBufferPointer
    ) {
        destination.storeBytes(of: UInt32(key.count).littleEndian, as: UInt32.self)
        destination.storeBytes(of: UInt32(payload.count).littleEndian, toByteOffset: 4, as: UInt32.self)
        destination.storeBytes(of: version.littleEndian, toByteOffset: 8, as: Int64.self)
        if let k = key.baseAddress { (destination + headerBytes).copyMemory(from: k, byteCount: key.count) }
        if let p = payload.baseAddress {
            (destination + headerBytes + key.count).copyMemory(from: p, byteCount: payload.count)
        }
    }

    /// memcmp order of two byte strings, shorter first on a common prefix.
    @inline(__always) static func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        if common > 0 {
            let order = memcmp(a.baseAddress!, b.baseAddress!, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }

    /// Negative when `a` comes first: key ascending, then version descending, then payload descending, so the first
    /// record of each key group is the one that wins deduplication.
    @inline(__always) static func compare(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Int {
        let byKey = compareBytes(key(a), key(b))
        if byKey != 0 { return byKey }
        let va = version(a)
        let vb = version(b)
        if va != vb { return va > vb ? -1 : 1 }
        return -compareBytes(payload(a), payload(b))
    }
}

/// Spill file framing: an 8-byte file magic, then blocks `[u32 'WBLK'][u32 byteCount][u32 recordCount][u32 check]`
/// + records, then a footer `[u32 'WEND'][u32 check of the count][u64 total records]`. A block's check (XXH64 of its
/// bytes seeded with its byte and record counts, folded to 32 bits) covers the counts and the bytes, so a flipped
/// bit, a truncated file or a missing footer is detected.
enum SpillFormat {
    /// "WTSPILL2" read as a little-endian u64 (version 1 used CRC-32C).
    static let fileMagic: UInt64 = "WTSPILL2".utf8.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    static let blockMagic: UInt32 = 0x4B4C_4257  // "WBLK"
    static let endMagic: UInt32 = 0x444E_4557  // "WEND"
    static let blockHeaderBytes = 16

    static func blockChecksum(byteCount: UInt32, recordCount: UInt32, data: UnsafeRawBufferPointer) -> UInt32 {
        fold(XXH64.hash(data, seed: UInt64(byteCount) << 32 | UInt64(recordCount)))
    }

    /// The footer's check of the total record count.
    static func countChecksum(_ total: UInt64) -> UInt32 {
        var value = total.littleEndian
        return fold(Swift.withUnsafeBytes(of: &value) { XXH64.hash($0) })
    }

    private static func fold(_ hash: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: hash ^ hash >> 32) }
}

func posixError(_ operation: String, _ path: String, code: ReducerError.Code = .io) -> ReducerError {
    let number = errno
    return ReducerError(
        code: code, operation: operation, subject: path,
        detail: "\(String(cString: strerror(number))) (errno \(number))")
}

/// Writes one run of sorted records in checksummed blocks.
final class SpillWriter {
    let path: String
    private var descriptor: Int32
    private let blockBytes: Int
    private let buffer: UnsafeMutableRawPointer
    private var used = 0
    private var blockRecords: UInt32 = 0
    private(set) var totalRecords: UInt64 = 0
    private(set) var bytesWritten = 0

    init(path: String, blockBytes: Int) throws(ReducerError) {
        self.path = path
        self.blockBytes = blockBytes
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw posixError("create spill file", path) }
        buffer = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 8)
        // A throw from here on runs deinit, which closes and frees.
        var magic = SpillFormat.fileMagic.littleEndian
        try Swift.withUnsafeBytes(of: &magic) { (raw) throws(ReducerError) in try writeAll(raw) }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        buffer.deallocate()
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(ReducerError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw posixError("write spill file", path)
            }
            offset += written
        }
        bytesWritten += bytes.count
    }

    private func writeBlock(_ data: UnsafeRawBufferPointer, records: UInt32) throws(ReducerError) {
        let byteCount = UInt32(data.count)
        let crc = SpillFormat.blockChecksum(byteCount: byteCount, recordCount: records, data: data)
        var header = (
            SpillFormat.blockMagic.littleEndian, byteCount.littleEndian, records.littleEndian, crc.littleEndian
        )
        try Swift.withUnsafeBytes(of: &header) { (raw) throws(ReducerError) in try writeAll(raw) }
        try writeAll(data)
    }

    private func flush() throws(ReducerError) {
        guard blockRecords > 0 else { return }
        try writeBlock(UnsafeRawBufferPointer(start: buffer, count: used), records: blockRecords)
        used = 0
        blockRecords = 0
    }

    /// Appends one record (already in `SortRecord` layout).
    func append(_ record: UnsafeRawPointer) throws(ReducerError) {
        let size = SortRecord.size(record)
        totalRecords += 1
        if size > blockBytes {
            try flush()
            try writeBlock(UnsafeRawBufferPointer(start: record, count: size), records: 1)
            return
        }
        if used + size > blockBytes { try flush() }
        (buffer + used).copyMemory(from: record, byteCount: size)
        used += size
        blockRecords += 1
    }

    /// Writes the last block and the footer, and closes the file.
    func finish() throws(ReducerError) {
        try flush()
        let crc = SpillFormat.countChecksum(totalRecords)
        var footer = (SpillFormat.endMagic.littleEndian, crc.littleEndian, totalRecords.littleEndian)
        try Swift.withUnsafeBytes(of: &footer) { (raw) throws(ReducerError) in try writeAll(raw) }
        let result = close(descriptor)
        descriptor = -1
        guard result == 0 else { throw posixError("close spill file", path) }
    }
}

/// Reads a run back one record at a time, verifying every block before any of its records is used.
final class SpillReader {
    let path: String
    private var descriptor: Int32
    private let maxBlockBytes: Int
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var blockCount = 0
    private var position = 0
    private var blockRecordsLeft: UInt32 = 0
    private var recordsRead: UInt64 = 0
    /// The current record, or nil once the run is exhausted.
    private(set) var current: UnsafeRawPointer?

    init(path: String, maxBlockBytes: Int) throws(ReducerError) {
        self.path = path
        self.maxBlockBytes = maxBlockBytes
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw posixError("open spill file", path) }
        capacity = 64 << 10
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        var magic: UInt64 = 0
        let count = try Swift.withUnsafeMutableBytes(of: &magic) { (raw) throws(ReducerError) in try readFully(raw) }
        guard count == 8, UInt64(littleEndian: magic) == SpillFormat.fileMagic else { throw corrupt("bad file magic") }
        try advance()
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        buffer.deallocate()
    }

    private func corrupt(_ detail: String) -> ReducerError {
        ReducerError(code: .corruptSpill, operation: "read spill file", subject: path, detail: detail)
    }

    /// Reads up to `target.count` bytes; fewer only at end of file.
    private func readFully(_ target: UnsafeMutableRawBufferPointer) throws(ReducerError) -> Int {
        var offset = 0
        while offset < target.count {
            let got = read(descriptor, target.baseAddress! + offset, target.count - offset)
            if got < 0 {
                if errno == EINTR { continue }
                throw posixError("read spill file", path)
            }
            if got == 0 { break }
            offset += got
        }
        return offset
    }

    private func loadBlock() throws(ReducerError) -> Bool {
        var header = (UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        let got = try Swift.withUnsafeMutableBytes(of: &header) { (raw) throws(ReducerError) in try readFully(raw) }
        guard got == SpillFormat.blockHeaderBytes else {
            throw corrupt("truncated: no footer after \(recordsRead) records")
        }
        let magic = UInt32(littleEndian: header.0)
        if magic == SpillFormat.endMagic {
            let total = UInt64(littleEndian: UInt64(header.2) | UInt64(header.3) << 32)
            let crc = SpillFormat.countChecksum(total)
            guard crc == UInt32(littleEndian: header.1) else { throw corrupt("footer checksum mismatch") }
            guard total == recordsRead else { throw corrupt("footer says \(total) records, read \(recordsRead)") }
            var extra: UInt8 = 0
            let trailing = try Swift.withUnsafeMutableBytes(of: &extra) { (raw) throws(ReducerError) in
                try readFully(raw)
            }
            guard trailing == 0 else { throw corrupt("bytes after the footer") }
            return false
        }
        guard magic == SpillFormat.blockMagic else { throw corrupt("bad block magic 0x\(String(magic, radix: 16))") }
        let byteCount = Int(UInt32(littleEndian: header.1))
        let records = UInt32(littleEndian: header.2)
        guard byteCount >= SortRecord.headerBytes, byteCount <= maxBlockBytes, records >= 1 else {
            throw corrupt("block of \(byteCount) bytes and \(records) records is out of range")
        }
        if byteCount > capacity {
            buffer.deallocate()
            buffer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 8)
            capacity = byteCount
        }
        let data = UnsafeMutableRawBufferPointer(start: buffer, count: byteCount)
        guard try readFully(data) == byteCount else { throw corrupt("truncated block") }
        let crc = SpillFormat.blockChecksum(
            byteCount: UInt32(byteCount), recordCount: records, data: UnsafeRawBufferPointer(data))
        guard crc == UInt32(littleEndian: header.3) else {
            throw corrupt("block checksum mismatch after \(recordsRead) records")
        }
        blockCount = byteCount
        position = 0
        blockRecordsLeft = records
        return true
    }

    /// Moves to the next record (the first one on the initial call).
    func advance() throws(ReducerError) {
        if let current { position += SortRecord.size(current) }
        if blockRecordsLeft == 0 {
            guard position == blockCount else { throw corrupt("block has bytes after its last record") }
            guard try loadBlock() else {
                current = nil
                return
            }
        }
        let remaining = blockCount - position
        guard remaining >= SortRecord.headerBytes else { throw corrupt("record header crosses the block end") }
        let record = UnsafeRawPointer(buffer + position)
        let size = SortRecord.headerBytes + SortRecord.keyCount(record) + SortRecord.payloadCount(record)
        guard size <= remaining else { throw corrupt("record of \(size) bytes crosses the block end") }
        blockRecordsLeft -= 1
        recordsRead += 1
        current = record
    }
}

/// The run files of one external sort: a private folder under the spill directory, made on first use; runs in the
/// order written; each run deleted once merged; everything deleted at the end (also on error and deinit).
final class SpillRuns {
    private let parent: String
    private let blockBytes: Int
    private var directory: String?
    private var serial = 0
    /// Every run file that exists on disk.
    private var live: Set<String> = []
    /// Runs written and not merged yet, oldest first.
    private(set) var pending: [String] = []

    init(parent: String, blockBytes: Int) {
        self.parent = parent
        self.blockBytes = blockBytes
    }

    deinit { removeAll() }

    /// A writer for a new run, queued last for merging.
    func newWriter() throws(ReducerError) -> SpillWriter {
        let folder = try makeDirectory()
        serial += 1
        let writer = try SpillWriter(path: "\(folder)/run-\(serial).bin", blockBytes: blockBytes)
        pending.append(writer.path)
        live.insert(writer.path)
        return writer
    }

    /// Takes the oldest `count` pending runs (all of them when nil) for one merge.
    func take(_ count: Int? = nil) -> [String] {
        let taken = Array(pending.prefix(count ?? pending.count))
        pending.removeFirst(taken.count)
        return taken
    }

    /// Deletes runs that have been merged, so a multi-pass merge never holds more than one pass on disk.
    func remove(_ paths: [String]) {
        for path in paths where live.remove(path) != nil { unlink(path) }
    }

    func removeAll() {
        for file in live { unlink(file) }
        live.removeAll()
        pending.removeAll()
        if let directory { rmdir(directory) }
        directory = nil
    }

    private func makeDirectory() throws(ReducerError) -> String {
        if let directory { return directory }
        var template = Array("\(parent)/webtoon-sort-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw posixError("create spill folder", parent) }
        let path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        directory = path
        return path
    }
}
