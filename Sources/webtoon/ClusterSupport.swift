import ArgumentParser
import Foundation
import ClusterCore
import Logging
import NNGKit
import PQKit
import WebtoonCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the cluster subcommands share: the secret, the database, platforms and logging.
enum ClusterSupport {
    static let secretVariable = "WEBTOON_CLUSTER_SECRET"

    /// This process's CPU time and peak RSS so far (getrusage), for benchmarks and operators.
    struct Resources: Sendable {
        var userSeconds: Double
        var systemSeconds: Double
        var maxRSSKiB: Int

        static func current() -> Resources {
            var usage = rusage()
            #if canImport(Glibc)
            getrusage(__rusage_who_t(truncatingIfNeeded: RUSAGE_SELF.rawValue), &usage)
            #else
            getrusage(RUSAGE_SELF, &usage)
            #endif
            return Resources(
                userSeconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                systemSeconds: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6,
                maxRSSKiB: Int(usage.ru_maxrss))
        }
    }

    /// Logs one `resources` line at notice level as the process ends (the default level of `webtoon run`'s children).
    static func logResources(_ logger: Logger, role: String, requests: Int64? = nil) {
        let resources = Resources.current()
        var metadata: Logger.Metadata = [
            "role": "\(role)", "cpuUserSeconds": "\(CrawlCommand.fixed(resources.userSeconds, 3))",
            "cpuSystemSeconds": "\(CrawlCommand.fixed(resources.systemSeconds, 3))", "maxRSSKiB": "\(resources.maxRSSKiB)",
        ]
        if let requests { metadata["requests"] = "\(requests)" }
        logger.notice("resources", metadata: metadata)
    }

    /// The cluster secret from `--secret-file` or `WEBTOON_CLUSTER_SECRET` (never from the command line, where `ps`
    /// would show it). A trailing newline in the file is ignored.
    static func secret(file: String?) throws -> [UInt8] {
        var bytes: [UInt8]
        var source: String
        if let file {
            guard let handle = fopen(file, "rb") else {
                throw ValidationError("cannot read --secret-file \(file) (errno \(errno)); create it with e.g. `head -c 32 /dev/urandom | base64 > \(file)`")
            }
            defer { fclose(handle) }
            bytes = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = fread(&buffer, 1, buffer.count, handle)
                if n <= 0 { break }
                bytes += buffer[0..<n]
                guard bytes.count <= 65_536 else { throw ValidationError("--secret-file \(file) is larger than 64 KiB") }
            }
            source = "--secret-file \(file)"
        } else if let value = getenv(secretVariable) {
            bytes = Array(String(cString: value).utf8)
            source = secretVariable
        } else {
            throw ValidationError("no cluster secret: give --secret-file PATH or set \(secretVariable) (the same on every node)")
        }
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        guard bytes.count >= WireCodec.minimumSecretBytes else {
            throw ValidationError(
                "the cluster secret from \(source) is \(bytes.count) bytes; it needs at least \(WireCodec.minimumSecretBytes)")
        }
        return bytes
    }

    static func readText(_ path: String, option: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("cannot read \(option) \(path)")
        }
        return text
    }

    /// The coordinator's TLS identity: required with a tls+tcp:// listen URL, refused otherwise.
    static func serverTLS(url: String, certificate: String?, key: String?) throws -> NNGTLSConfig? {
        guard url.hasPrefix("tls+tcp://") else {
            if certificate != nil || key != nil { throw ValidationError("--tls-cert/--tls-key need a tls+tcp:// URL") }
            return nil
        }
        guard let certificate, let key else {
            throw ValidationError("a tls+tcp:// URL needs --tls-cert PEM and --tls-key PEM (the coordinator's certificate and key)")
        }
        do {
            return try NNGTLSConfig.server(
                certificatePEM: try readText(certificate, option: "--tls-cert"), keyPEM: try readText(key, option: "--tls-key"))
        } catch let error as NNGError {
            throw ValidationError("TLS certificate \(certificate) / key \(key) refused: \(error)")
        }
    }


    static func databaseURL(_ option: String?) throws -> String {
        if let option, !option.isEmpty { return option }
        if let value = getenv("DATABASE_URL"), value.pointee != 0 { return String(cString: value) }
        throw ValidationError("no database: give --database-url postgresql://… or set DATABASE_URL")
    }

    static func platforms(_ list: String) throws -> [Platform] {
        var result: [Platform] = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let platform = Platform(rawValue: name) else {
                throw ValidationError("unknown platform \"\(name)\" in --platforms; use naver, kakao or naver,kakao")
            }
            if !result.contains(platform) { result.append(platform) }
        }
        guard !result.isEmpty else { throw ValidationError("--platforms is empty; use naver, kakao or naver,kakao") }
        return result
    }

    static func runSpec(platforms: String, mode: String, date: String?) throws -> RunSpec {
        guard let runMode = RunMode(rawValue: mode) else { throw ValidationError("--mode must be daily or full") }
        let day = try date.map { text in
            guard let day = CrawlDate(text) else { throw ValidationError("--date must be a YYYY-MM-DD day (KST)") }
            return day
        } ?? CrawlDate(kstDayOfEpochMilliseconds: systemMillis())
        do {
            return try RunSpec(platforms: try Self.platforms(platforms).map(\.rawValue), mode: runMode, crawlDate: day.description)
        } catch let error as ClusterError {
            throw ValidationError("invalid run: \(error)")
        }
    }

    static func systemMillis() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    static func validateSchema(_ schema: String) throws {
        let ok = !schema.isEmpty && schema.utf8.count <= 63 && schema.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
        } && !(schema.utf8.first.map { $0 >= 0x30 && $0 <= 0x39 } ?? true)
        guard ok else { throw ValidationError("--schema must be a lowercase identifier ([a-z_][a-z0-9_]*, at most 63 bytes)") }
    }

    static func logger(_ label: String, level: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = Logger.Level(rawValue: level) ?? .info
        return logger
    }

    static func validateLogLevel(_ level: String) throws {
        guard Logger.Level(rawValue: level) != nil else {
            throw ValidationError("unknown --log-level \(level); use trace, debug, info, notice, warning, error or critical")
        }
    }

    /// A session advisory lock per ledger schema: one coordinator per ledger, and offline ledger edits
    /// (`webtoon units retry`) only while no coordinator runs. Released when the connection closes (or dies).
    static func tryLedgerLock(_ connection: PGConnection, schema: String) async throws -> Bool {
        let result = try await connection.query(
            "SELECT pg_try_advisory_lock(hashtext($1))", [.text("webtoon-ledger:" + schema)])
        return try result.rows.first?.value(0, as: Bool.self) ?? false
    }
}

/// A client's TLS options for a tls+tcp:// coordinator (worker, status, units): one declaration for every command
/// that dials the coordinator.
struct CoordinatorTLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-ca"), help: "PEM CA certificate that signed the coordinator's (tls+tcp:// only).")
    var ca: String?

    @Option(name: .customLong("tls-server-name"), help: "Name to verify in the coordinator's certificate (default: the URL host).")
    var serverName: String?

    /// Required with a tls+tcp:// coordinator URL (the CA that signed its certificate), refused with any other.
    func config(for url: String) throws -> NNGTLSConfig? {
        guard url.hasPrefix("tls+tcp://") else {
            if ca != nil { throw ValidationError("--tls-ca needs a tls+tcp:// coordinator URL") }
            return nil
        }
        guard let ca else {
            throw ValidationError("a tls+tcp:// coordinator URL needs --tls-ca PEM (the CA that signed the coordinator's certificate)")
        }
        do {
            return try NNGTLSConfig.client(caPEM: try ClusterSupport.readText(ca, option: "--tls-ca"), serverName: serverName)
        } catch let error as NNGError {
            throw ValidationError("TLS CA \(ca) refused: \(error)")
        }
    }
}
