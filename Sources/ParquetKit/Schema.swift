/// The column types this library writes and reads (parquet.md §4 "Column type mapping").
public enum ParquetType: Sendable, Hashable, CustomStringConvertible {
    case boolean
    case int32
    case int64
    case double
    /// UTF-8 text: BYTE_ARRAY with the STRING logical type.
    case string
    /// Days since 1970-01-01: INT32 with the DATE logical type.
    case date
    /// Microseconds since the Unix epoch, UTC: INT64 with TIMESTAMP(isAdjustedToUTC = true, MICROS).
    case timestamp

    public var description: String {
        switch self {
        case .boolean: "boolean"
        case .int32: "int32"
        case .int64: "int64"
        case .double: "double"
        case .string: "string"
        case .date: "date"
        case .timestamp: "timestamp[us, UTC]"
        }
    }

    var physicalType: Int32 {
        switch self {
        case .boolean: PhysicalType.boolean
        case .int32, .date: PhysicalType.int32
        case .int64, .timestamp: PhysicalType.int64
        case .double: PhysicalType.double
        case .string: PhysicalType.byteArray
        }
    }
}

/// One leaf column of a flat schema.
public struct ParquetColumn: Sendable, Hashable {
    public var name: String
    public var type: ParquetType
    /// OPTIONAL (may hold nulls) when true, REQUIRED otherwise.
    public var nullable: Bool

    public init(_ name: String, _ type: ParquetType, nullable: Bool = false) {
        self.name = name
        self.type = type
        self.nullable = nullable
    }
}

/// A flat schema: an ordered list of uniquely named leaf columns.
public struct ParquetSchema: Sendable, Hashable {
    public let columns: [ParquetColumn]

    public init(_ columns: [ParquetColumn]) throws {
        var seen = Set<String>()
        for c in columns {
            guard !c.name.isEmpty else { throw ParquetError(.invalidArgument, "a column has an empty name") }
            guard seen.insert(c.name).inserted else {
                throw ParquetError(.invalidArgument, "column \"\(c.name)\" appears twice")
            }
        }
        self.columns = columns
    }

    public func index(of name: String) -> Int? { columns.firstIndex { $0.name == name } }

    func schemaElements() -> [SchemaElement] {
        var elements = [SchemaElement(name: "schema", numChildren: Int32(columns.count))]
        for c in columns {
            var e = SchemaElement(type: c.type.physicalType, repetition: c.nullable ? 1 : 0, name: c.name)
            switch c.type {
            case .string:
                e.convertedType = ConvertedType.utf8
                e.logicalType = .string
            case .date:
                e.convertedType = ConvertedType.date
                e.logicalType = .date
            case .timestamp:
                e.convertedType = ConvertedType.timestampMicros
                e.logicalType = .timestamp(adjustedToUTC: true, unit: 2)
            case .boolean, .int32, .int64, .double: break
            }
            elements.append(e)
        }
        return elements
    }

    /// Maps one leaf to our type from its physical, logical and (legacy) converted type.
    static func columnType(_ e: SchemaElement) throws -> ParquetType {
        func unsupported() -> ParquetError {
            ParquetError.unsupported(
                "column \"\(e.name)\": physical type \(e.type ?? -1), logical type \(e.logicalType.map { "\($0)" } ?? "none"), converted type \(e.convertedType.map { "\($0)" } ?? "none")")
        }
        // Converted types INT_8…INT_64 (15…18) are signed integers; UINT_8…UINT_64 (11…14) are not read.
        let signedConverted = e.convertedType.map { (15...18).contains($0) } ?? true
        switch e.type {
        case PhysicalType.boolean?:
            return .boolean
        case PhysicalType.int32?:
            switch e.logicalType {
            case .date?: return .date
            case .integer(_, true)?: return .int32
            case nil:
                if e.convertedType == ConvertedType.date { return .date }
                if signedConverted { return .int32 }
            default: break
            }
        case PhysicalType.int64?:
            switch e.logicalType {
            case .timestamp(_, 2)?: return .timestamp
            case .integer(_, true)?: return .int64
            case nil:
                if e.convertedType == ConvertedType.timestampMicros { return .timestamp }
                if signedConverted { return .int64 }
            default: break
            }
        case PhysicalType.double?:
            return .double
        case PhysicalType.byteArray?:
            if e.logicalType == .string || (e.logicalType == nil && e.convertedType == ConvertedType.utf8) { return .string }
        default: break
        }
        throw unsupported()
    }

    /// Maps a file's schema elements to our types, rejecting nesting and types we do not read.
    static func from(_ elements: [SchemaElement]) throws -> ParquetSchema {
        guard let root = elements.first else { throw ParquetError.corrupt("the schema is empty") }
        let leaves = elements.dropFirst()
        guard Int(root.numChildren ?? 0) == leaves.count else {
            throw ParquetError.unsupported("nested schemas (root declares \(root.numChildren ?? 0) children, file has \(leaves.count) elements)")
        }
        var columns: [ParquetColumn] = []
        for e in leaves {
            guard (e.numChildren ?? 0) == 0, e.type != nil else {
                throw ParquetError.unsupported("nested column \"\(e.name)\"")
            }
            let repetition = e.repetition ?? 0
            guard repetition == 0 || repetition == 1 else {
                throw ParquetError.unsupported("repeated column \"\(e.name)\"")
            }
            let type = try Self.columnType(e)
            columns.append(ParquetColumn(e.name, type, nullable: repetition == 1))
        }
        do { return try ParquetSchema(columns) } catch let error as ParquetError {
            throw ParquetError.corrupt(error.detail)
        }
    }
}

/// A single cell, for the convenient row API and for predicates.
public enum ParquetValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case boolean(Bool)
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case string(String)
    /// Days since 1970-01-01.
    case date(Int32)
    /// Microseconds since the Unix epoch, UTC.
    case timestamp(Int64)

    public var description: String {
        switch self {
        case .null: "null"
        case .boolean(let v): "\(v)"
        case .int32(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .double(let v): "\(v)"
        case .string(let v): "\"\(v)\""
        case .date(let v): "date(\(v))"
        case .timestamp(let v): "timestamp(\(v))"
        }
    }
}
