"""The same merge/dedup as the reducer, in DuckDB: latest fetched_at per (snapshot_date, platform, title_id,
episode_id), written as Parquet partitioned by snapshot_date and platform.

    python duckdb_reduce.py OUT_DIR MEMORY_LIMIT THREADS FILE...
"""
import json
import resource
import sys
import time

import duckdb

out, memory_limit, threads, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
start = time.monotonic()
con = duckdb.connect()
con.execute(f"SET memory_limit = '{memory_limit}'")
con.execute(f"SET threads = {threads}")
con.execute("SET preserve_insertion_order = false")
# Spill beside the output (in-memory databases otherwise spill into ./.tmp).
con.execute(f"SET temp_directory = '{out}-tmp'")
con.execute(
    """
    COPY (
        SELECT * EXCLUDE (rn) FROM (
            SELECT *, row_number() OVER (
                PARTITION BY snapshot_date, platform, title_id, episode_id ORDER BY fetched_at DESC) AS rn
            FROM read_parquet(?)
        ) WHERE rn = 1
    ) TO '""" + out + """' (FORMAT parquet, PARTITION_BY (snapshot_date, platform), OVERWRITE_OR_IGNORE,
        COMPRESSION zstd)
    """,
    [files],
)
rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')").fetchone()[0]
seconds = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
import shutil
shutil.rmtree(out + "-tmp", ignore_errors=True)
print(json.dumps({"outputRows": rows, "seconds": seconds, "cpuSeconds": usage.ru_utime + usage.ru_stime,
                  "vmHWMKiB": usage.ru_maxrss}))
