import ParquetKit

/// Tables with every type and the awkward values: nulls, empty and Korean strings, Int extremes, NaN/±inf, -0.0.
enum Fixtures {
    static func allTypesSchema(nullable: Bool) throws -> ParquetSchema {
        try ParquetSchema([
            ParquetColumn("flag", .boolean, nullable: nullable),
            ParquetColumn("count32", .int32, nullable: nullable),
            ParquetColumn("id", .int64, nullable: nullable),
            ParquetColumn("rating", .double, nullable: nullable),
            ParquetColumn("title", .string, nullable: nullable),
            ParquetColumn("platform", .string, nullable: nullable),
            ParquetColumn("published", .date, nullable: nullable),
            ParquetColumn("fetched_at", .timestamp, nullable: nullable),
        ])
    }

    static let words = ["", "웹툰", "나 혼자만 레벨업", "카카오페이지", "a", "zz", "Zé", "🙂", "\u{0}nul", "로맨스판타지 완결"]

    static func allTypes(rows: Int, seed: UInt64, nullable: Bool, nullRate: Double = 0.2, distinctTitles: Int = 50) -> ColumnBatch {
        var g = SplitMix64(seed: seed)
        func isNull() -> Bool { nullable && Double.random(in: 0..<1, using: &g) < nullRate }
        var flags: [Bool?] = []
        var c32: [Int32?] = []
        var ids: [Int64?] = []
        var ratings: [Double?] = []
        var titles: [String?] = []
        var platforms: [String?] = []
        var dates: [Int32?] = []
        var stamps: [Int64?] = []
        let specialDoubles: [Double] = [.nan, .infinity, -.infinity, -0.0, 0.0, .greatestFiniteMagnitude, -.leastNonzeroMagnitude]
        for i in 0..<rows {
            flags.append(isNull() ? nil : g.next() & 1 == 0)
            c32.append(isNull() ? nil : [Int32.min, Int32.max, 0, Int32(truncatingIfNeeded: g.next() % 2000) - 1000].randomElement(using: &g))
            ids.append(isNull() ? nil : [Int64.min, Int64.max, Int64(i), Int64(bitPattern: g.next())].randomElement(using: &g))
            ratings.append(
                isNull() ? nil : (g.next() % 5 == 0 ? specialDoubles.randomElement(using: &g)! : Double.random(in: -1e6...1e6, using: &g)))
            titles.append(isNull() ? nil : words.randomElement(using: &g)! + String(g.next() % UInt64(distinctTitles)))
            platforms.append(isNull() ? nil : ["naver", "kakao", "카카오페이지"].randomElement(using: &g)!)
            dates.append(isNull() ? nil : Int32(truncatingIfNeeded: Int64(g.next() % 40_000) - 20_000))
            stamps.append(isNull() ? nil : Int64(truncatingIfNeeded: g.next() % 4_000_000_000_000_000) - 2_000_000_000_000_000)
        }
        return ColumnBatch([
            .booleans(flags), .int32s(c32), .int64s(ids), .doubles(ratings), .strings(titles), .strings(platforms),
            .int32s(dates), .int64s(stamps),
        ])
    }
}
