import ParquetKit
@testable import ReducerCore
import Testing

/// The columnar sort's compressed spill chunks: every table's columns round-trip exactly through one reused codec,
/// and a damaged record is a `corruptSpill` error, never a wrong batch.
@Suite struct SpillChunkTests {
    /// A random batch of `rows` rows in `layout`'s columns: NULLs where a column is nullable, empty and non-ASCII
    /// strings, extreme integers and doubles (NaN and signed zero included).
    static func randomBatch(_ layout: ColumnarLayout, rows: Int, using g: inout SplitMix64) -> ColumnBatch {
        let strings = ["", "naver", "kakao", "웹툰 제목", "https://image-comic.pstatic.net/webtoon/", "a\u{0}b", "🎨"]
        let doubles: [Double] = [0, -0.0, 9.87, .nan, .infinity, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]
        func int64() -> Int64 {
            switch g.next() % 4 {
            case 0: .min
            case 1: .max
            default: Int64(bitPattern: g.next()) >> (g.next() % 64)
            }
        }
        return ColumnBatch(
            layout.columns.map { column in
                let validity: [Bool]? = column.nullable ? (0..<rows).map { _ in g.next() % 3 != 0 } : nil
                let storage: ColumnValues.Storage
                switch column.type {
                case .boolean: storage = .boolean((0..<rows).map { _ in g.next() % 2 == 0 })
                case .int32, .date: storage = .int32((0..<rows).map { _ in Int32(truncatingIfNeeded: int64()) })
                case .int64, .timestamp: storage = .int64((0..<rows).map { _ in int64() })
                case .double: storage = .double((0..<rows).map { _ in doubles[Int(g.next() % 7)] })
                case .string:
                    storage = .byteArray(
                        ByteArrayColumn(
                            (0..<rows).map { _ in
                                strings[Int(g.next() % 7)] + String(repeating: "x", count: Int(g.next() % 40))
                            }))
                case .list: preconditionFailure("no list columns in a columnar layout")
                }
                return ColumnValues(storage, validity: validity)
            })
    }

    /// A column's values as comparable text (doubles by bit pattern, so NaN and -0 compare exactly).
    static func cells(_ column: ColumnValues, rows: Int) -> [String] {
        let values: [String] =
            switch column.storage {
            case .boolean(let v): v.map { "\($0)" }
            case .int32(let v): v.map { "\($0)" }
            case .int64(let v): v.map { "\($0)" }
            case .double(let v): v.map { "\($0.bitPattern)" }
            case .byteArray(let s): (0..<s.count).map { "\(Array(s.string(at: $0).utf8))" }
            case .list: []
            }
        return (0..<rows).map { (column.validity?[$0] ?? true ? "" : "null:") + values[$0] }
    }

    static let layouts: [ColumnarLayout] = [
        ColumnarLayout(TitleRow.self)!, ColumnarLayout(GenreRow.self)!, ColumnarLayout(EpisodeRow.self)!,
        ColumnarLayout(CommentRow.self)!,
    ]

    @Test func everyTableRoundTripsThroughOneReusedCodec() throws {
        let codec = try SpillChunkCodec()
        var g = SplitMix64(seed: 31)
        for layout in Self.layouts {
            for rows in [0, 1, 2, 333, 4000, 17] {
                let batch = Self.randomBatch(layout, rows: rows, using: &g)
                let imageBytes = SpillChunk.size(of: batch)
                let record = try codec.record(for: batch, source: "test")
                let back = try codec.batch(of: record, layout: layout, maxImageBytes: imageBytes, source: "test")
                #expect(back.rowCount == rows)
                for (index, column) in layout.columns.enumerated() {
                    #expect(
                        Self.cells(back.columns[index], rows: rows) == Self.cells(batch.columns[index], rows: rows),
                        "\(layout.table).\(column.name), \(rows) rows")
                }
            }
        }
    }

    /// Sorted episode columns (shared URL prefixes, near-sequential ids) take a fraction of their image on disk.
    @Test func sortedEpisodeColumnsCompressSeveralFold() throws {
        let layout = ColumnarLayout(EpisodeRow.self)!
        let rows = 5000
        let columns: [ColumnValues] = layout.columns.map { column in
            switch (column.name, column.type) {
            case (_, .string):
                ColumnValues(
                    .byteArray(
                        ByteArrayColumn(
                            (0..<rows).map { "https://image-comic.pstatic.net/webtoon/\(700_000 + $0 / 40)/\($0)/t.jpg" })))
            case (_, .int32), (_, .date): ColumnValues(.int32((0..<rows).map { Int32(20_000 + $0 / 1000) }))
            case (_, .double): ColumnValues(.double((0..<rows).map { Double($0 % 1000) / 100 }))
            case (_, .boolean): ColumnValues(.boolean((0..<rows).map { $0 % 7 == 0 }))
            default: ColumnValues(.int64((0..<rows).map { Int64(1_000_000 + $0) }))
            }
        }
        let batch = ColumnBatch(columns)
        let imageBytes = SpillChunk.size(of: batch)
        let codec = try SpillChunkCodec()
        let recordBytes = try withExtendedLifetime(codec) {  // the codec owns the record's buffer
            SortRecord.size(try codec.record(for: batch, source: "test"))
        }
        #expect(recordBytes * 4 < imageBytes, "\(recordBytes) of \(imageBytes) bytes")
    }

    @Test func damagedRecordsAreCorruptSpillErrors() throws {
        let layout = ColumnarLayout(EpisodeRow.self)!
        let codec = try SpillChunkCodec()
        var g = SplitMix64(seed: 7)
        let batch = Self.randomBatch(layout, rows: 500, using: &g)
        let imageBytes = SpillChunk.size(of: batch)
        let pointer = try codec.record(for: batch, source: "test")
        let original = Array(UnsafeRawBufferPointer(start: pointer, count: SortRecord.size(pointer)))
        let header = SortRecord.headerBytes

        func read(_ bytes: [UInt8], maxImageBytes: Int = imageBytes) throws {
            _ = try bytes.withUnsafeBytes { raw in
                try codec.batch(of: raw.baseAddress!, layout: layout, maxImageBytes: maxImageBytes, source: "run-1.bin")
            }
        }
        func storing(_ value: UInt32, at offset: Int) -> [UInt8] {
            var bytes = original
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + 4), with: $0) }
            return bytes
        }
        var flipped = original
        flipped[header + 4] ^= 0x5A  // the frame's magic (bit flips inside it are the spill block checksum's job)
        var wrongRows = original
        wrongRows[8] &+= 1
        let damages: [(String, [UInt8])] = [
            ("damaged frame", flipped),
            ("image size too large for the frame", storing(UInt32(imageBytes + 1), at: header)),
            ("image size too small for the frame", storing(UInt32(imageBytes - 1), at: header)),
            ("row count other than the chunk's", wrongRows),
            ("payload without an image size", storing(3, at: 4)),
        ]
        for (damage, bytes) in damages {
            let error = #expect(throws: ReducerError.self, "\(damage)") { try read(bytes) }
            #expect(error?.code == .corruptSpill, "\(damage): \(String(describing: error))")
            #expect(error?.subject == "run-1.bin", "\(damage)")
        }
        let overLimit = #expect(throws: ReducerError.self) { try read(original, maxImageBytes: imageBytes - 1) }
        #expect(overLimit?.code == .corruptSpill)
        // The codec still reads the undamaged record after all that.
        try read(original)
    }
}
