#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Decodes only the fields we need, tolerating extra ones, and turns every failure into a `ResponseError` that names
/// the endpoint, the title/episode, the URL and the field path.
enum ResponseDecoding {
    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], _ request: EndpointRequest) throws(ResponseError)
        -> T
    {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            let (field, detail, missing) = EndpointCatalog.describe(error)
            var malformed = false
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                // Foundation reports a number that does not fit its integer field (1.5, 1e30) as "not valid JSON"
                // with no path. Tell the two apart, and name the suspicious numbers.
                if let tree = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) {
                    var suspects: [String] = []
                    tree.nonIntegralNumbers(path: "", into: &suspects)
                    throw failure(
                        request, .wrongShape, field: suspects.prefix(3).joined(separator: ", "),
                        "a number has a fraction or is out of range for its integer field")
                }
                malformed = true
            }
            throw failure(
                request, malformed ? .malformedBody : .wrongShape, field: field,
                malformed ? "not valid JSON (\(body.count) bytes): \(detail)" : missing ? "required field is missing" : detail)
        } catch {
            throw failure(request, .malformedBody, field: "", "\(error)")
        }
    }

    static func failure(_ request: EndpointRequest, _ code: ResponseError.Code, field: String = "", _ detail: String)
        -> ResponseError
    {
        ResponseError(
            code: code, platform: request.platform, endpoint: request.endpoint, subject: request.parameters.subject,
            field: field, detail: detail, url: request.url)
    }

    /// Ids must be plain positive numbers: they become file names and keys.
    static func id(_ value: Int64, _ field: String, _ request: EndpointRequest) throws(ResponseError) -> Int64 {
        guard value > 0 else { throw failure(request, .invalidValue, field: field, "id \(value) is not positive") }
        return value
    }

    static func count(_ value: Int64, _ field: String, _ request: EndpointRequest) throws(ResponseError) -> Int64 {
        guard value >= 0 else { throw failure(request, .invalidValue, field: field, "count \(value) is negative") }
        return value
    }

    /// Strips a JSONP wrapper `callback( … );` and returns the JSON inside. The callback name must be an identifier.
    static func unwrapJSONP(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> [UInt8] {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        var start = 0
        while start < body.count, isSpace(body[start]) { start += 1 }
        var end = body.count
        while end > start, isSpace(body[end - 1]) { end -= 1 }
        if end > start, body[end - 1] == UInt8(ascii: ";") { end -= 1 }
        while end > start, isSpace(body[end - 1]) { end -= 1 }
        guard let open = body[start..<end].firstIndex(of: UInt8(ascii: "(")), end > open + 1,
            body[end - 1] == UInt8(ascii: ")")
        else {
            throw failure(request, .malformedBody, "not a JSONP body `callback({...});` (\(body.count) bytes)")
        }
        let name = body[start..<open]
        guard
            name.allSatisfy({
                EndpointCatalog.isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "$")
                    || $0 == UInt8(ascii: ".")
            })
        else {
            throw failure(request, .malformedBody, "JSONP callback name is not an identifier")
        }
        return Array(body[(open + 1)..<(end - 1)])
    }
}

/// Naver's `pageInfo` block (only the fields paging needs).
public struct PageInfo: Decodable, Sendable, Hashable {
    public var page: Int
    public var totalPages: Int
    public init(page: Int, totalPages: Int) {
        self.page = page
        self.totalPages = totalPages
    }
}

/// Any JSON value; used only to diagnose decoding failures.
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !array.isAtEnd { items.append(try array.decode(JSONValue.self)) }
            self = .array(items)
        } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var fields: [String: JSONValue] = [:]
            for key in object.allKeys { fields[key.stringValue] = try object.decode(JSONValue.self, forKey: key) }
            self = .object(fields)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                self = .null
            } else if let value = try? single.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? single.decode(Double.self) {
                self = .number(value)
            } else {
                self = .string(try single.decode(String.self))
            }
        }
    }

    func nonIntegralNumbers(path: String, into out: inout [String]) {
        switch self {
        case .number(let value):
            if value.rounded() != value || abs(value) >= 9.2e18 { out.append(path) }
        case .array(let items):
            for (index, item) in items.enumerated() { item.nonIntegralNumbers(path: "\(path)[\(index)]", into: &out) }
        case .object(let fields):
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                value.nonIntegralNumbers(path: path.isEmpty ? key : "\(path).\(key)", into: &out)
            }
        default:
            break
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
