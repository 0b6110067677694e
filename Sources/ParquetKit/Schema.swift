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
    /// A list of non-null values of a primitive type (e.g. genres): the standard 3-level LIST structure
    /// `<name> (LIST) { repeated group list { required <element> } }`.
    indirect case list(ParquetType)

    /// The type of the stored values: the element type for a list, the type itself otherwise.
    public var valueType: ParquetType {
        if case .list(let element) = self { return element }
        return self
    }

    public var isList: Bool {
        if case .list = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .boolean: "boolean"
        case .int32: "int32"
        case .int64: "int64"
        case .double: "double"
        case .string: "string"
        case .date: "date"
        case .timestamp: "timestamp[us, UTC]"
        case .list(let element): "list<\(element)>"
        }
    }

    var physicalType: Int32 {
        switch valueType {
        case .boolean: PhysicalType.boolean
        case .int32, .date: PhysicalType.int32
        case .int64, .timestamp: PhysicalType.int64
        case .double: PhysicalType.double
        case .string: PhysicalType.byteArray
        case .list: PhysicalType.byteArray  // unreachable: nested lists are rejected by ParquetSchema
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
            if case .list(let element) = c.type, element.isList {
                throw ParquetError(.invalidArgument, "column \"\(c.name)\": lists of lists are not supported")
            }
        }
        self.columns = columns
    }

    public func index(of name: String) -> Int? { columns.firstIndex { $0.name == name } }

    func schemaElements() -> [SchemaElement] {
        var elements = [SchemaElement(name: "schema", numChildren: Int32(columns.count))]
        for c in columns {
            if case .list(let element) = c.type {
                elements.append(
                    SchemaElement(
                        repetition: c.nullable ? 1 : 0, name: c.name, numChildren: 1, convertedType: ConvertedType.list,
                        logicalType: .list))
                elements.append(SchemaElement(repetition: 2, name: "list", numChildren: 1))
                elements.append(Self.leafElement(name: "element", type: element, nullable: false))
            } else {
                elements.append(Self.leafElement(name: c.name, type: c.type, nullable: c.nullable))
            }
        }
        return elements
    }

    /// Path of a column's leaf in the file (`[name]`, or `[name, "list", "element"]` for a list).
    static func path(of c: ParquetColumn) -> [String] { c.type.isList ? [c.name, "list", "element"] : [c.name] }

    private static func leafElement(name: String, type: ParquetType, nullable: Bool) -> SchemaElement {
        var e = SchemaElement(type: type.physicalType, repetition: nullable ? 1 : 0, name: name)
        switch type {
        case .string:
            e.convertedType = ConvertedType.utf8
            e.logicalType = .string
        case .date:
            e.convertedType = ConvertedType.date
            e.logicalType = .date
        case .timestamp:
            e.convertedType = ConvertedType.timestampMicros
            e.logicalType = .timestamp(adjustedToUTC: true, unit: 2)
        case .boolean, .int32, .int64, .double, .list: break
        }
        return e
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

    /// Maps a file's schema elements to our columns plus how each leaf's levels map to rows. Supports flat
    /// leaves and 3-level LIST groups of a primitive; anything else nested is rejected.
    static func from(_ elements: [SchemaElement]) throws -> (ParquetSchema, [LeafLayout]) {
        guard let root = elements.first else { throw ParquetError.corrupt("the schema is empty") }
        var columns: [ParquetColumn] = []
        var layouts: [LeafLayout] = []
        var i = 1
        func next() throws -> SchemaElement {
            guard i < elements.count else { throw ParquetError.corrupt("schema declares more children than it has elements") }
            defer { i += 1 }
            return elements[i]
        }
        for _ in 0..<max(0, Int(root.numChildren ?? 0)) {
            let e = try next()
            let repetition = e.repetition ?? 0
            let children = Int(e.numChildren ?? 0)
            if children == 0 {
                guard repetition == 0 || repetition == 1 else {
                    throw ParquetError.unsupported("repeated column \"\(e.name)\" outside a LIST")
                }
                columns.append(ParquetColumn(e.name, try columnType(e), nullable: repetition == 1))
                layouts.append(LeafLayout(maxDefinition: repetition == 1 ? 1 : 0, maxRepetition: 0, elementNullable: false))
                continue
            }
            // A LIST group: (optional|required) group name (LIST) { repeated group list { (optional|required) leaf } }
            guard e.logicalType == .list || e.convertedType == ConvertedType.list, children == 1,
                repetition == 0 || repetition == 1
            else { throw ParquetError.unsupported("nested column \"\(e.name)\" (only LIST of a primitive is read)") }
            let middle = try next()
            guard middle.repetition == 2, (middle.numChildren ?? 0) == 1 else {
                throw ParquetError.unsupported("column \"\(e.name)\": only the 3-level LIST layout is read")
            }
            let leaf = try next()
            guard (leaf.numChildren ?? 0) == 0, leaf.type != nil, (leaf.repetition ?? 0) != 2 else {
                throw ParquetError.unsupported("column \"\(e.name)\": list elements must be primitive")
            }
            let elementNullable = leaf.repetition == 1
            columns.append(ParquetColumn(e.name, .list(try columnType(leaf)), nullable: repetition == 1))
            layouts.append(
                LeafLayout(
                    maxDefinition: (repetition == 1 ? 1 : 0) + 1 + (elementNullable ? 1 : 0), maxRepetition: 1,
                    elementNullable: elementNullable))
        }
        guard i == elements.count else {
            throw ParquetError.corrupt("schema has \(elements.count - i) elements beyond the root's children")
        }
        do { return (try ParquetSchema(columns), layouts) } catch let error as ParquetError {
            throw ParquetError.corrupt(error.detail)
        }
    }
}

/// How a leaf column's definition/repetition levels map to rows and nulls.
struct LeafLayout: Hashable, Sendable {
    var maxDefinition: Int
    var maxRepetition: Int
    /// A LIST whose element is OPTIONAL in the file (pyarrow's default); null elements are refused on read.
    var elementNullable: Bool
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
    /// The elements of a list cell.
    case list([ParquetValue])

    public var description: String {
        switch self {
        case .list(let v): "[" + v.map(\.description).joined(separator: ", ") + "]"
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
