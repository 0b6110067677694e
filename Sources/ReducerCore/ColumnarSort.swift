import Dispatch
import ParquetKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the columnar reduce finds the key of one row type, resolved once from `parquetColumns`.
struct ColumnarLayout: Sendable {
    enum KeyKind: Sendable { case integer, string }

    let table: ProcessedTable
    let columns: [ParquetColumn]
    let names: [String: Int]
    let day: Int
    let platform: Int
    let fetchedAt: Int
    /// Natural key columns after (day, platform): at most 3, one sort word each.
    let keys: [(column: Int, kind: KeyKind)]
    let stringKeys: [Int]
    /// Every column but `platform` (a partition key, not stored in `processed/` files).
    let outputColumns: [Int]

    /// Platform names in byte order; a row's platform code is its index here, so codes sort like the names.
    static let platforms: [[UInt8]] = acceptedPlatforms.map { Array($0.utf8) }.sorted {
        $0.lexicographicallyPrecedes($1)
    }

    /// nil when the type declares no natural key or uses a column kind this path does not handle (lists, doubles
    /// or booleans in the key); such types keep the row-by-row path.
    init?<Row: ParquetRow>(_: Row.Type) {
        guard let keyNames = Row.naturalKeyColumns, keyNames.count <= 3 else { return nil }
        columns = Row.parquetColumns
        var names: [String: Int] = [:]
        for (position, column) in columns.enumerated() {
            if case .list = column.type { return nil }
            names[column.name] = position
        }
        guard let day = names["snapshot_date"], columns[day].type == .date, !columns[day].nullable,
            let platform = names["platform"], columns[platform].type == .string,
            let fetchedAt = names["fetched_at"], columns[fetchedAt].type == .timestamp
        else { return nil }
        var keys: [(column: Int, kind: KeyKind)] = []
        for name in keyNames {
            guard let position = names[name] else { return nil }
            switch columns[position].type {
            case .int32, .int64, .date, .timestamp: keys.append((position, .integer))
            case .string: keys.append((position, .string))
            default: return nil
            }
        }
        table = Row.table
        self.names = names
        self.day = day
        self.platform = platform
        self.fetchedAt = fetchedAt
        self.keys = keys
        stringKeys = keys.filter { $0.kind == .string }.map(\.column)
        outputColumns = columns.indices.filter { $0 != platform }
    }

    func invalid(_ source: String, _ column: String, _ detail: String) -> ReducerError {
        ReducerError(
            code: .invalidRow, operation: "read \(table) row", subject: source, detail: "column \(column): \(detail)")
    }

    /// The file's columns in `columns` order, integers widened or narrowed to the declared width, invalid UTF-8
    /// replaced by U+FFFD, checked for the kinds and NULLs the row type accepts (the row path's `ParquetCells`
    /// accessors apply the same rules).
    func normalize(_ batch: ColumnBatch, fileTypes: [ParquetType], source: String) throws(ReducerError) -> ColumnBatch {
        var result: [ColumnValues] = []
        result.reserveCapacity(columns.count)
        for (position, column) in columns.enumerated() {
            var values = batch.columns[position]
            let fileType = fileTypes[position]
            switch (column.type, fileType, values.storage) {
            case (.int64, .int64, _), (.int64, .int32, .int64), (.int32, .int32, _), (.int32, .int64, .int32),
                (.date, .date, _), (.timestamp, .timestamp, _), (.string, .string, _), (.double, .double, _),
                (.boolean, .boolean, _):
                break
            case (.int64, .int32, .int32(let narrow)):
                values = ColumnValues(.int64(narrow.map { Int64($0) }), validity: values.validity)
            case (.int32, .int64, .int64(let wide)):
                var narrowed: [Int32] = []
                narrowed.reserveCapacity(wide.count)
                for (row, value) in wide.enumerated() {
                    guard let small = Int32(exactly: value) else {
                        throw invalid(source, column.name, "value \(value) at row \(row) does not fit an Int32")
                    }
                    narrowed.append(small)
                }
                values = ColumnValues(.int32(narrowed), validity: values.validity)
            default:
                throw invalid(source, column.name, "expected \(column.type), the file has \(fileType)")
            }
            if case .byteArray(let strings) = values.storage, let repaired = UTF8Repair.repaired(strings) {
                values = ColumnValues(.byteArray(repaired), validity: values.validity)
            }
            if !column.nullable, let validity = values.validity, let row = validity.firstIndex(of: false) {
                throw invalid(source, column.name, "expected a non-null \(column.type) at row \(row)")
            }
            result.append(values)
        }
        return ColumnBatch(result)
    }

    /// Builds one row from a normalized batch (validation of flagged rows, tie-breaks between equal fetches).
    func row<Row: ParquetRow>(_: Row.Type, _ batch: ColumnBatch, _ index: Int, source: String) throws(ReducerError)
        -> Row
    {
        var cells = ParquetCells(index: names, table: table.rawValue, source: source)
        for position in columns.indices {
            cells.set(position, batch.columns[position].value(at: index, as: columns[position].type))
        }
        return try Row(parquet: cells)
    }

    /// The platform code of every row of `batch`, or the first row whose platform is not accepted.
    func platformCodes(_ batch: ColumnBatch) -> Result<[UInt8], RowIndex> {
        guard let names = batch.byteArrays(platform) else { return .failure(RowIndex(row: 0)) }
        var codes: [UInt8] = []
        codes.reserveCapacity(names.count)
        let offsets = names.offsets
        return names.bytes.withUnsafeBytes { raw in
            for row in 0..<names.count {
                let value = UnsafeRawBufferPointer(rebasing: raw[offsets[row]..<offsets[row + 1]])
                guard let code = Self.platforms.firstIndex(where: { $0.elementsEqual(value) }) else {
                    return .failure(RowIndex(row: row))
                }
                codes.append(UInt8(code))
            }
            return .success(codes)
        }
    }

    struct RowIndex: Error { let row: Int }

    /// Appends one sort entry per row of `batch` (slot `slot` of the gatherer) to `entries`.
    func appendEntries(
        _ batch: ColumnBatch, slot: Int, platformCodes codes: [UInt8], to entries: inout [SortEntry]
    ) {
        let rows = batch.rowCount
        let days = batch.int32s(day)!
        let fetched = batch.int64s(fetchedAt)!
        let first = entries.count
        if entries.capacity < first + rows { entries.reserveCapacity(max(first + rows, entries.capacity * 2)) }
        let high = UInt64(slot) << 32
        for row in 0..<rows {
            let partition = UInt64(UInt32(bitPattern: days[row]) ^ 0x8000_0000) << 32 | UInt64(codes[row])
            entries.append(
                SortEntry(
                    w0: partition, w1: 0, w2: 0, w3: 0, version: ~SortEntry.word(fetched[row]),
                    ref: high | UInt64(row)))
        }
        entries.withUnsafeMutableBufferPointer { all in
            let added = UnsafeMutableBufferPointer(rebasing: all[first..<first + rows])
            for (index, (column, _)) in keys.enumerated() {
                func set(_ row: Int, _ word: UInt64) {
                    switch index {
                    case 0: added[row].w1 = word
                    case 1: added[row].w2 = word
                    default: added[row].w3 = word
                    }
                }
                switch batch.columns[column].storage {
                case .int64(let values): for row in 0..<rows { set(row, SortEntry.word(values[row])) }
                case .int32(let values): for row in 0..<rows { set(row, SortEntry.word(Int64(values[row]))) }
                case .byteArray(let strings):
                    let offsets = strings.offsets
                    strings.bytes.withUnsafeBytes { raw in
                        for row in 0..<rows { set(row, SortEntry.prefixWord(raw, offsets[row], offsets[row + 1])) }
                    }
                default: fatalError("layout admits only integer and string keys")
                }
            }
        }
    }

    /// Byte order of the string key columns of two rows (only consulted when all key words are equal).
    func compareStringKeys(_ a: ColumnBatch, _ rowA: Int, _ b: ColumnBatch, _ rowB: Int) -> Int {
        for column in stringKeys {
            let x = a.byteArrays(column)!
            let y = b.byteArrays(column)!
            let order = x.bytes.withUnsafeBytes { rx in
                y.bytes.withUnsafeBytes { ry in
                    SortRecord.compareBytes(
                        UnsafeRawBufferPointer(rebasing: rx[x.offsets[rowA]..<x.offsets[rowA + 1]]),
                        UnsafeRawBufferPointer(rebasing: ry[y.offsets[rowB]..<y.offsets[rowB + 1]]))
                }
            }
            if order != 0 { return order }
        }
        return 0
    }

    /// The row path's last tie-break between equal keys and equal fetch times: the larger encoded row wins.
    /// Negative when row `a` wins.
    func compareEncoded<Row: ParquetRow>(
        _ type: Row.Type, _ a: ColumnBatch, _ rowA: Int, _ b: ColumnBatch, _ rowB: Int
    ) throws(ReducerError) -> Int {
        var x = RowWriter()
        try row(type, a, rowA, source: "sort buffer").encode(to: &x)
        var y = RowWriter()
        try row(type, b, rowB, source: "sort buffer").encode(to: &y)
        return x.bytes.withUnsafeBytes { rx in y.bytes.withUnsafeBytes { ry in -SortRecord.compareBytes(rx, ry) } }
    }

    /// Bytes a normalized batch holds (what the memory budget counts).
    static func bytes(of batch: ColumnBatch) -> Int {
        var total = 0
        for column in batch.columns {
            if column.validity != nil { total += column.count }
            switch column.storage {
            case .boolean(let values): total += values.count
            case .int32(let values): total += values.count * 4
            case .int64(let values): total += values.count * 8
            case .double(let values): total += values.count * 8
            case .byteArray(let values): total += values.bytes.count + values.offsets.count * 8
            case .list: break
            }
        }
        return total
    }
}

/// One row in the sort: the key as fixed-width words (so sorting never touches the row), newest fetch first, and
/// where the row lives (`slot << 32 | row`). Integers are stored sign-flipped, strings as their first 8 bytes
/// big-endian; equal words with string keys are settled on the full strings.
struct SortEntry: Sendable {
    var w0: UInt64  // (snapshot day, platform code)
    var w1: UInt64
    var w2: UInt64
    var w3: UInt64
    var version: UInt64  // ~fetched_at (sign-flipped): ascending order puts the latest fetch first
    var ref: UInt64

    static let bytes = MemoryLayout<SortEntry>.stride

    @inline(__always) static func word(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) ^ (1 << 63) }

    @inline(__always) static func prefixWord(_ raw: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UInt64 {
        var word: UInt64 = 0
        for index in 0..<8 {
            word <<= 8
            if start + index < end { word |= UInt64(raw[start + index]) }
        }
        return word
    }

    @inline(__always) var slot: Int { Int(ref >> 32) }
    @inline(__always) var row: Int { Int(ref & 0xFFFF_FFFF) }

    @inline(__always) func sameKeyWords(_ other: SortEntry) -> Bool {
        w0 == other.w0 && w1 == other.w1 && w2 == other.w2 && w3 == other.w3
    }

    @inline(__always) static func precedes(_ a: SortEntry, _ b: SortEntry) -> Bool {
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        if a.w3 != b.w3 { return a.w3 < b.w3 }
        return a.version < b.version
    }

    /// Sorts by key words and version in place (no scratch memory, so the budget counts 48 bytes per entry): one
    /// partition pass, then the two parts on two cores (Dispatch worker threads, not the Swift concurrency pool).
    /// Unstable; entries with equal key words and version are all compared by the caller anyway.
    static func sort(_ entries: inout [SortEntry]) {
        entries.withUnsafeMutableBufferPointer { buffer in
            let count = buffer.count
            guard count > 1 else { return }
            let depth = 2 * (Int.bitWidth - count.leadingZeroBitCount)
            guard count >= 1 << 16 else {
                introsort(buffer.baseAddress!, 0, count, depth: depth)
                return
            }
            let split = partition(buffer.baseAddress!, 0, count)
            let address = Int(bitPattern: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                let base = UnsafeMutablePointer<SortEntry>(bitPattern: address)!
                if part == 0 {
                    introsort(base, 0, split, depth: depth)
                } else {
                    introsort(base, split, count, depth: depth)
                }
            }
        }
    }

    /// Quicksort on `[low, high)`, heapsort when the recursion gets too deep, insertion sort for short ranges.
    private static func introsort(_ a: UnsafeMutablePointer<SortEntry>, _ low: Int, _ high: Int, depth: Int) {
        var low = low
        var high = high
        var depth = depth
        while high - low > 16 {
            if depth == 0 {
                heapsort(a, low, high)
                return
            }
            depth -= 1
            let split = partition(a, low, high)
            // Recurse into the smaller part, loop on the larger: the stack stays logarithmic.
            if split - low < high - split {
                introsort(a, low, split, depth: depth)
                low = split
            } else {
                introsort(a, split, high, depth: depth)
                high = split
            }
        }
        insertionSort(a, low, high)
    }

    /// Hoare partition of `[low, high)` (at least 3 entries) around the median of the first, middle and last entry.
    /// Returns `split` with `low < split < high`, every entry before it ≤ every entry from it.
    private static func partition(_ a: UnsafeMutablePointer<SortEntry>, _ low: Int, _ high: Int) -> Int {
        let middle = low + (high - low - 1) / 2
        if precedes(a[middle], a[low]) { a.swapAt(middle, low) }
        if precedes(a[high - 1], a[low]) { a.swapAt(high - 1, low) }
        if precedes(a[high - 1], a[middle]) { a.swapAt(high - 1, middle) }
        let pivot = a[middle]
        var i = low - 1
        var j = high
        while true {
            repeat { i += 1 } while precedes(a[i], pivot)
            repeat { j -= 1 } while precedes(pivot, a[j])
            if i >= j { return j + 1 }
            a.swapAt(i, j)
        }
    }

    private static func insertionSort(_ a: UnsafeMutablePointer<SortEntry>, _ low: Int, _ high: Int) {
        guard high - low > 1 else { return }
        for index in (low + 1)..<high {
            let value = a[index]
            var position = index
            while position > low, precedes(value, a[position - 1]) {
                a[position] = a[position - 1]
                position -= 1
            }
            a[position] = value
        }
    }

    private static func heapsort(_ a: UnsafeMutablePointer<SortEntry>, _ low: Int, _ high: Int) {
        let count = high - low
        func siftDown(_ start: Int, _ end: Int) {
            var root = start
            while 2 * root + 1 < end {
                var child = 2 * root + 1
                if child + 1 < end, precedes(a[low + child], a[low + child + 1]) { child += 1 }
                guard precedes(a[low + root], a[low + child]) else { return }
                a.swapAt(low + root, low + child)
                root = child
            }
        }
        for start in stride(from: count / 2 - 1, through: 0, by: -1) { siftDown(start, count) }
        for end in stride(from: count - 1, to: 0, by: -1) {
            a.swapAt(low, low + end)
            siftDown(0, end)
        }
    }
}

extension UnsafeMutablePointer where Pointee == SortEntry {
    @inline(__always) fileprivate func swapAt(_ i: Int, _ j: Int) {
        let value = self[i]
        self[i] = self[j]
        self[j] = value
    }
}

/// Batches of rows kept by slot, and the rows picked from them; `gather` builds output columns from the picks one
/// column at a time (columns in parallel), so no row is ever materialized.
final class Gatherer {
    private(set) var slots: [ColumnBatch?] = []
    private var freeSlots: [Int] = []
    private var retired: [Int] = []
    private(set) var picks: [UInt64] = []
    /// Picks a sink gathers at once at most (set from the memory budget and the row width).
    var pickLimit = ProcessedReducer.batchRows

    /// Retired batches a sink keeps before it gathers (each stays in memory until then); counted in merge fan-in.
    static let retiredLimit = 4

    /// True when the sink should gather its picks now.
    var shouldFlush: Bool { picks.count >= pickLimit || retired.count >= Self.retiredLimit }

    func register(_ batch: ColumnBatch) -> Int {
        if let slot = freeSlots.popLast() {
            slots[slot] = batch
            return slot
        }
        slots.append(batch)
        return slots.count - 1
    }

    /// The slot is no longer read from; its batch is dropped once the picks referring to it have been gathered.
    func retire(_ slot: Int) { retired.append(slot) }

    func pick(_ ref: UInt64) { picks.append(ref) }

    /// Forgets the picks and drops retired batches.
    func clearPicks() {
        picks.removeAll(keepingCapacity: true)
        for slot in retired {
            slots[slot] = nil
            freeSlots.append(slot)
        }
        retired.removeAll()
    }

    func removeAll() {
        slots = []
        freeSlots = []
        retired = []
        picks = []
    }

    /// A pick and its output position; gathering in `ref` order reads every source batch front to back.
    struct Pick {
        var ref: UInt64
        var index: Int
        var slot: Int { Int(ref >> 32) }
        var row: Int { Int(ref & 0xFFFF_FFFF) }
    }

    /// Columns `columns` (of `layout.columns`) of the picked rows `range`, in pick order. Values are read in source
    /// order and written to their output position: the picks of a key-ordered output are scattered over the sources,
    /// and reading them in output order would miss the cache and the TLB on nearly every value.
    func gather(_ columns: [Int], layout: ColumnarLayout, range: Range<Int>? = nil) -> ColumnBatch {
        let slots = self.slots
        let chosen = range.map { Array(picks[$0]) } ?? picks
        var sorted = chosen.enumerated().map { Pick(ref: $0.element, index: $0.offset) }
        sorted.sort { $0.ref < $1.ref }
        let order = sorted
        let types = columns.map { layout.columns[$0].type }
        guard order.count >= 4096, columns.count > 1 else {
            return ColumnBatch(zip(columns, types).map { Self.gather($0, $1, slots: slots, order: order) })
        }
        let results = Mutex<[ColumnValues?]>(Array(repeating: nil, count: columns.count))
        DispatchQueue.concurrentPerform(iterations: columns.count) { index in
            let values = Self.gather(columns[index], types[index], slots: slots, order: order)
            results.withLock { $0[index] = values }
        }
        return ColumnBatch(results.withLock { $0.map { $0! } })
    }

    private static func gather(_ column: Int, _ type: ParquetType, slots: [ColumnBatch?], order: [Pick])
        -> ColumnValues
    {
        let count = order.count
        func collect<T>(_ arrays: [[T]]) -> [T] {
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                let base = buffer.baseAddress!
                for pick in order { (base + pick.index).initialize(to: arrays[pick.slot][pick.row]) }
                initialized = count
            }
        }
        var validity: [Bool]?
        let validities = slots.map { $0?.columns[column].validity }
        if validities.contains(where: { $0 != nil }) {
            let mask = [Bool](unsafeUninitializedCapacity: count) { buffer, initialized in
                let base = buffer.baseAddress!
                for pick in order { (base + pick.index).initialize(to: validities[pick.slot]?[pick.row] ?? true) }
                initialized = count
            }
            if mask.contains(false) { validity = mask }
        }
        switch type {
        case .boolean:
            let arrays = slots.map { batch -> [Bool] in
                if case .boolean(let v) = batch?.columns[column].storage { v } else { [] }
            }
            return ColumnValues(.boolean(collect(arrays)), validity: validity)
        case .int32, .date:
            return ColumnValues(.int32(collect(slots.map { $0?.int32s(column) ?? [] })), validity: validity)
        case .int64, .timestamp:
            return ColumnValues(.int64(collect(slots.map { $0?.int64s(column) ?? [] })), validity: validity)
        case .double:
            let arrays = slots.map { batch -> [Double] in
                if case .double(let v) = batch?.columns[column].storage { v } else { [] }
            }
            return ColumnValues(.double(collect(arrays)), validity: validity)
        case .string:
            let arrays = slots.map { $0?.byteArrays(column) ?? ByteArrayColumn() }
            let sourceOffsets = arrays.map(\.offsets)
            let sourceBytes = arrays.map(\.bytes)
            var lengths = [Int](repeating: 0, count: count)
            for pick in order {
                lengths[pick.index] = sourceOffsets[pick.slot][pick.row + 1] - sourceOffsets[pick.slot][pick.row]
            }
            var offsets: [Int] = []
            offsets.reserveCapacity(count + 1)
            offsets.append(0)
            var total = 0
            for length in lengths {
                total += length
                offsets.append(total)
            }
            let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
                for pick in order {
                    let length = lengths[pick.index]
                    guard length > 0 else { continue }
                    let start = sourceOffsets[pick.slot][pick.row]
                    sourceBytes[pick.slot].withUnsafeBytes { raw in
                        (UnsafeMutableRawPointer(buffer.baseAddress!) + offsets[pick.index]).copyMemory(
                            from: raw.baseAddress! + start, byteCount: length)
                    }
                }
                initialized = total
            }
            let strings = ByteArrayColumn(validatingBytes: bytes, offsets: offsets)!
            return ColumnValues(.byteArray(strings), validity: validity)
        case .list:
            fatalError("layout excludes list columns")
        }
    }
}
