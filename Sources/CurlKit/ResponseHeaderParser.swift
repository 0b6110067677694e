/// Collects the header lines libcurl hands to `CURLOPT_HEADERFUNCTION`, one line per call.
///
/// libcurl reports every response of a transfer (1xx interim responses, each redirect hop, the final one), so a
/// status line starts a fresh list: only the last response's fields remain. Pure logic, so it is tested alone.
struct ResponseHeaderParser {
    private(set) var headers: [HTTPHeader] = []
    /// Bytes accepted so far for the current response; bounded so a hostile peer cannot grow it without limit.
    private var bytes = 0
    static let maxBytes = 256 * 1024

    /// Feeds one raw line (with its CRLF). Returns false when the headers exceed `maxBytes`.
    mutating func consume(_ line: UnsafeRawBufferPointer) -> Bool {
        var end = line.count
        while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
        if end >= 5, line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == 0x2F {  // "HTTP/"
            headers.removeAll(keepingCapacity: true)
            bytes = 0
            return true
        }
        guard end > 0 else { return true }  // the blank line that ends a header block
        bytes += end
        guard bytes <= Self.maxBytes else { return false }
        let field = UnsafeRawBufferPointer(rebasing: line[0..<end])
        if line[0] != 0x20 && line[0] != 0x09, field.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            // Printable ASCII (nearly every field): bytes and characters coincide, so split by bytes and make
            // only the two strings kept.
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return true }
            var from = colon + 1
            var to = end
            while from < to, field[from] == 0x20 || field[from] == 0x09 { from += 1 }
            while to > from, field[to - 1] == 0x20 || field[to - 1] == 0x09 { to -= 1 }
            headers.append(
                HTTPHeader(
                    String(decoding: UnsafeRawBufferPointer(rebasing: field[..<colon]), as: UTF8.self),
                    String(decoding: UnsafeRawBufferPointer(rebasing: field[from..<to]), as: UTF8.self)))
            return true
        }
        let text = String(decoding: field, as: UTF8.self)
        if line[0] == 0x20 || line[0] == 0x09 {  // obsolete line folding continues the previous value
            if !headers.isEmpty {
                let more = trimmed(Substring(text))
                headers[headers.count - 1].value += headers[headers.count - 1].value.isEmpty ? more : " " + more
            }
            return true
        }
        guard let colon = text.firstIndex(of: ":") else { return true }  // not a field; ignore it
        headers.append(HTTPHeader(String(text[..<colon]), trimmed(text[text.index(after: colon)...])))
        return true
    }

    private func trimmed(_ text: Substring) -> String {
        var s = text
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
