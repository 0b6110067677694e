import ParquetKit
import Testing

/// Mutated files must fail with a `ParquetError`, never crash, hang or allocate without bound.
@Suite struct FuzzTests {
    static func seeds() throws -> [[UInt8]] {
        let nullable = try Fixtures.allTypesSchema(nullable: true)
        var seeds: [[UInt8]] = []
        for (i, codec) in [ParquetCodec.uncompressed, .snappy, .zstd].enumerated() {
            var o = ParquetWriterOptions()
            o.codec = codec
            o.rowGroupRows = 40
            o.pageSizeBytes = 200
            o.dictionary = i != 1
            seeds.append(try ParquetWriter.encode(
                schema: nullable, batches: [Fixtures.allTypes(rows: 90, seed: UInt64(i), nullable: true, distinctTitles: 8)], options: o))
        }
        return seeds
    }

    @Test func mutatedFilesFailCleanly() throws {
        var g = SplitMix64(seed: 0xF022)
        var options = ParquetReaderOptions()
        options.maxPageBytes = 1 << 20
        options.maxRowGroupRows = 1 << 16
        var outcomes = [0, 0]  // [read fine, ParquetError]
        for seed in try Self.seeds() {
            for _ in 0..<1000 {
                var bytes = seed
                switch g.next() % 4 {
                case 0:  // bit flips
                    for _ in 0..<Int(g.next() % 4 + 1) {
                        let i = Int(g.next() % UInt64(bytes.count))
                        bytes[i] ^= 1 << UInt8(g.next() % 8)
                    }
                case 1:  // truncation
                    bytes.removeLast(Int(g.next() % UInt64(bytes.count)))
                case 2:  // a random varint-ish length somewhere (often in the footer)
                    let i = bytes.count - 8 - Int(g.next() % UInt64(min(400, bytes.count - 8)))
                    for k in 0..<Int(g.next() % 5 + 1) where i + k < bytes.count {
                        bytes[i + k] = UInt8(truncatingIfNeeded: g.next()) | (k < 4 ? 0x80 : 0)
                    }
                default:  // a random byte overwritten with a boundary value
                    let i = Int(g.next() % UInt64(bytes.count))
                    bytes[i] = [0x00, 0xFF, 0x7F, 0x80, 0x15, 0x19][Int(g.next() % 6)]
                }
                do {
                    let reader = try ParquetReader(bytes: bytes, name: "fuzz", options: options)
                    for group in 0..<reader.rowGroupCount { _ = try reader.readRowGroup(group) }
                    outcomes[0] += 1
                } catch let error as ParquetError {
                    #expect(error.path == "fuzz")
                    outcomes[1] += 1
                } catch {
                    Issue.record("non-ParquetError: \(error)")
                }
            }
        }
        #expect(outcomes[1] > 1000)
    }

    @Test func foreignAndTruncatedFilesNameTheProblem() throws {
        let notParquet = #expect(throws: ParquetError.self) { try ParquetReader(bytes: Array("hello, this is not parquet".utf8), name: "x.txt") }
        #expect(notParquet?.code == .notParquet)
        #expect(notParquet?.description.contains("x.txt") == true)
        let seed = try Self.seeds()[0]
        let truncated = #expect(throws: ParquetError.self) { try ParquetReader(bytes: Array(seed.dropLast(3)), name: "t.parquet") }
        #expect(truncated?.code == .notParquet)
        var lying = seed
        let n = lying.count
        lying[n - 8] = 0xFF
        lying[n - 7] = 0xFF
        let footer = #expect(throws: ParquetError.self) { try ParquetReader(bytes: lying, name: "f.parquet") }
        #expect(footer?.code == .corrupt)
        #expect(throws: ParquetError.self) { try ParquetReader(path: "/nonexistent/file.parquet") }
    }
}
