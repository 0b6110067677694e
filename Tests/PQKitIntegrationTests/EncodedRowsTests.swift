import PQKit
import Testing

/// `PGCopyWriter.writeEncodedRows` (rows encoded on another thread, as the warehouse load does) against the server:
/// small pieces join the writer's buffer; a piece of `batchBytes` or more goes out on its own after what is
/// buffered, so rows must still arrive in stream order and intact, in either format.
@Suite struct EncodedRowsTests {
    /// The body of row `id`: NULL, empty, escaped characters, multi-byte text, lengths from 0 to ~900 bytes.
    static func body(_ id: Int64) -> String? {
        if id % 13 == 0 { return nil }
        let texts = ["웹툰 제목", "tab\there", "line\nbreak", "back\\slash", "\\N", "cr\rlf\r\n", "", "\\.", "🎉"]
        return texts[Int(id % Int64(texts.count))] + String(repeating: "가x", count: Int(id % 151)) + "#\(id)"
    }

    /// Rows `ids` encoded as `writeEncodedRows` takes them: whole rows, no binary header.
    static func encoded(_ ids: Range<Int64>, _ format: PGCopyFormat) throws -> [UInt8] {
        var encoder = PGCopyEncoder(format: format, header: false)
        for id in ids {
            try encoder.beginRow(fieldCount: 2)
            fields(id, into: &encoder)
            try encoder.endRow()
        }
        return encoder.bytes
    }

    /// The fields of row `id`: `id int8, body text`.
    static func fields(_ id: Int64, into encoder: inout PGCopyEncoder) {
        encoder.int8(id)
        if let body = body(id) { encoder.text(body) } else { encoder.null() }
    }

    @Test(arguments: [PGCopyFormat.binary, .text])
    func smallWritesAroundLargeEncodedBatchesArriveInOrder(format: PGCopyFormat) async throws {
        try await withScratchSchema { connection, schema, quotedSchema in
            try await connection.execute(
                "CREATE TABLE " + quotedSchema + ".r (seq bigserial PRIMARY KEY, id int8 NOT NULL, body text)")
            var next: Int64 = 0
            var largeBatches = 0
            let copied = try await connection.copyIn(
                table: "r", schema: schema, columns: ["id", "body"], format: format
            ) { writer in
                func rows(_ count: Int64) async throws {
                    for _ in 0..<count {
                        let id = next
                        try await writer.writeRow(fieldCount: 2) { Self.fields(id, into: &$0) }
                        next += 1
                    }
                }
                func piece(_ count: Int64) async throws {
                    let bytes = try Self.encoded(next..<next + count, format)
                    if bytes.count >= PGCopyWriter.batchBytes { largeBatches += 1 }
                    try await writer.writeEncodedRows(bytes, rowCount: Int(count))
                    next += count
                }
                // A large batch first: only the binary header is buffered.
                try await piece(3_000)
                try await rows(3)
                try await piece(40)
                // Small pieces until the buffer has gone out once, then a few more rows buffered behind it.
                let sent = writer.bytesSent
                while writer.bytesSent == sent { try await piece(25) }
                try await rows(5)
                try await piece(7)
                // A large batch with rows buffered and a batch in flight, another right after it (nothing buffered),
                // then a third after a single row.
                try await piece(2_500)
                try await piece(4_000)
                try await rows(1)
                try await piece(2_200)
                try await rows(2)
                try await piece(10)
                #expect(writer.rowsWritten == Int(next))
            }
            #expect(largeBatches == 4, "the large pieces must reach PGCopyWriter.batchBytes")
            #expect(copied == Int(next))
            let stored = try await connection.query("SELECT id, body FROM " + quotedSchema + ".r ORDER BY seq").rows
            #expect(stored.count == Int(next))
            var mismatches = 0
            for (position, row) in stored.enumerated() {
                let id = try row.value(0, as: Int64.self)
                let body = row[1]
                if id != Int64(position) || body != Self.body(Int64(position)) {
                    mismatches += 1
                    if mismatches <= 3 {
                        Issue.record(
                            "\(format) row \(position): got \(String(describing: id)) \(String(describing: body))")
                    }
                }
            }
            #expect(mismatches == 0, "\(format)")
        }
    }
}
