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
            let malformed: Bool
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty { malformed = true } else {
                malformed = false
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
