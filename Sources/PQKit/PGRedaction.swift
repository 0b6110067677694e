import Foundation

/// Keeps passwords out of error messages: libpq echoes a malformed connection URI verbatim in some errors.
enum PGRedaction {
    /// The password as written in a `postgres://user:password@host` URI, if there is one.
    static func uriPassword(in conninfo: String) -> String? {
        guard let scheme = conninfo.range(of: "://"),
            conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://")
        else { return nil }
        let rest = conninfo[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        guard let at = authority.lastIndex(of: "@") else { return nil }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return nil }
        let password = userInfo[userInfo.index(after: colon)...]
        return password.isEmpty ? nil : String(password)
    }

    /// `text` with every occurrence of each non-empty secret replaced by `***`.
    static func redact(_ text: String, secrets: [String]) -> String {
        var text = text
        for secret in secrets where !secret.isEmpty {
            text = text.replacing(secret, with: "***")
        }
        return text
    }
}
