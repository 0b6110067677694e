import Testing

@testable import PQKit

/// `appendBinaryRows` (a block of rows from column arrays) against the row-at-a-time encoder and the independent
/// binary decoder.
@Suite struct CopyColumnsTests {
    /// Random columns of every kind (NULLs included), as arrays and as the per-field samples that encode them.
    static func columns(
        kinds: [Sample.Kind], rows: Int, _ g: inout SplitMix64
    ) -> (columns: [PGCopyColumn], samples: [[Sample]]) {
        var samples = Array(repeating: [Sample](), count: rows)
        var columns: [PGCopyColumn] = []
        for kind in kinds {
            let nullable = g.next() % 2 == 0
            var values = (0..<rows).map { _ in SampleGenerator.value(kind, &g) }
            while !nullable, let index = values.firstIndex(of: .null) {
                values[index] = SampleGenerator.value(kind, &g)
            }
            let validity: [Bool]? = nullable ? values.map { $0 != .null } : nil
            let column: PGCopyColumn.Values
            switch kind {
            case .int2: column = .int2(values.map { if case .int2(let v) = $0 { v } else { 0 } })
            case .int4: column = .int4(values.map { if case .int4(let v) = $0 { v } else { 0 } })
            case .int8: column = .int8(values.map { if case .int8(let v) = $0 { v } else { 0 } })
            case .float8: column = .float8(values.map { if case .float8(let v) = $0 { v } else { 0 } })
            case .bool: column = .bool(values.map { if case .bool(let v) = $0 { v } else { false } })
            case .date:
                column = .date(
                    daysSinceUnixEpoch: values.map {
                        if case .date(let v) = $0 { Int32(v.daysSinceUnixEpoch) } else { 0 }
                    })
            case .timestamp:
                column = .timestamptz(
                    microsecondsSinceUnixEpoch: values.map { if case .timestamp(let v) = $0 { v } else { 0 } })
            case .text, .bytea:
                // Text columns carry any bytes; bytea samples stand in for the text column's raw bytes here.
                var bytes: [UInt8] = []
                var offsets = [0]
                for value in values {
                    switch value {
                    case .text(let text): bytes += Array(text.utf8)
                    case .bytea(let raw): bytes += raw
                    default: break
                    }
                    offsets.append(bytes.count)
                }
                column = .text(bytes: bytes, offsets: offsets)
            }
            columns.append(PGCopyColumn(column, validity: validity))
            for row in 0..<rows { samples[row].append(values[row]) }
        }
        return (columns, samples)
    }

    @Test func blocksOfRowsEncodeAsTheRowEncoderDoes() throws {
        var g = SplitMix64(seed: 0x00C0_1A55)
        for round in 0..<300 {
            let kinds = (0..<Int(g.next() % 9)).map { _ in Sample.Kind.allCases[Int(g.next() % UInt64(Sample.Kind.allCases.count))] }
            let rows = Int(g.next() % 40)
            let (columns, samples) = Self.columns(kinds: kinds, rows: rows, &g)
            let lower = rows == 0 ? 0 : Int(g.next() % UInt64(rows))
            let upper = lower + Int(g.next() % UInt64(rows - lower + 1))

            var byRow = PGCopyEncoder(format: .binary)
            for row in lower..<upper {
                try byRow.beginRow(fieldCount: kinds.count)
                for sample in samples[row] { try sample.encode(into: &byRow) }
                try byRow.endRow()
            }
            var byColumn = PGCopyEncoder(format: .binary)
            try byColumn.appendBinaryRows(columns, rows: lower..<upper)
            #expect(byColumn.bytes == byRow.bytes, "round \(round): \(kinds), rows \(lower)..<\(upper)")

            byColumn.finish()
            // Bytea and text fields are alike on the wire: decode both as bytea.
            let wire = kinds.map { $0 == .text ? Sample.Kind.bytea : $0 }
            let decoded = try CopyDecoder.binary(byColumn.bytes, kinds: Array(repeating: wire, count: upper - lower))
            let expected = samples[lower..<upper].map { row in
                row.map { sample -> Sample in
                    if case .text(let text) = sample { .bytea(Array(text.utf8)) } else { sample }
                }
            }
            #expect(decoded == Array(expected), "round \(round)")
        }
    }

    /// The row range may start anywhere, and blocks append after rows already encoded.
    @Test func blocksJoinRowsAlreadyEncoded() throws {
        var encoder = PGCopyEncoder(format: .binary, header: false)
        try encoder.beginRow(fieldCount: 1)
        encoder.int8(7)
        try encoder.endRow()
        let before = encoder.bytes
        try encoder.appendBinaryRows(
            [
                PGCopyColumn(.int8([1, 2, 3])),
                PGCopyColumn(.repeatedText(Array("kakao".utf8)), validity: [true, false, true]),
            ],
            rows: 1..<3)
        var expected = PGCopyEncoder(format: .binary, header: false)
        try expected.beginRow(fieldCount: 1)
        expected.int8(7)
        try expected.endRow()
        try expected.beginRow(fieldCount: 2)
        expected.int8(2)
        expected.null()
        try expected.endRow()
        try expected.beginRow(fieldCount: 2)
        expected.int8(3)
        expected.text("kakao")
        try expected.endRow()
        #expect(encoder.bytes == expected.bytes)
        #expect(encoder.bytes.starts(with: before))
    }

    /// Values the binary form cannot carry, columns shorter than the rows, bad offsets and misuse throw, and leave
    /// the encoder's bytes as they were.
    @Test func badColumnsThrowAndAppendNothing() throws {
        let minDays = Int32(SampleGenerator.minDays)
        let maxDays = Int32(SampleGenerator.maxDays)
        let bad: [([PGCopyColumn], Range<Int>)] = [
            ([PGCopyColumn(.date(daysSinceUnixEpoch: [0, minDays - 1]))], 0..<2),
            ([PGCopyColumn(.date(daysSinceUnixEpoch: [maxDays + 1]))], 0..<1),
            ([PGCopyColumn(.timestamptz(microsecondsSinceUnixEpoch: [Int64.min]))], 0..<1),
            ([PGCopyColumn(.int8([1, 2]))], 0..<3),
            ([PGCopyColumn(.int8([1, 2, 3]), validity: [true])], 0..<3),
            ([PGCopyColumn(.text(bytes: [1, 2], offsets: [0, 2, 1]))], 0..<2),
            ([PGCopyColumn(.text(bytes: [1, 2], offsets: [0, 3]))], 0..<1),
            ([PGCopyColumn(.text(bytes: [1, 2], offsets: [0, 2]))], 0..<2),
            ([PGCopyColumn(.int8([1]))], -1..<1),
        ]
        for (columns, rows) in bad {
            var encoder = PGCopyEncoder(format: .binary)
            let before = encoder.bytes
            #expect(throws: PGError.self) { try encoder.appendBinaryRows(columns, rows: rows) }
            #expect(encoder.bytes == before)
        }
        // NULL slots are never read, so out-of-range placeholders there are fine.
        var encoder = PGCopyEncoder(format: .binary, header: false)
        try encoder.appendBinaryRows(
            [PGCopyColumn(.date(daysSinceUnixEpoch: [Int32.min, minDays, maxDays]), validity: [false, true, true])],
            rows: 0..<3)
        #expect(encoder.bytes.count == 3 * (2 + 4) + 2 * 4)

        var text = PGCopyEncoder(format: .text)
        #expect(throws: PGError.self) { try text.appendBinaryRows([PGCopyColumn(.int8([1]))], rows: 0..<1) }
        var open = PGCopyEncoder(format: .binary)
        try open.beginRow(fieldCount: 1)
        #expect(throws: PGError.self) { try open.appendBinaryRows([PGCopyColumn(.int8([1]))], rows: 0..<1) }
    }
}
