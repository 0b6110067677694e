#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `write(2)`, named apart from `AtomicFileOutput.write`.
@inline(__always) private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, buffer, count)
    #else
    Darwin.write(fd, buffer, count)
    #endif
}

/// errno as text, for error details.
func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) + " (errno \(code))" }

func directoryName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let dir = String(path[..<slash])
    return dir.isEmpty ? "/" : dir
}

func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}

/// fsyncs a directory so a rename inside it survives a crash.
func fsyncDirectory(_ dir: String) throws {
    let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw ParquetError(.io, path: dir, "open directory for fsync: \(errnoText())") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw ParquetError(.io, path: dir, "fsync directory: \(errnoText())") }
}

/// A buffered POSIX file written under a hidden temporary name in the destination's directory and renamed into
/// place by `commit()` (after fsync of the file, then of the directory). Until then a reader sees no file at
/// the final path, and pyarrow/duckdb dataset scans skip the `.`-prefixed temporary. `abort()` (or deinit
/// without commit) removes the temporary.
///
/// With `keepingExisting`, an existing file at the final path is never replaced: the commit takes the first free
/// name `NAME-2.EXT`, `NAME-3.EXT`… (atomically, by `link`), and `finalPath` says which.
final class AtomicFileOutput {
    private(set) var finalPath: String
    let temporaryPath: String
    let keepsExisting: Bool
    private var fd: Int32
    /// Bytes not yet written; grows as needed up to `bufferSize` (a small file never pays for a zeroed 4 MiB
    /// buffer: crawl workers write one per table and unit).
    private var buffer: [UInt8] = []
    private let bufferSize: Int
    private(set) var bytesWritten = 0
    private var finished = false

    init(path: String, bufferSize: Int = 4 << 20, keepingExisting: Bool = false) throws {
        finalPath = path
        keepsExisting = keepingExisting
        let dir = directoryName(path)
        let name = baseName(path)
        guard !name.isEmpty else { throw ParquetError(.invalidArgument, path: path, "the path names no file") }
        var nonce = SystemRandomNumberGenerator()
        let suffix = String(nonce.next() & 0xFFFF_FFFF, radix: 16)
        temporaryPath = (dir == "." && !path.hasPrefix("./") ? "" : dir + "/") + ".\(name).tmp-\(getpid())-\(suffix)"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ParquetError(.io, path: path, "create \(temporaryPath): \(errnoText())") }
        self.bufferSize = max(1, bufferSize)
    }

    deinit {
        if !finished { abort() }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ParquetError(.invalidArgument, path: finalPath, "write after commit or abort") }
        if buffer.count + bytes.count > bufferSize { try flush() }
        if bytes.count >= bufferSize {
            try writeFully(bytes)
        } else if bytes.count > 0 {
            buffer.append(contentsOf: bytes)
        }
        bytesWritten += bytes.count
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true) }
        try buffer.withUnsafeBytes { try writeFully($0) }
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ParquetError(.io, path: finalPath, "write \(temporaryPath): \(errnoText())")
            }
            offset += n
        }
    }

    /// Makes the file durable and visible under its final name, atomically.
    func commit() throws {
        guard !finished else { throw ParquetError(.invalidArgument, path: finalPath, "commit after commit or abort") }
        do {
            try flush()
            guard fsync(fd) == 0 else { throw ParquetError(.io, path: finalPath, "fsync: \(errnoText())") }
            let closed = close(fd)
            fd = -1
            guard closed == 0 else { throw ParquetError(.io, path: finalPath, "close: \(errnoText())") }
            if keepsExisting {
                finalPath = try linkUnderFreeName()
                unlink(temporaryPath)
            } else {
                guard rename(temporaryPath, finalPath) == 0 else {
                    throw ParquetError(.io, path: finalPath, "rename from \(temporaryPath): \(errnoText())")
                }
            }
            finished = true
        } catch {
            abort()
            throw error
        }
        try fsyncDirectory(directoryName(finalPath))
    }

    /// Links the temporary under the final name, or the first free `-N` variant of it; returns the name used.
    private func linkUnderFreeName() throws -> String {
        let dir = directoryName(finalPath)
        let name = baseName(finalPath)
        let dot = name.lastIndex(of: ".").flatMap { $0 == name.startIndex ? nil : $0 } ?? name.endIndex
        let prefix = finalPath.dropLast(name.count)
        for n in 1...1000 {
            let candidate = n == 1 ? finalPath : prefix + name[..<dot] + "-\(n)" + name[dot...]
            if link(temporaryPath, candidate) == 0 { return candidate }
            guard errno == EEXIST else {
                throw ParquetError(.io, path: candidate, "link from \(temporaryPath): \(errnoText())")
            }
        }
        throw ParquetError(.io, path: finalPath, "1000 files of this name exist in \(dir)")
    }

    /// Discards the temporary file. Safe to call more than once.
    func abort() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished {
            unlink(temporaryPath)
            finished = true
        }
    }
}

/// Positional reads from an open file; every read is bounded by the caller against the file size.
final class RandomAccessFile {
    let path: String
    private let fd: Int32
    let size: Int

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ParquetError(.io, path: path, "open: \(errnoText())") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let text = errnoText()
            close(fd)
            throw ParquetError(.io, path: path, "fstat: \(text)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ParquetError(.io, path: path, "not a regular file")
        }
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Reads exactly `count` bytes at `offset`; the range must lie inside the file.
    func read(offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw ParquetError(.corrupt, path: path, "read of \(count) bytes at \(offset) is outside the \(size)-byte file")
        }
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        try result.withUnsafeMutableBytes { dst in
            while done < count {
                let n = pread(fd, dst.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ParquetError(.io, path: path, "pread: \(errnoText())")
                }
                if n == 0 { throw ParquetError(.corrupt, path: path, "file shrank while reading (EOF at \(offset + done))") }
                done += n
            }
        }
        return result
    }
}
