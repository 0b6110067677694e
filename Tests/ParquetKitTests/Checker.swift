import Foundation
import ParquetKit
import Testing

/// The independent checker: pyarrow and duckdb run in a subprocess ($WEBTOON_PYTHON) and report what they read
/// (or wrote) as JSON. Values travel as strings (ints exactly, doubles as Python `repr`), nulls as JSON null.
enum PythonChecker {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func python() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["WEBTOON_PYTHON"], !path.isEmpty else {
            throw Failure(description: "WEBTOON_PYTHON is not set: it must name a python with pyarrow and duckdb (cluster/setup.sh creates .venv)")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure(description: "WEBTOON_PYTHON=\(path) is not an executable")
        }
        return path
    }

    /// Runs the checker script with `arguments` and returns its decoded JSON output.
    static func run(_ arguments: [String]) throws -> Any {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python())
        process.arguments = ["-c", script] + arguments
        let out = Pipe()
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("pqcheck-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errFile)
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
            throw Failure(description: "checker exited with \(process.terminationStatus): \(err.suffix(3000))")
        }
        return try JSONSerialization.jsonObject(with: data)
    }

    static let script = #"""
import sys, json, os, random, math, datetime
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc, duckdb

EPOCH_D = datetime.date(1970, 1, 1)

def tok(v):
    if v is None: return None
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, float): return repr(v)
    if isinstance(v, str): return v
    if isinstance(v, bytes): return v.decode("utf-8", "replace")
    if isinstance(v, datetime.datetime):
        base = datetime.datetime(1970, 1, 1, tzinfo=v.tzinfo)
        return str((v - base) // datetime.timedelta(microseconds=1))
    if isinstance(v, datetime.date): return str((v - EPOCH_D).days)
    return repr(v)

def arrow_columns(table):
    cols = []
    for i, f in enumerate(table.schema):
        c = table.column(i)
        if pa.types.is_timestamp(f.type): c = c.cast(pa.int64())
        elif pa.types.is_date32(f.type): c = c.cast(pa.int32())
        cols.append([tok(v) for v in c.to_pylist()])
    return cols

def read_pyarrow(path):
    pf = pq.ParquetFile(path)
    table = pf.read()
    md = pf.metadata
    ps = pf.schema
    leaves = []
    for i in range(len(ps)):
        c = ps.column(i)
        leaves.append({"name": c.name, "physical": c.physical_type, "logical": str(c.logical_type),
                       "converted": c.converted_type, "max_def": c.max_definition_level})
    groups = []
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        cols = []
        for j in range(rg.num_columns):
            cc = rg.column(j)
            st = cc.statistics
            s = None
            if st is not None:
                s = {"null_count": st.null_count if st.has_null_count else None,
                     "min": tok(st.min) if st.has_min_max else None,
                     "max": tok(st.max) if st.has_min_max else None}
            cols.append({"compression": cc.compression, "encodings": list(cc.encodings),
                         "has_dictionary_page": cc.has_dictionary_page, "num_values": cc.num_values, "stats": s})
        groups.append({"num_rows": rg.num_rows, "columns": cols})
    return {"schema": [[f.name, str(f.type), f.nullable] for f in table.schema],
            "columns": arrow_columns(table), "leaves": leaves, "created_by": md.created_by,
            "num_rows": md.num_rows, "row_groups": groups}

def read_duckdb(path):
    con = duckdb.connect()
    q = "read_parquet('%s')" % path.replace("'", "''")
    desc = con.execute("DESCRIBE SELECT * FROM " + q).fetchall()
    exprs = []
    for r in desc:
        n = '"' + r[0].replace('"', '""') + '"'
        t = r[1]
        if t == "DATE": exprs.append("(%s - DATE '1970-01-01')" % n)
        elif t.startswith("TIMESTAMP"): exprs.append("epoch_us(%s)" % n)
        else: exprs.append(n)
    cols = [[] for _ in desc]
    if exprs:
        for row in con.execute("SELECT %s FROM %s" % (", ".join(exprs), q)).fetchall():
            for i, v in enumerate(row): cols[i].append(tok(v))
    count = con.execute("SELECT count(*) FROM " + q).fetchone()[0]
    return {"schema": [[r[0], r[1]] for r in desc], "columns": cols, "count": count}

def sample_table(n, seed):
    rnd = random.Random(seed)
    words = ["", "웹툰", "네이버", "카카오 페이지", "a", "zz", "로맨스판타지", "Z\u00e9", "🙂"]
    def maybe(v, p=0.15): return None if rnd.random() < p else v
    b = [maybe(rnd.random() < 0.5) for _ in range(n)]
    i32 = [rnd.choice([-2**31, 2**31 - 1, 0, rnd.randint(-1000, 1000)]) for _ in range(n)]
    i64 = [maybe(rnd.choice([-2**63, 2**63 - 1, rnd.randint(-10**12, 10**12)])) for _ in range(n)]
    d = [maybe(rnd.choice([float("nan"), float("inf"), float("-inf"), -0.0, rnd.uniform(-1e6, 1e6)])) for _ in range(n)]
    s = [maybe(rnd.choice(words) + str(rnd.randint(0, n))) for _ in range(n)]
    low = [rnd.choice(["naver", "kakao", "카카오페이지"]) for _ in range(n)]
    dt = [maybe(datetime.date(2020, 1, 1) + datetime.timedelta(days=rnd.randint(-20000, 20000))) for _ in range(n)]
    ts = [maybe(datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=rnd.randint(-10**15, 10**15))) for _ in range(n)]
    schema = pa.schema([pa.field("b", pa.bool_()), pa.field("i32", pa.int32(), nullable=False),
        pa.field("i64", pa.int64()), pa.field("d", pa.float64()), pa.field("s", pa.string()),
        pa.field("low", pa.string(), nullable=False), pa.field("dt", pa.date32()),
        pa.field("ts", pa.timestamp("us", tz="UTC"))])
    return pa.table([b, i32, i64, d, s, low, dt, ts], schema=schema)

def write_fixtures(outdir):
    t = sample_table(3000, 7)
    expected = {"columns": arrow_columns(t)}
    out = []
    def add(name, writer, **kw):
        p = os.path.join(outdir, name + ".parquet")
        if writer == "pyarrow":
            pq.write_table(t, p, **kw)
        else:
            con = duckdb.connect()
            con.register("t", t)
            opts = ", ".join(["FORMAT parquet"] + ["%s %s" % (k, v) for k, v in kw.items()])
            con.execute("COPY (SELECT * FROM t) TO '%s' (%s)" % (p, opts))
        out.append({"path": p, "writer": writer, "settings": name})
    add("pa_default", "pyarrow")
    add("pa_zstd", "pyarrow", compression="zstd")
    add("pa_plain_none", "pyarrow", compression="none", use_dictionary=False)
    add("pa_v2_zstd", "pyarrow", compression="zstd", data_page_version="2.0")
    add("pa_v2_snappy_plain", "pyarrow", compression="snappy", data_page_version="2.0", use_dictionary=False)
    add("pa_groups_pages", "pyarrow", row_group_size=700, data_page_size=512)
    add("pa_v2_groups", "pyarrow", row_group_size=1000, data_page_size=2048, data_page_version="2.0", compression="none")
    add("dd_default", "duckdb")
    add("dd_zstd_groups", "duckdb", COMPRESSION="zstd", ROW_GROUP_SIZE=1000)
    add("dd_uncompressed", "duckdb", COMPRESSION="uncompressed")
    print(json.dumps({"files": out, "expected": expected}))

def main():
    mode = sys.argv[1]
    if mode == "read":
        res = []
        for p in sys.argv[2:]:
            res.append({"path": p, "pyarrow": read_pyarrow(p), "duckdb": read_duckdb(p)})
        print(json.dumps(res))
    elif mode == "write":
        write_fixtures(sys.argv[2])
    elif mode == "write-table":
        # A table shaped for dataset tests: written by pyarrow as a hive dataset.
        pass
    elif mode == "dataset":
        root = sys.argv[2]
        import pyarrow.dataset as ds
        d = ds.dataset(root, format="parquet", partitioning="hive")
        t = d.to_table()
        con = duckdb.connect()
        r = con.execute("SELECT count(*), count(DISTINCT platform) FROM read_parquet('%s/**/*.parquet', hive_partitioning = true)" % root).fetchone()
        dcols = [x[0] for x in con.execute("DESCRIBE SELECT * FROM read_parquet('%s/**/*.parquet', hive_partitioning = true)" % root).fetchall()]
        sums = con.execute("SELECT platform, year, month, day, count(*), sum(id) FROM read_parquet('%s/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL" % root).fetchall()
        print(json.dumps({"pyarrow_rows": t.num_rows, "pyarrow_columns": t.schema.names,
                          "duckdb_rows": r[0], "duckdb_columns": dcols,
                          "duckdb_groups": [[str(x) for x in row] for row in sums]}))

main()
"""#
}
