/// Where a `copyIn` producer writes rows. Rows are encoded into a local buffer and handed to the connection thread
/// in ~256 KiB batches (never one hop per row); while one batch is being sent the next is encoded, and a writer
/// waits for the previous batch before sending another, so at most two batches exist at a time.
///
/// Use it only inside the `copyIn` closure, from that closure's task.
public final class PGCopyWriter {
    /// Batch size at which rows are handed to the connection thread.
    public static let batchBytes = 256 * 1024

    public let format: PGCopyFormat
    private let connection: PGConnection
    private var encoder: PGCopyEncoder
    private var inFlight: PGCompletion?
    private var failure: PGError?
    private var finished = false
    /// Rows accepted by this writer so far (the server's count is what `copyIn` returns).
    public private(set) var rowsWritten = 0
    /// Encoded bytes handed to the connection thread so far.
    public private(set) var bytesSent = 0

    init(connection: PGConnection, format: PGCopyFormat) {
        self.connection = connection
        self.format = format
        self.encoder = PGCopyEncoder(format: format, reservingCapacity: Self.batchBytes + 4096)
    }

    /// Writes one row of `fieldCount` fields; `encode` appends them in column order (`$0.int8(...)`,
    /// `$0.text(...)`, `$0.null()`, ...). In binary format each value's width must match its column type.
    nonisolated(nonsending) public func writeRow(
        fieldCount: Int, _ encode: (inout PGCopyEncoder) throws -> Void
    ) async throws {
        try checkOpen()
        try encoder.beginRow(fieldCount: fieldCount)
        do {
            try encode(&encoder)
        } catch {
            encoder.cancelRow()
            throw error
        }
        try encoder.endRow()
        rowsWritten += 1
        if encoder.bytes.count >= Self.batchBytes { try await flush(final: false) }
    }

    /// Sends `rowCount` whole rows encoded elsewhere by a `PGCopyEncoder(format:header: false)` of this writer's
    /// format (e.g. on a dedicated reader thread, so decoding and encoding overlap the send). Fewer than
    /// `batchBytes` join the current batch, which is sent once it reaches `batchBytes`; more go to the connection
    /// as they are, after what is buffered (copying megabytes into the buffer cost more than encoding them).
    nonisolated(nonsending) public func writeEncodedRows(_ bytes: [UInt8], rowCount: Int) async throws {
        try checkOpen()
        rowsWritten += rowCount
        if bytes.count >= Self.batchBytes {
            try await flush(final: false)
            try await waitForInFlight()
            send(bytes)
            return
        }
        encoder.appendEncodedRows(bytes)
        if encoder.bytes.count >= Self.batchBytes { try await flush(final: false) }
    }

    /// Writes one row from values: `.int` is `int8`, `.double` `float8`, `.bytes` `bytea`, `.date` `date`,
    /// `.timestamp` `timestamptz`, nil is NULL (for `int2`/`int4` columns in binary, use the closure form).
    nonisolated(nonsending) public func writeRow(_ values: [PGValue?]) async throws {
        try await writeRow(fieldCount: values.count) { row in
            for value in values {
                switch value {
                case nil: row.null()
                case .text(let text): row.text(text)
                case .int(let number): row.int8(number)
                case .double(let number): row.float8(number)
                case .bool(let flag): row.bool(flag)
                case .bytes(let bytes): row.bytea(bytes)
                case .date(let date): row.date(date)
                case .timestamp(let instant): try row.timestamptz(instant)
                }
            }
        }
    }

    private func checkOpen() throws(PGError) {
        if let failure { throw failure }
        guard !finished else {
            throw PGError(
                code: .invalidArgument, operation: "COPY",
                message: "the writer was used after its copyIn call returned")
        }
    }

    /// Waits for the batch in flight, then sends what is buffered (with the binary trailer when `final`).
    nonisolated(nonsending) func flush(final: Bool) async throws {
        try checkOpen()
        // A cancelled producer aborts the COPY (nothing stored) instead of committing a prefix of the rows.
        try Task.checkCancellation()
        if final {
            encoder.finish()
            finished = true
        }
        try await waitForInFlight()
        let batch = encoder.takeBytes()
        if !batch.isEmpty { send(batch) }
        if final { try await waitForInFlight() }
    }

    /// Hands one batch to the connection; the caller has waited for the one before.
    private func send(_ batch: [UInt8]) {
        bytesSent += batch.count
        let completion = PGCompletion()
        connection.sendCopyData(batch, completion: completion)
        inFlight = completion
    }

    /// After the producer failed: stops accepting rows, waits for the batch in flight and returns the send
    /// failure if there was one (then the COPY is already over on the server side).
    nonisolated(nonsending) func abandon() async -> PGError? {
        finished = true
        _ = try? await waitForInFlight()
        return failure
    }

    nonisolated(nonsending) private func waitForInFlight() async throws {
        guard let pending = inFlight else { return }
        inFlight = nil
        do {
            try await pending.wait()
        } catch let error as PGError {
            failure = error
            throw error
        }
    }
}
