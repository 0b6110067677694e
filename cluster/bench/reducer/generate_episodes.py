"""Writes FILES Parquet files of episode rows in the processed `episodes` schema (as worker outputs would be), with
every key appearing COPIES times across the files and random fetch times, so a reduce has real duplicates to drop.
Keys spread over DAYS snapshot days (one partition per day and platform). Vectorised (pyarrow compute), so
hundreds of millions of rows take minutes, not hours; each file is written in row groups of 500,000 rows (--group).

    python generate_episodes.py OUT_DIR --unique 1000000 --copies 3 --files 6 [--days 1] [--seed 1] [--group 500000]
"""
import argparse
import datetime as dt
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SCHEMA = pa.schema([
    pa.field("platform", pa.string(), nullable=False),
    pa.field("title_id", pa.int64(), nullable=False),
    pa.field("episode_id", pa.int64(), nullable=False),
    pa.field("snapshot_date", pa.date32(), nullable=False),
    pa.field("no", pa.int64(), nullable=False),
    pa.field("title", pa.string(), nullable=False),
    pa.field("likes", pa.int64()),
    pa.field("comments", pa.int64()),
    pa.field("rating", pa.float64()),
    pa.field("image_url", pa.string(), nullable=False),
    pa.field("published_date", pa.date32()),
    pa.field("missing_reason", pa.string()),
    pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
])

GROUP = 500_000
DAY0 = (dt.date(2026, 11, 25) - dt.date(1970, 1, 1)).days


def mod(a, m):
    return pc.subtract(a, pc.multiply(pc.divide(a, m), m))


def randint(n, lo, hi, seed):
    """n integers uniform in [lo, hi)."""
    return pc.add(pc.cast(pc.floor(pc.multiply(pc.random(n, initializer=seed), hi - lo)), pa.int64()), lo)


def batch(lo, hi, unique, days, seed):
    """Rows lo..<hi: key k = row * 7919 mod unique, so each key recurs every `unique` rows."""
    n = hi - lo
    i = pa.array(range(lo, hi), pa.int64())
    k = mod(pc.multiply(i, 7919), unique)
    odd = pc.equal(mod(k, 2), 1)
    missing = pc.equal(mod(k, 11), 0)
    kstr = pc.cast(k, pa.string())
    title = pc.divide(k, 100)
    null64 = pa.scalar(None, pa.int64())
    ratings = pc.divide(pc.cast(randint(n, 0, 1001, seed + 1), pa.float64()), 100.0)
    return pa.table({
        "platform": pc.if_else(odd, "naver", "kakao"),
        "title_id": title,
        "episode_id": k,
        "snapshot_date": pc.cast(pc.cast(pc.subtract(DAY0, mod(pc.divide(k, 2), days)), pa.int32()), pa.date32()),
        "no": pc.add(mod(k, 100), 1),
        "title": pc.binary_join_element_wise("에피소드 ", kstr, " 제목", ""),
        "likes": pc.if_else(missing, null64, randint(n, 0, 1_000_000, seed + 2)),
        "comments": randint(n, 0, 50_000, seed + 3),
        "rating": pc.if_else(odd, ratings, pa.scalar(None, pa.float64())),
        "image_url": pc.binary_join_element_wise(
            "https://image-comic.pstatic.net/webtoon/", pc.cast(title, pa.string()), "/", kstr,
            "/thumbnail_202x120", ""),
        "published_date": pc.cast(pc.cast(pc.subtract(DAY0, mod(k, 400)), pa.int32()), pa.date32()),
        "missing_reason": pc.if_else(missing, "likes: HTTP 500", pa.scalar(None, pa.string())),
        "fetched_at": pc.cast(
            pc.add(DAY0 * 86_400_000_000, randint(n, 0, 3_600_000_000, seed + 4)), pa.timestamp("us", tz="UTC")),
    }, schema=SCHEMA)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--unique", type=int, default=1_000_000)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--group", type=int, default=GROUP)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    total = args.unique * args.copies
    per_file = (total + args.files - 1) // args.files
    for f in range(args.files):
        start, stop = f * per_file, min(total, (f + 1) * per_file)
        with pq.ParquetWriter(os.path.join(args.out, f"part-{f}.parquet"), SCHEMA, compression="zstd") as writer:
            for lo in range(start, stop, args.group):
                seed = args.seed * 1_000_003 + lo
                rows = batch(lo, min(stop, lo + args.group), args.unique, args.days, seed)
                writer.write_table(rows, row_group_size=args.group)


if __name__ == "__main__":
    main()
