import CompressionKit
import Dispatch
import WebtoonCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw-storage failure: which path and what the system said.
public struct RawStorageError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let detail: String
    public var description: String { "raw storage: \(path): \(detail)" }
}

/// Keeps raw responses for reprocessing under `raw/{platform}/{kind}/YYYY/MM/DD/` (the original project's tree).
/// `segments` (default) writes one zstd-compressed JSON Lines file per task and kind, each line
/// `{"url","status","fetchedAt",…ids…,"body"}`; `perResponse` writes the original's one-file-per-response paths.
/// Every file is written atomically (temp file, fsync, rename, fsync of the folder), off the cooperative pool.
/// Paths are built only from enum names, numbers and the crawl date.
public struct RawStorage: Sendable {
    public enum Layout: String, Sendable, CaseIterable, Codable {
        case segments
        case perResponse
    }

    public let root: String
    public let layout: Layout
    private let queue = DispatchQueue(label: "webtoon.raw-storage")

    public init(root: String, layout: Layout = .segments) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
        self.layout = layout
    }

    /// Writes a task's raw responses; returns the files written. `failed` marks the segments of a failed attempt
    /// (kept for inspection next to, never instead of, a later success).
    @discardableResult
    public func write(task: CrawlTask, raw: [RawResponse], failed: Bool = false) async throws(RawStorageError)
        -> [String]
    {
        guard !raw.isEmpty else { return [] }
        let files = try plan(task: task, raw: raw, failed: failed)
        let result: Result<[String], RawStorageError> = await withCheckedContinuation { continuation in
            queue.async {
                do {
                    for file in files { try Self.writeAtomically(file.bytes, to: file.path) }
                    continuation.resume(returning: .success(files.map(\.path)))
                } catch let error as RawStorageError {
                    continuation.resume(returning: .failure(error))
                } catch {
                    continuation.resume(returning: .failure(RawStorageError(path: root, detail: "\(error)")))
                }
            }
        }
        return try result.get()
    }

    /// The folder of one kind on one day: `{root}/raw/{platform}/{kind}/YYYY/MM/DD`.
    public func directory(_ platform: Platform, _ kind: RawKind, _ date: CrawlDate) -> String {
        "\(root)/raw/\(platform.rawValue)/\(kind.rawValue)/\(date.pathComponent)"
    }

    /// zstd level of raw segments. Level 1 (zstd's fastest regular level) rather than the library default 3:
    /// segments are written for every unit on the crawl's critical CPU, read rarely, and JSON compresses well
    /// either way.
    static let segmentCompressionLevel: Int32 = 1

    struct PlannedFile {
        var path: String
        var bytes: [UInt8]
    }

    func plan(task: CrawlTask, raw: [RawResponse], failed: Bool) throws(RawStorageError) -> [PlannedFile] {
        var files: [PlannedFile] = []
        switch layout {
        case .segments:
            var byKind: [RawKind: [RawResponse]] = [:]
            for response in raw { byKind[response.kind, default: []].append(response) }
            for kind in RawKind.allCases {
                guard let group = byKind[kind] else { continue }
                let name = task.segmentName + (failed ? ".failed" : "") + ".jsonl.zst"
                try Self.checkComponent(name)
                // One-shot over the whole segment: zstd sizes its tables to the input (tens of KiB) instead of
                // setting up a streaming context for unknown sizes per segment; the decoded bytes are the same.
                var text: [UInt8] = []
                for response in group { text.append(contentsOf: Self.line(response)) }
                let output: [UInt8]
                do {
                    output = try Zstd.compress(text, level: Self.segmentCompressionLevel)
                } catch {
                    throw RawStorageError(path: name, detail: "compressing: \(error)")
                }
                files.append(PlannedFile(path: directory(task.platform, kind, task.crawlDate) + "/" + name, bytes: output))
            }
        case .perResponse:
            for response in raw {
                let relative = response.originalFileName
                for component in relative.split(separator: "/") { try Self.checkComponent(String(component)) }
                var body = response.body
                if response.endpoint == .comments && response.platform == .naver,
                    let unwrapped = Self.unwrapJSONP(body)
                {
                    body = unwrapped  // the original stored cbox bodies without the JSONP wrapper
                }
                let suffix = failed ? ".failed" : ""
                files.append(
                    PlannedFile(
                        path: directory(response.platform, response.kind, task.crawlDate) + "/" + relative + suffix,
                        bytes: body))
            }
        }
        return files
    }

    struct Line: Encodable {
        var url: String
        var status: Int
        var fetchedAt: Int64
        var endpoint: String
        var titleId: Int64?
        var episodeId: Int64?
        var page: Int?
        var offset: Int?
        var day: Int?
        var body: String?
        var bodyBase64: String?
    }

    /// One JSON Lines record, written by hand: the bytes `JSONEncoder` gives `Line` with sorted keys and unescaped
    /// slashes (the test compares the two), without its per-call encoder set-up and boxing.
    static func line(_ r: RawResponse) -> [UInt8] {
        let text = String(validating: r.body, as: UTF8.self)
        var out: [UInt8] = []
        out.reserveCapacity(r.body.count + r.url.utf8.count + 160)
        func key(_ name: StaticString) {
            out.append(out.isEmpty ? UInt8(ascii: "{") : UInt8(ascii: ","))
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
        }
        func number(_ name: StaticString, _ value: (some BinaryInteger)?) {
            guard let value else { return }
            key(name)
            out.append(contentsOf: String(value).utf8)
        }
        // Sorted keys: body, bodyBase64, day, endpoint, episodeId, fetchedAt, offset, page, status, titleId, url.
        if text != nil {
            key("body")
            appendJSONString(r.body, to: &out)
        } else {
            key("bodyBase64")
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: Data(r.body).base64EncodedString().utf8)
            out.append(UInt8(ascii: "\""))
        }
        number("day", r.parameters.day)
        key("endpoint")
        appendJSONString(Array(r.endpoint.rawValue.utf8), to: &out)
        number("episodeId", r.parameters.episodeId)
        number("fetchedAt", r.fetchedAt)
        number("offset", r.parameters.offset)
        number("page", r.parameters.page)
        number("status", r.status)
        number("titleId", r.parameters.titleId)
        key("url")
        appendJSONString(Array(r.url.utf8), to: &out)
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// A JSON string of valid UTF-8 `bytes`, escaped as `JSONEncoder` escapes it (`"`, `\\`, control characters;
    /// `/` and non-ASCII kept).
    static func appendJSONString(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            for index in 0..<buffer.count {
                let byte = buffer[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if start < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<index])) }
                start = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
                }
            }
            if start < buffer.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<buffer.count])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The reference encoding `line(_:)` reproduces (kept for the test that compares them).
    static func encoderLine(_ r: RawResponse) throws -> [UInt8] {
        let text = String(validating: r.body, as: UTF8.self)
        let line = Line(
            url: r.url, status: r.status, fetchedAt: r.fetchedAt, endpoint: r.endpoint.rawValue,
            titleId: r.parameters.titleId, episodeId: r.parameters.episodeId, page: r.parameters.page,
            offset: r.parameters.offset, day: r.parameters.day, body: text,
            bodyBase64: text == nil ? Data(r.body).base64EncodedString() : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(line)) + [UInt8(ascii: "\n")]
    }

    static func unwrapJSONP(_ body: [UInt8]) -> [UInt8]? {
        guard let open = body.firstIndex(of: UInt8(ascii: "(")), let close = body.lastIndex(of: UInt8(ascii: ")")),
            open < close
        else { return nil }
        return Array(body[(open + 1)..<close])
    }

    /// Defence in depth: every path component we create is `[A-Za-z0-9_.-]+` and not a dot-only name.
    static func checkComponent(_ name: String) throws(RawStorageError) {
        let ok =
            !name.isEmpty && name.count <= 200 && !name.allSatisfy({ $0 == "." })
            && name.utf8.allSatisfy {
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
            }
        guard ok else { throw RawStorageError(path: name, detail: "refusing an unsafe file name") }
    }

    // MARK: Blocking file operations (run on `queue`)

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        guard let slash = path.lastIndex(of: "/") else { throw RawStorageError(path: path, detail: "no folder") }
        let folder = String(path[..<slash])
        try makeDirectories(folder)
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RawStorageError(path: temp, detail: "open: \(errnoText())") }
        var written = 0
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "write: \(errnoText())"
                    return
                }
                written += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = "fsync: \(errnoText())" }
        close(fd)
        if let failure {
            unlink(temp)
            throw RawStorageError(path: temp, detail: failure)
        }
        guard rename(temp, path) == 0 else {
            let text = errnoText()
            unlink(temp)
            throw RawStorageError(path: path, detail: "rename: \(text)")
        }
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    static func makeDirectories(_ path: String) throws {
        // Usually the folder exists already (one per platform, task kind and day): one syscall instead of one per
        // component.
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw RawStorageError(path: current, detail: "mkdir: \(errnoText())")
            }
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
