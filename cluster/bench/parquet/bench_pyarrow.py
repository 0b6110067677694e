"""pyarrow side of the ParquetKit benchmark: loads the same table (untimed), then times write and read.
Usage: python bench_pyarrow.py <dir> [runs]"""
import json, os, sys, time
import pyarrow.parquet as pq

d = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
table = pq.read_table(os.path.join(d, "input.parquet"))  # same in-memory data, not timed
out = os.path.join(d, "pyarrow.parquet")
writes, reads, reads_swift = [], [], []
for _ in range(runs):
    t0 = time.perf_counter(); pq.write_table(table, out, compression="zstd"); writes.append(time.perf_counter() - t0)
for _ in range(runs):
    t0 = time.perf_counter(); t = pq.read_table(out); reads.append(time.perf_counter() - t0)
    assert t.num_rows == table.num_rows
for _ in range(runs):
    t0 = time.perf_counter(); t = pq.read_table(os.path.join(d, "swift.parquet")); reads_swift.append(time.perf_counter() - t0)
    assert t.equals(table), "pyarrow reads different data from the Swift file"
med = lambda xs: sorted(xs)[len(xs) // 2]
print(json.dumps({"rows": table.num_rows, "write_s": writes, "read_s": reads, "read_swift_file_s": reads_swift,
                  "write_median_s": med(writes), "read_median_s": med(reads),
                  "read_swift_file_median_s": med(reads_swift), "bytes": os.path.getsize(out)}))
