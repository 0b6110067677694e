import CompressionKit
import ParquetKit

/// The columnar sort's spill chunk image: a batch's columns as raw fixed-width arrays, so building one is a copy
/// and reading it back is a copy plus bounds checks (a Parquet image cost as much to decode as the input did);
/// `SpillChunkCodec` compresses it. Spill files are private to one process, so values are in native byte order;
/// integrity comes from the checksum of the `SpillWriter` block around each chunk, and every length is still
/// checked before use.
///
/// Layout: `u32 rows, u32 columns`, then per column `u8 kind, u8 hasValidity`, the validity (`rows` bytes, 0 or 1)
/// when present, and the values: `rows` bytes (boolean), `rows × 4` (int32), `rows × 8` (int64, double), or for
/// strings `(rows + 1) × 8` offsets followed by the bytes.
enum SpillChunk {
    private enum Kind: UInt8 { case boolean, int32, int64, double, string }

    private static func kind(of storage: ColumnValues.Storage) -> Kind {
        switch storage {
        case .boolean: .boolean
        case .int32: .int32
        case .int64: .int64
        case .double: .double
        case .byteArray: .string
        case .list: preconditionFailure("the columnar layout has no list columns")
        }
    }

    private static func kind(of type: ParquetType) -> Kind {
        switch type {
        case .boolean: .boolean
        case .int32, .date: .int32
        case .int64, .timestamp: .int64
        case .double: .double
        case .string: .string
        case .list: preconditionFailure("the columnar layout has no list columns")
        }
    }

    /// Bytes `encode` writes for `batch`.
    static func size(of batch: ColumnBatch) -> Int {
        var total = 8
        let rows = batch.rowCount
        for column in batch.columns {
            total += 2 + (column.validity == nil ? 0 : rows)
            switch column.storage {
            case .boolean: total += rows
            case .int32: total += rows * 4
            case .int64, .double: total += rows * 8
            case .byteArray(let strings): total += (rows + 1) * 8 + strings.bytes.count
            case .list: preconditionFailure("the columnar layout has no list columns")
            }
        }
        return total
    }

    /// Writes `batch` at `target`, which has `size(of: batch)` bytes.
    static func encode(_ batch: ColumnBatch, to target: UnsafeMutableRawPointer) {
        var position = 0
        func put(_ raw: UnsafeRawBufferPointer) {
            guard raw.count > 0 else { return }
            (target + position).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
            position += raw.count
        }
        func putValue<T>(_ value: T) { withUnsafeBytes(of: value) { put($0) } }
        putValue(UInt32(batch.rowCount))
        putValue(UInt32(batch.columns.count))
        for column in batch.columns {
            putValue(kind(of: column.storage).rawValue)
            putValue(UInt8(column.validity == nil ? 0 : 1))
            column.validity?.withUnsafeBytes { put($0) }
            switch column.storage {
            case .boolean(let values): values.withUnsafeBytes { put($0) }
            case .int32(let values): values.withUnsafeBytes { put($0) }
            case .int64(let values): values.withUnsafeBytes { put($0) }
            case .double(let values): values.withUnsafeBytes { put($0) }
            case .byteArray(let strings):
                strings.offsets.withUnsafeBytes { put($0) }
                strings.bytes.withUnsafeBytes { put($0) }
            case .list: preconditionFailure("the columnar layout has no list columns")
            }
        }
    }

    /// Reads a chunk written by `encode` for `layout`'s columns; any inconsistency is `corruptSpill`.
    static func decode(_ raw: UnsafeRawBufferPointer, layout: ColumnarLayout, source: String) throws(ReducerError)
        -> ColumnBatch
    {
        func corrupt(_ detail: String) -> ReducerError {
            ReducerError(code: .corruptSpill, operation: "read spill chunk", subject: source, detail: detail)
        }
        var position = 0
        func take(_ count: Int) throws(ReducerError) -> UnsafeRawBufferPointer {
            guard count >= 0, count <= raw.count - position else {
                throw corrupt("chunk ends \(count) bytes early at offset \(position)")
            }
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: raw[position..<(position + count)])
        }
        func array<T>(_: T.Type, _ count: Int) throws(ReducerError) -> [T] {
            let bytes = try take(count * MemoryLayout<T>.stride)
            return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
                initialized = count
            }
        }
        func booleans(_ count: Int) throws(ReducerError) -> [Bool] {
            let bytes = try take(count)
            guard !bytes.contains(where: { $0 > 1 }) else { throw corrupt("boolean byte other than 0 or 1") }
            return bytes.map { $0 == 1 }
        }
        let header = try take(8)
        let rows = Int(header.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        let count = Int(header.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard count == layout.columns.count else {
            throw corrupt("chunk has \(count) columns, the table \(layout.columns.count)")
        }
        var columns: [ColumnValues] = []
        columns.reserveCapacity(count)
        for column in layout.columns {
            let tags = try take(2)
            guard tags[0] == kind(of: column.type).rawValue, tags[1] <= 1 else {
                throw corrupt("column \(column.name) has kind \(tags[0]), validity flag \(tags[1])")
            }
            let validity = tags[1] == 1 ? try booleans(rows) : nil
            let storage: ColumnValues.Storage
            switch kind(of: column.type) {
            case .boolean: storage = .boolean(try booleans(rows))
            case .int32: storage = .int32(try array(Int32.self, rows))
            case .int64: storage = .int64(try array(Int64.self, rows))
            case .double: storage = .double(try array(Double.self, rows))
            case .string:
                let offsets = try array(Int.self, rows + 1)
                let total = offsets.last ?? 0
                let bytes = try array(UInt8.self, total)
                guard let strings = ByteArrayColumn(validatingBytes: bytes, offsets: offsets) else {
                    throw corrupt("column \(column.name) has inconsistent string offsets")
                }
                storage = .byteArray(strings)
            }
            columns.append(ColumnValues(storage, validity: validity))
        }
        guard position == raw.count else { throw corrupt("\(raw.count - position) bytes after the last column") }
        return ColumnBatch(columns)
    }
}

/// Compresses spill chunk images with zstd level 1 (about 9× on sorted episode columns, at ~850 MB/s in and ~2 GB/s
/// out here): a reduce then spills a fraction of its decoded size, so tens of gigabytes of input fit the disk, and
/// it writes and reads that much less. Level 1 is the knee: faster levels lose ratio, higher ones speed.
///
/// A chunk's spill record is a `SortRecord` with an empty key, the row count as its version, and the payload
/// `u32 imageBytes` + one zstd frame of the `SpillChunk` image. One codec per sort (not thread-safe): the run
/// writer and the merge cursors share its buffers and never use them at once.
final class SpillChunkCodec {
    static let level: Int32 = 1
    private let zstd: ZstdFrameCodec
    /// The image being encoded or decoded.
    private var image = ScratchBuffer()
    /// The record being written.
    private var record = ScratchBuffer()

    init() throws(ReducerError) {
        do { zstd = try ZstdFrameCodec(level: Self.level) } catch {
            throw ReducerError(code: .compression, operation: "create spill compressor", detail: "\(error)")
        }
    }

    /// The largest record a chunk image of `imageBytes` can take.
    static func recordBound(imageBytes: Int) -> Int {
        SortRecord.headerBytes + 4 + ZstdFrameCodec.compressBound(imageBytes)
    }

    /// `batch` as a spill record; valid until the codec's next call.
    func record(for batch: ColumnBatch, source: String) throws(ReducerError) -> UnsafeRawPointer {
        let imageBytes = SpillChunk.size(of: batch)
        let imageStart = image.reserve(imageBytes)
        SpillChunk.encode(batch, to: imageStart)
        let bound = Self.recordBound(imageBytes: imageBytes)
        let start = record.reserve(bound)
        let frameStart = start + SortRecord.headerBytes + 4
        let frameBytes: Int
        do {
            frameBytes = try zstd.compress(
                UnsafeRawBufferPointer(start: imageStart, count: imageBytes),
                into: UnsafeMutableRawBufferPointer(start: frameStart, count: bound - SortRecord.headerBytes - 4))
        } catch {
            throw ReducerError(code: .compression, operation: "compress spill chunk", subject: source, detail: "\(error)")
        }
        start.storeBytes(of: UInt32(0).littleEndian, as: UInt32.self)
        start.storeBytes(of: UInt32(4 + frameBytes).littleEndian, toByteOffset: 4, as: UInt32.self)
        start.storeBytes(of: Int64(batch.rowCount).littleEndian, toByteOffset: 8, as: Int64.self)
        (start + SortRecord.headerBytes).storeBytes(of: UInt32(imageBytes).littleEndian, as: UInt32.self)
        return UnsafeRawPointer(start)
    }

    /// Reads back a record `record(for:)` wrote; an image over `maxImageBytes`, a frame that does not decode to
    /// exactly the declared image, or a row count other than the record's is `corruptSpill`.
    func batch(of spillRecord: UnsafeRawPointer, layout: ColumnarLayout, maxImageBytes: Int, source: String)
        throws(ReducerError) -> ColumnBatch
    {
        func corrupt(_ detail: String) -> ReducerError {
            ReducerError(code: .corruptSpill, operation: "read spill chunk", subject: source, detail: detail)
        }
        let payload = SortRecord.payload(spillRecord)
        guard payload.count >= 4 else { throw corrupt("record of \(payload.count) bytes has no image size") }
        let imageBytes = Int(UInt32(littleEndian: payload.loadUnaligned(as: UInt32.self)))
        guard imageBytes <= maxImageBytes else {
            throw corrupt("image of \(imageBytes) bytes exceeds the limit of \(maxImageBytes)")
        }
        let imageStart = image.reserve(imageBytes)
        let produced: Int
        do {
            produced = try zstd.decompress(
                UnsafeRawBufferPointer(rebasing: payload[4...]),
                into: UnsafeMutableRawBufferPointer(start: imageStart, count: imageBytes))
        } catch {
            throw corrupt("\(error)")
        }
        guard produced == imageBytes else { throw corrupt("frame holds \(produced) bytes, the record says \(imageBytes)") }
        let batch = try SpillChunk.decode(
            UnsafeRawBufferPointer(start: imageStart, count: imageBytes), layout: layout, source: source)
        guard Int64(batch.rowCount) == SortRecord.version(spillRecord) else {
            throw corrupt("chunk has \(batch.rowCount) rows, its record \(SortRecord.version(spillRecord))")
        }
        return batch
    }
}

/// A growable raw buffer, contents not kept across growth.
private struct ScratchBuffer: ~Copyable {
    private var start: UnsafeMutableRawPointer?
    private(set) var capacity = 0

    init() {}

    deinit { start?.deallocate() }

    /// The buffer with at least `count` bytes.
    mutating func reserve(_ count: Int) -> UnsafeMutableRawPointer {
        if let start, capacity >= max(count, 1) { return start }
        start?.deallocate()
        let size = max(count, 1)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        start = fresh
        capacity = size
        return fresh
    }
}

/// The row path reads strings with `String(decoding:as:)`, which replaces invalid UTF-8 with U+FFFD; the columnar path
/// keeps bytes, so it repairs string columns the same way on input (keys included, so both paths see the same keys).
/// The warehouse's columnar load repairs the columns it reads the same way.
package enum UTF8Repair {
    /// The column with every invalid value decoded as the row path decodes it, or nil when all values are valid.
    package static func repaired(_ strings: ByteArrayColumn) -> ByteArrayColumn? {
        let offsets = strings.offsets
        let valid = strings.bytes.withUnsafeBytes { raw -> Bool in
            guard isValid(raw) else { return false }
            // A valid buffer whose value boundaries all fall on character starts holds only valid values.
            for offset in offsets where offset < raw.count && raw[offset] & 0xC0 == 0x80 { return false }
            return true
        }
        if valid { return nil }
        var result = ByteArrayColumn(reservingValues: strings.count, bytes: strings.bytes.count)
        for index in 0..<strings.count { result.append(strings.string(at: index)) }
        return result
    }

    /// UTF-8 well-formedness (no overlong forms, surrogates or values above U+10FFFF), ASCII 8 bytes at a time.
    static func isValid(_ raw: UnsafeRawBufferPointer) -> Bool {
        let count = raw.count
        var index = 0
        while index < count {
            if index + 8 <= count, raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            let lead = raw[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            func continuation(_ offset: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
                index + offset < count && raw[index + offset] >= low && raw[index + offset] <= high
            }
            switch lead {
            case 0xC2...0xDF:
                guard continuation(1) else { return false }
                index += 2
            case 0xE0...0xEF:
                let low: UInt8 = lead == 0xE0 ? 0xA0 : 0x80
                let high: UInt8 = lead == 0xED ? 0x9F : 0xBF
                guard continuation(1, low, high), continuation(2) else { return false }
                index += 3
            case 0xF0...0xF4:
                let low: UInt8 = lead == 0xF0 ? 0x90 : 0x80
                let high: UInt8 = lead == 0xF4 ? 0x8F : 0xBF
                guard continuation(1, low, high), continuation(2), continuation(3) else { return false }
                index += 4
            default:
                return false
            }
        }
        return true
    }
}
