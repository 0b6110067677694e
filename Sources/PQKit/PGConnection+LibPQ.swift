import CLibPQ

/// The libpq calls themselves. Everything here runs on the connection's own thread.
extension PGConnection {
    static func live(_ state: PGConnectionState, _ operation: String) throws(PGError) -> OpaquePointer {
        guard let conn = state.conn else {
            throw PGError(code: .closed, operation: operation, message: "the connection is closed")
        }
        return conn
    }

    static func finish(_ state: PGConnectionState) {
        if let conn = state.conn { PQfinish(conn) }
        state.conn = nil
    }

    static func open(_ state: PGConnectionState, _ conninfo: String) throws(PGError) -> String {
        var secrets: [String] = []
        if let password = PGRedaction.uriPassword(in: conninfo) { secrets.append(password) }
        var parseError: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(conninfo, &parseError) {
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword) == "password", let value = option.pointee.val {
                    secrets.append(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        } else {
            let message = parseError.map { String(cString: $0) } ?? "invalid connection string"
            if let parseError { PQfreemem(parseError) }
            throw PGError(
                code: .connectionFailed, operation: "connect",
                message: PGRedaction.redact(trimmed(message), secrets: secrets))
        }
        guard conninfo.utf8.contains(0) == false else {
            throw PGError(code: .connectionFailed, operation: "connect", message: "connection string contains NUL")
        }

        let conn = PQconnectdb(conninfo)
        state.conn = conn
        let endpoint = describe(conn)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { trimmed(String(cString: PQerrorMessage($0))) } ?? "out of memory"
            finish(state)
            throw PGError(
                code: .connectionFailed, operation: "connect to \(endpoint)",
                message: PGRedaction.redact(message, secrets: secrets))
        }
        guard PQsetClientEncoding(conn, "UTF8") == 0 else {
            let message = trimmed(String(cString: PQerrorMessage(conn)))
            finish(state)
            throw PGError(code: .connectionFailed, operation: "connect to \(endpoint)", message: message)
        }
        do {
            _ = try execute(
                conn,
                "SELECT set_config('DateStyle', 'ISO, MDY', false), set_config('TimeZone', 'UTC', false)",
                [], operation: "connect to \(endpoint)")
        } catch {
            finish(state)
            throw error
        }
        return endpoint
    }

    /// `host:port/db` from libpq's view of the connection (never the password).
    static func describe(_ conn: OpaquePointer?) -> String {
        guard let conn else { return "server" }
        let host = PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = PQport(conn).map { String(cString: $0) } ?? "?"
        let database = PQdb(conn).map { String(cString: $0) } ?? ""
        return "\(host):\(port)/\(database)"
    }

    static func trimmed(_ message: String) -> String {
        String(message.reversed().drop { $0.isWhitespace }.reversed())
    }

    static func quote(_ conn: OpaquePointer, _ name: String) throws(PGError) -> String {
        var name = name
        let quoted = name.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { chars in PQescapeIdentifier(conn, chars.baseAddress, chars.count) }
        }
        guard let quoted, !name.utf8.contains(0) else {
            if let quoted { PQfreemem(quoted) }
            throw PGError(
                code: .invalidArgument, operation: "quote identifier",
                message: "cannot quote \(String(reflecting: name).prefix(80)): " + trimmed(String(cString: PQerrorMessage(conn))))
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// One statement through `PQexecParams`: text parameters NUL-terminated, `bytea` in binary, text results.
    static func execute(
        _ conn: OpaquePointer, _ sql: String, _ params: [PGValue?], operation: String
    ) throws(PGError) -> PGResult {
        guard !sql.utf8.contains(0) else {
            throw PGError(code: .invalidArgument, operation: operation, message: "SQL text contains a NUL byte")
        }
        guard params.count <= 65_535 else {
            throw PGError(
                code: .invalidArgument, operation: operation,
                message: "\(params.count) parameters; the protocol allows 65535")
        }
        var blob: [UInt8] = []
        var offsets: [Int?] = []
        var types: [Oid] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for (index, param) in params.enumerated() {
            guard let param else {
                offsets.append(nil)
                types.append(0)
                lengths.append(0)
                formats.append(0)
                continue
            }
            let encoded = try param.encoded(index: index)
            guard encoded.bytes.count < Int(Int32.max) else {
                throw PGError(
                    code: .invalidArgument, operation: operation, message: "parameter $\(index + 1) exceeds 2 GiB")
            }
            offsets.append(blob.count)
            blob.append(contentsOf: encoded.bytes)
            if !encoded.isBinary { blob.append(0) }
            types.append(encoded.typeOID)
            lengths.append(Int32(encoded.bytes.count))
            formats.append(encoded.isBinary ? 1 : 0)
        }
        blob.append(0)
        let result = blob.withUnsafeBytes { raw -> OpaquePointer? in
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                offset.map { (raw.baseAddress! + $0).assumingMemoryBound(to: CChar.self) }
            }
            return PQexecParams(conn, sql, Int32(params.count), types, values, lengths, formats, 0)
        }
        return try take(conn, result, operation: operation)
    }

    private static func take(_ conn: OpaquePointer, _ result: OpaquePointer?, operation: String) throws(PGError)
        -> PGResult
    {
        guard let result else { throw connectionError(conn, operation) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return extract(result)
        case PGRES_COPY_IN:
            PQputCopyEnd(conn, "COPY FROM STDIN must go through copyIn")
            drain(conn)
            throw PGError(
                code: .protocolViolation, operation: operation,
                message: "COPY FROM STDIN must go through copyIn; the COPY was aborted")
        case PGRES_COPY_OUT, PGRES_COPY_BOTH:
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(conn, &buffer, 0) > 0 { PQfreemem(buffer) }
            drain(conn)
            throw PGError(code: .protocolViolation, operation: operation, message: "COPY TO STDOUT is not supported")
        default:
            throw serverError(conn, result, operation)
        }
    }

    private static func extract(_ result: OpaquePointer) -> PGResult {
        let fieldCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<fieldCount).map { field in
            PGColumn(
                name: PQfname(result, Int32(field)).map { String(cString: $0) } ?? "?column?",
                typeOID: PQftype(result, Int32(field)))
        }
        let index = PGColumnIndex(columns)
        var rows: [PGRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var values: [String?] = []
            values.reserveCapacity(fieldCount)
            for field in 0..<Int32(fieldCount) {
                if PQgetisnull(result, row, field) != 0 {
                    values.append(nil)
                } else {
                    let bytes = UnsafeRawBufferPointer(
                        start: PQgetvalue(result, row, field), count: Int(PQgetlength(result, row, field)))
                    values.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            rows.append(PGRow(values: values, index: index))
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let tuples = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        return PGResult(columns: columns, rows: rows, commandTag: tag, affectedRows: Int(tuples))
    }

    static func drain(_ conn: OpaquePointer) {
        while let result = PQgetResult(conn) { PQclear(result) }
    }

    private static func field(_ result: OpaquePointer, _ code: Character) -> String? {
        PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
    }

    static func serverError(_ conn: OpaquePointer, _ result: OpaquePointer, _ operation: String) -> PGError {
        let lost = PQstatus(conn) == CONNECTION_BAD
        let message =
            field(result, "M")
            ?? PQresultErrorMessage(result).map { trimmed(String(cString: $0)) }
            ?? trimmed(String(cString: PQerrorMessage(conn)))
        return PGError(
            code: lost ? .connectionLost : .server, operation: operation, message: message,
            sqlState: field(result, "C"), detail: field(result, "D"), hint: field(result, "H"),
            context: field(result, "W"))
    }

    /// The failure of a call that returned no result: prefer a server error result still queued (e.g. 57P01
    /// "terminating connection"), else libpq's own message.
    static func connectionError(_ conn: OpaquePointer, _ operation: String) -> PGError {
        let clientMessage = trimmed(String(cString: PQerrorMessage(conn)))
        var serverFailure: PGError?
        while let result = PQgetResult(conn) {
            if serverFailure == nil, PQresultStatus(result) == PGRES_FATAL_ERROR {
                serverFailure = serverError(conn, result, operation)
            }
            PQclear(result)
        }
        let lost = PQstatus(conn) == CONNECTION_BAD
        if let serverFailure, serverFailure.sqlState != nil {
            return PGError(
                code: lost ? .connectionLost : serverFailure.code, operation: operation,
                message: serverFailure.message, sqlState: serverFailure.sqlState, detail: serverFailure.detail,
                hint: serverFailure.hint, context: serverFailure.context)
        }
        return PGError(
            code: lost ? .connectionLost : .server, operation: operation,
            message: clientMessage.isEmpty ? "no result from server" : clientMessage)
    }

    // MARK: - COPY FROM STDIN

    static func beginCopy(_ conn: OpaquePointer, _ statement: String) throws(PGError) {
        guard !statement.utf8.contains(0) else {
            throw PGError(code: .invalidArgument, operation: "COPY", message: "SQL text contains a NUL byte")
        }
        guard let result = PQexecParams(conn, statement, 0, nil, nil, nil, nil, 0) else {
            throw connectionError(conn, "COPY")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COPY_IN:
            return
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            throw PGError(
                code: .protocolViolation, operation: "COPY",
                message: "the statement is not a COPY ... FROM STDIN (server said \(PQcmdStatus(result).map { String(cString: $0) } ?? "?"))")
        case PGRES_COPY_OUT, PGRES_COPY_BOTH:
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(conn, &buffer, 0) > 0 { PQfreemem(buffer) }
            drain(conn)
            throw PGError(code: .protocolViolation, operation: "COPY", message: "copyIn needs COPY ... FROM STDIN")
        default:
            throw serverError(conn, result, "COPY")
        }
    }

    /// Sends one buffer in blocking mode (this is the connection's own thread, so blocking is the backpressure),
    /// then reads whatever the server sent: if it closed the connection we find out now, not after all the data.
    static func putCopyData(_ conn: OpaquePointer, _ bytes: [UInt8]) throws(PGError) {
        let chunk = 1 << 20
        var failed = false
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count, !failed {
                let count = min(chunk, raw.count - offset)
                let base = (raw.baseAddress! + offset).assumingMemoryBound(to: CChar.self)
                failed = PQputCopyData(conn, base, Int32(count)) != 1
                offset += count
            }
        }
        if !failed { failed = PQconsumeInput(conn) == 0 || PQstatus(conn) == CONNECTION_BAD }
        if failed { throw connectionError(conn, "COPY") }
    }

    static func endCopy(_ conn: OpaquePointer) throws(PGError) -> Int {
        guard PQputCopyEnd(conn, nil) == 1 else { throw connectionError(conn, "COPY") }
        var rows: Int?
        var failure: PGError?
        var sawResult = false
        while let result = PQgetResult(conn) {
            sawResult = true
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK:
                rows = PQcmdTuples(result).flatMap { Int(String(cString: $0)) }
            default:
                if failure == nil { failure = serverError(conn, result, "COPY") }
            }
            PQclear(result)
        }
        if let failure { throw failure }
        guard sawResult, let rows else { throw connectionError(conn, "COPY") }
        return rows
    }

    /// Ends a COPY with an error message, so the server rolls the COPY back; the expected 57014 is discarded.
    static func abortCopy(_ conn: OpaquePointer?, reason: String) {
        guard let conn else { return }
        if PQstatus(conn) == CONNECTION_OK {
            let message = String(decoding: reason.utf8.prefix(900).filter { $0 != 0 }, as: UTF8.self)
            PQputCopyEnd(conn, message)
        }
        drain(conn)
    }
}
