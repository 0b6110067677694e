/// The three schemas the warehouse uses. Production uses the defaults; tests use a random suffix so runs can overlap.
public struct WarehouseSchemas: Hashable, Sendable {
    /// Loaded snapshots (`titles`, `genres`, `episodes`, `comments`), the load ledger and `schema_migrations`.
    public var warehouse: String
    /// Tables the site reads: one row per title / episode from its latest snapshot.
    public var site: String
    /// Aggregates for dashboards.
    public var dashboard: String

    public init(warehouse: String = "warehouse", site: String = "site", dashboard: String = "dashboard") {
        self.warehouse = warehouse
        self.site = site
        self.dashboard = dashboard
    }

    /// `warehouse_<suffix>`, `site_<suffix>`, `dashboard_<suffix>`.
    public init(suffix: String) {
        self.init(warehouse: "warehouse_\(suffix)", site: "site_\(suffix)", dashboard: "dashboard_\(suffix)")
    }

    func validate() throws(WarehouseError) {
        for name in [warehouse, site, dashboard] {
            // Models build into `<name>_next` and keep `<name>_old` briefly, so leave room for the suffix.
            guard !name.isEmpty, name.utf8.count <= 58, !name.utf8.contains(0) else {
                throw WarehouseError(
                    code: .invalidName, operation: "validate schema names", subject: name,
                    detail: "a schema name must be 1...58 bytes without NUL")
            }
        }
    }
}

/// `name` as a PostgreSQL quoted identifier (`"a""b"`); names are validated to contain no NUL.
func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacing("\"", with: "\"\"") + "\""
}

/// Replaces `{{warehouse}}`, `{{site}}` and `{{dashboard}}` in SQL templates with quoted schema identifiers. Only
/// identifiers are substituted; every value travels as a bind parameter.
struct SQLTemplate {
    var replacements: [(String, String)]

    init(_ schemas: WarehouseSchemas) {
        replacements = [
            ("{{warehouse}}", quoteIdentifier(schemas.warehouse)),
            ("{{site}}", quoteIdentifier(schemas.site)),
            ("{{dashboard}}", quoteIdentifier(schemas.dashboard)),
        ]
    }

    func render(_ template: String) -> String {
        var sql = template
        for (placeholder, identifier) in replacements { sql = sql.replacing(placeholder, with: identifier) }
        return sql
    }
}

/// FNV-1a 64-bit: a stable, dependency-free content hash for migration checksums and load fingerprints (it detects
/// accidental changes, it is not a defence against forgery).
struct FNV1a64 {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func combine(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
    }

    var hex: String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

/// A signed 64-bit advisory-lock key for `text` (pg_advisory_xact_lock takes a bigint).
func advisoryLockKey(_ text: String) -> Int64 {
    var hash = FNV1a64()
    hash.combine(text.utf8)
    return Int64(bitPattern: hash.value)
}
