/// A small strict JSON reader for the hot response shapes: parses a whole body into a tree and lets a parser read
/// the fields it needs. It answers only when the body is plainly valid and every field it is asked for has the
/// expected type; anything unusual (escapes it cannot decode, duplicate keys, fractions where an integer is wanted,
/// deep nesting) makes it give up (`nil`), and the caller falls back to `JSONDecoder`, which also produces every
/// error message. So it never changes what a body means, only what reading the common body costs.
enum FastJSON: Sendable {
    case null
    case bool(Bool)
    /// The number's text, checked against the JSON grammar.
    case number(String)
    case string(String)
    case array([FastJSON])
    case object([(key: String, value: FastJSON)])

    /// Nesting deeper than this gives up (JSONDecoder's own limit is larger; ours only needs to be safe).
    static let maxDepth = 64

    /// Parses the whole of `body` (surrounding whitespace allowed); nil if it is not plainly valid JSON.
    static func parse(_ body: [UInt8]) -> FastJSON? {
        body.withUnsafeBufferPointer { buffer in
            var reader = Reader(bytes: buffer)
            reader.skipSpace()
            guard let value = reader.value(depth: 0) else { return nil }
            reader.skipSpace()
            return reader.position == buffer.count ? value : nil
        }
    }

    // MARK: Reading fields (nil = give up)

    /// The value of `key` in an object; `.some(nil)` when the key is absent. Gives up on a duplicate key or a
    /// non-object.
    subscript(key: String) -> FastJSON?? {
        guard case .object(let pairs) = self else { return nil }
        var found: FastJSON?
        for pair in pairs where pair.key == key {
            if found != nil { return nil }
            found = pair.value
        }
        return .some(found)
    }

    /// A required member of an object.
    func required(_ key: String) -> FastJSON? {
        guard let member = self[key], let value = member else { return nil }
        if case .null = value { return nil }
        return value
    }

    /// An optional member: `.some(nil)` when absent or null.
    func optional(_ key: String) -> FastJSON?? {
        guard let member = self[key] else { return nil }
        guard let value = member else { return .some(nil) }
        if case .null = value { return .some(nil) }
        return .some(value)
    }

    var int64: Int64? {
        guard case .number(let text) = self else { return nil }
        // Only plain integers: JSONDecoder's handling of "1.0" or "1e2" for an integer field is its own business.
        return Int64(text)
    }

    var int: Int? { int64.flatMap { Int(exactly: $0) } }

    var double: Double? {
        guard case .number(let text) = self, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    var bool: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    var string: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    var array: [FastJSON]? {
        guard case .array(let items) = self else { return nil }
        return items
    }

    var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    /// Reads an optional member with `read`; gives up when it is present but `read` cannot take it.
    func optional<T>(_ key: String, _ read: (FastJSON) -> T?) -> T?? {
        guard let member = optional(key) else { return nil }
        guard let value = member else { return .some(nil) }
        guard let result = read(value) else { return nil }
        return .some(result)
    }

    /// Reads a required member with `read`.
    func required<T>(_ key: String, _ read: (FastJSON) -> T?) -> T? {
        required(key).flatMap(read)
    }

    /// Every item of an array read with `read`, or nil if any item cannot be.
    func items<T>(_ read: (FastJSON) -> T?) -> [T]? {
        guard let items = array else { return nil }
        var result: [T] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let value = read(item) else { return nil }
            result.append(value)
        }
        return result
    }

    // MARK: Parsing

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> FastJSON? {
            guard position < bytes.count, depth <= FastJSON.maxDepth else { return nil }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var pairs: [(key: String, value: FastJSON)] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(pairs)
                }
                while true {
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\""), let key = string() else {
                        return nil
                    }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return nil }
                    position += 1
                    skipSpace()
                    guard let member = value(depth: depth + 1) else { return nil }
                    pairs.append((key, member))
                    skipSpace()
                    guard position < bytes.count else { return nil }
                    if bytes[position] == UInt8(ascii: ",") {
                        position += 1
                    } else if bytes[position] == UInt8(ascii: "}") {
                        position += 1
                        return .object(pairs)
                    } else {
                        return nil
                    }
                }
            case UInt8(ascii: "["):
                position += 1
                var items: [FastJSON] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return .array(items)
                }
                while true {
                    skipSpace()
                    guard let item = value(depth: depth + 1) else { return nil }
                    items.append(item)
                    skipSpace()
                    guard position < bytes.count else { return nil }
                    if bytes[position] == UInt8(ascii: ",") {
                        position += 1
                    } else if bytes[position] == UInt8(ascii: "]") {
                        position += 1
                        return .array(items)
                    } else {
                        return nil
                    }
                }
            case UInt8(ascii: "\""):
                return string().map(FastJSON.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard position + count <= bytes.count else { return false }
            for index in 0..<count where bytes[position + index] != word.utf8Start[index] { return false }
            position += count
            return true
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        mutating func number() -> FastJSON? {
            let start = position
            func digits() -> Int {
                let first = position
                while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
                return position - first
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count else { return nil }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
            } else if digits() == 0 {
                return nil
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { return nil }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard digits() > 0 else { return nil }
            }
            return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
        }

        /// A string starting at the opening quote. Escapes are decoded; invalid UTF-8, raw control characters and
        /// lone surrogates give up.
        mutating func string() -> String? {
            position += 1
            let start = position
            var plain = true
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    plain = false
                    position += 2
                } else {
                    position += 1
                }
            }
            guard position < bytes.count else { return nil }
            let end = position
            position += 1
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if plain { return String(validating: raw, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var index = 0
            func hex4(_ at: Int) -> UInt32? {
                guard at + 4 <= raw.count else { return nil }
                var value: UInt32 = 0
                for offset in 0..<4 {
                    let c = raw[at + offset]
                    let digit: UInt8
                    switch c {
                    case 0x30...0x39: digit = c - 0x30
                    case 0x61...0x66: digit = c - 0x61 + 10
                    case 0x41...0x46: digit = c - 0x41 + 10
                    default: return nil
                    }
                    value = value << 4 | UInt32(digit)
                }
                return value
            }
            while index < raw.count {
                let byte = raw[index]
                guard byte == UInt8(ascii: "\\") else {
                    out.append(byte)
                    index += 1
                    continue
                }
                guard index + 1 < raw.count else { return nil }
                let escape = raw[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4(index) else { return nil }
                    index += 4
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u"),
                            let low = hex4(index + 2), low >= 0xDC00, low < 0xE000
                        else { return nil }
                        index += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        return nil
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    out.append(contentsOf: UTF8.encode(unicode)!)
                default:
                    return nil
                }
            }
            return String(validating: out, as: UTF8.self)
        }
    }
}
