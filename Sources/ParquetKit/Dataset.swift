#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `key=value` directory level of a Hive-partitioned table.
public struct PartitionKey: Sendable, Hashable {
    public let name: String
    public let value: String

    /// Keys and values are restricted to `[A-Za-z0-9._-]` (not starting with `.`), so a partition can never
    /// name a path outside the table, a hidden file, or need escaping.
    public init(_ name: String, _ value: String) throws {
        guard Self.isSafe(name), Self.isSafe(value) else {
            throw ParquetError(.invalidArgument, "partition \(name)=\(value): only [A-Za-z0-9._-] allowed, not starting with '.'")
        }
        self.name = name
        self.value = value
    }

    static func isSafe(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 200, s.first != "." else { return false }
        return s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x2D
                || c == 0x5F
        }
    }
}

/// An ordered list of partition keys, e.g. `year=2026/month=11/day=25/platform=naver`.
public struct HivePartition: Sendable, Hashable, CustomStringConvertible {
    public let keys: [PartitionKey]

    public init(_ keys: [PartitionKey]) throws {
        var seen = Set<String>()
        for k in keys where !seen.insert(k.name).inserted {
            throw ParquetError(.invalidArgument, "partition key \(k.name) appears twice")
        }
        self.keys = keys
    }

    /// The crawler's layout: `year=YYYY/month=MM/day=DD/platform=P` (zero-padded, so paths sort by date).
    public static func daily(year: Int, month: Int, day: Int, platform: String) throws -> HivePartition {
        guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day) else {
            throw ParquetError(.invalidArgument, "invalid date \(year)-\(month)-\(day)")
        }
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return try HivePartition([
            PartitionKey("year", pad(year, 4)), PartitionKey("month", pad(month, 2)), PartitionKey("day", pad(day, 2)),
            PartitionKey("platform", platform),
        ])
    }

    public var relativePath: String { keys.map { "\($0.name)=\($0.value)" }.joined(separator: "/") }
    public var description: String { relativePath }

    public func value(of name: String) -> String? { keys.first { $0.name == name }?.value }
}

/// A partition directory found on disk and its committed data files (hidden and `_` files excluded).
public struct DatasetPartition: Sendable, Hashable {
    public let partition: HivePartition
    public let directory: String
    public let files: [String]
}

/// A Hive-partitioned Parquet table rooted at a directory: `ROOT/k1=v1/k2=v2/part-….parquet`, readable as one
/// table by DuckDB (`hive_partitioning = true`), Spark and pyarrow (`partitioning="hive"`). Partition columns
/// live only in directory names, never inside the files.
///
/// Blocking file I/O throughout: call from a dedicated thread.
public struct ParquetDataset: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    /// `part-<unitId>-a<attempt>.parquet`. The unit id is limited to `[A-Za-z0-9_-]` (1–128 chars), so it cannot
    /// traverse paths; the attempt makes retried units write distinct files.
    public static func fileName(unitId: String, attempt: Int) throws -> String {
        let ok =
            !unitId.isEmpty && unitId.utf8.count <= 128
            && unitId.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
            }
        guard ok else { throw ParquetError(.invalidArgument, "unit id \"\(unitId)\" must match [A-Za-z0-9_-]{1,128}") }
        guard attempt >= 0 else { throw ParquetError(.invalidArgument, "attempt \(attempt) is negative") }
        return "part-\(unitId)-a\(attempt).parquet"
    }

    public func directory(of partition: HivePartition) -> String {
        partition.keys.isEmpty ? root : root + "/" + partition.relativePath
    }

    /// Opens a writer for one work unit's file in `partition`, creating directories as needed. The file appears
    /// atomically when the writer's `close()` succeeds. An existing file of the same unit and attempt is never
    /// replaced (it may be another ledger's accepted output, when two databases share a data root): the new one
    /// takes the name `part-UNIT-aN-2.parquet` (…`-3`), and the writer's summary names the file written.
    public func writer(
        partition: HivePartition, unitId: String, attempt: Int, schema: ParquetSchema,
        options: ParquetWriterOptions = ParquetWriterOptions()
    ) throws -> ParquetWriter {
        let name = try Self.fileName(unitId: unitId, attempt: attempt)
        for key in partition.keys where schema.index(of: key.name) != nil {
            throw ParquetError(
                .invalidArgument, "column \"\(key.name)\" is a partition key; partition columns are not stored in files")
        }
        let dir = directory(of: partition)
        try makeDirectories(dir)
        return try ParquetWriter(path: dir + "/" + name, schema: schema, options: options, keepingExisting: true)
    }

    /// Partitions under the root whose keys match every `filter` entry (`key == value`), sorted by path.
    /// A key absent from a partition's path does not match.
    public func partitions(where filter: [String: String] = [:]) throws -> [DatasetPartition] {
        var result: [DatasetPartition] = []
        try walk(root, keys: [], filter: filter, into: &result)
        return result.sorted { $0.directory < $1.directory }
    }

    private func walk(_ dir: String, keys: [PartitionKey], filter: [String: String], into result: inout [DatasetPartition]) throws {
        let entries = try listDirectory(dir)
        var files: [String] = []
        for entry in entries where !entry.name.hasPrefix(".") && !entry.name.hasPrefix("_") {
            if entry.isDirectory {
                guard let eq = entry.name.firstIndex(of: "=") else { continue }
                let name = String(entry.name[..<eq])
                let value = String(entry.name[entry.name.index(after: eq)...])
                guard let key = try? PartitionKey(name, value) else { continue }
                if let wanted = filter[name], wanted != value { continue }  // prune the whole subtree
                try walk(dir + "/" + entry.name, keys: keys + [key], filter: filter, into: &result)
            } else if entry.name.hasSuffix(".parquet") {
                files.append(dir + "/" + entry.name)
            }
        }
        guard !files.isEmpty else { return }
        let names = Set(keys.map(\.name))
        guard filter.keys.allSatisfy(names.contains) else { return }
        result.append(DatasetPartition(partition: try HivePartition(keys), directory: dir, files: files.sorted()))
    }

    /// Merges a partition's files into as few files as possible of about `targetFileBytes` each, streaming one
    /// row group at a time (memory stays bounded by one input row group plus one output row group).
    ///
    /// Crash safety: outputs are first committed under hidden names (`.compact-….pending`, matched by neither
    /// `*.parquet` globs nor pyarrow's discovery), then a journal (`_compaction`) listing
    /// outputs and inputs is committed, then outputs are renamed into place and inputs removed. A compaction
    /// interrupted after the journal is completed by the next call (`recover`); one interrupted before it is
    /// discarded. Readers scanning during the few renames may briefly see both old and new files.
    /// Returns the partition's files afterwards.
    @discardableResult
    public func compact(
        _ partition: DatasetPartition, targetFileBytes: Int = 256 << 20, options: ParquetWriterOptions = ParquetWriterOptions()
    ) throws -> [String] {
        let dir = partition.directory
        try recover(directory: dir)
        let inputs = try listDirectory(dir).filter { !$0.isDirectory && !$0.name.hasPrefix(".") && !$0.name.hasPrefix("_") && $0.name.hasSuffix(".parquet") }
            .map(\.name).sorted()
        guard inputs.count > 1 else { return inputs.map { dir + "/" + $0 } }

        // Deterministic output names from the input set.
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for name in inputs { for b in name.utf8 + [0] { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 } }
        let token = String(h, radix: 16)
        var outputs: [String] = []
        var writer: ParquetWriter?
        var schema: ParquetSchema?
        func nextWriter(_ s: ParquetSchema) throws -> ParquetWriter {
            let name = "part-compacted-\(token)-\(outputs.count).parquet"
            outputs.append(name)
            return try ParquetWriter(path: dir + "/.compact-" + name + ".pending", schema: s, options: options)
        }
        do {
            for name in inputs {
                let reader = try ParquetReader(path: dir + "/" + name)
                if let schema, schema != reader.schema {
                    throw ParquetError(.schemaMismatch, path: dir + "/" + name, "schema differs from the other files in \(dir)")
                }
                schema = reader.schema
                for g in 0..<reader.rowGroupCount {
                    if writer == nil { writer = try nextWriter(reader.schema) }
                    try writer!.write(try reader.readRowGroup(g))
                    if writer!.bytesWritten >= targetFileBytes {
                        try writer!.close()
                        writer = nil
                    }
                }
            }
            try writer?.close()
            writer = nil
        } catch {
            writer?.abort()
            for o in outputs { unlink(dir + "/.compact-" + o + ".pending") }
            throw error
        }
        // Journal: "out <name>" and "in <name>" lines, committed atomically.
        var journal = outputs.map { "out \($0)\n" }.joined() + inputs.map { "in \($0)\n" }.joined()
        let output = try AtomicFileOutput(path: dir + "/_compaction")
        try journal.withUTF8 { try output.write(UnsafeRawBufferPointer($0)) }
        try output.commit()
        try recover(directory: dir)
        return try listDirectory(dir).filter { !$0.isDirectory && !$0.name.hasPrefix(".") && !$0.name.hasPrefix("_") && $0.name.hasSuffix(".parquet") }
            .map { dir + "/" + $0.name }.sorted()
    }

    /// Finishes or discards an interrupted compaction in `directory` (see `compact`).
    public func recover(directory dir: String) throws {
        let journalPath = dir + "/_compaction"
        if let file = try? RandomAccessFile(path: journalPath) {
            let text = String(decoding: try file.read(offset: 0, count: min(file.size, 16 << 20)), as: UTF8.self)
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[1].contains("/"), !parts[1].hasPrefix(".") else { continue }
                if parts[0] == "out" {
                    let hidden = dir + "/.compact-" + parts[1] + ".pending"
                    if access(hidden, F_OK) == 0, rename(hidden, dir + "/" + parts[1]) != 0 {
                        throw ParquetError(.io, path: hidden, "rename during compaction recovery: \(errnoText())")
                    }
                } else if parts[0] == "in" {
                    if unlink(dir + "/" + parts[1]) != 0 && errno != ENOENT {
                        throw ParquetError(.io, path: dir + "/" + parts[1], "unlink during compaction recovery: \(errnoText())")
                    }
                }
            }
            try fsyncDirectory(dir)
            unlink(journalPath)
            try fsyncDirectory(dir)
        }
        // Outputs of a compaction that never committed its journal are garbage.
        for entry in try listDirectory(dir) where entry.name.hasPrefix(".compact-") { unlink(dir + "/" + entry.name) }
    }
}

struct DirectoryEntry {
    let name: String
    let isDirectory: Bool
}

func listDirectory(_ path: String) throws -> [DirectoryEntry] {
    guard let d = opendir(path) else {
        if errno == ENOENT { return [] }
        throw ParquetError(.io, path: path, "opendir: \(errnoText())")
    }
    defer { closedir(d) }
    var result: [DirectoryEntry] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) { p in
            p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name == "." || name == ".." { continue }
        var isDir = e.pointee.d_type == UInt8(DT_DIR)
        if e.pointee.d_type == UInt8(DT_UNKNOWN) {
            var st = stat()
            isDir = stat(path + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
        result.append(DirectoryEntry(name: name, isDirectory: isDir))
    }
    return result
}

/// `mkdir -p`, fsyncing each parent whose entries changed so new directories survive a crash.
func makeDirectories(_ path: String) throws {
    // Nearly always the partition folder exists already (a run writes many files into each): one mkdir then,
    // not one per path component.
    if mkdir(path, 0o755) == 0 {
        let parent = path.split(separator: "/", omittingEmptySubsequences: true).dropLast().joined(separator: "/")
        try fsyncDirectory(path.hasPrefix("/") ? "/" + parent : (parent.isEmpty ? "." : parent))
        return
    } else if errno == EEXIST {
        return
    }
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        let parent = current.isEmpty ? "/" : current
        current += "/" + component
        if mkdir(current, 0o755) == 0 {
            try fsyncDirectory(parent)
        } else if errno != EEXIST {
            throw ParquetError(.io, path: current, "mkdir: \(errnoText())")
        }
    }
}
