"""Writes FILES Parquet files of episode rows in the processed `episodes` schema (as worker outputs would be), with
every key appearing COPIES times across the files and random fetch times, so a reduce has real duplicates to drop.

    python generate_episodes.py OUT_DIR --unique 1000000 --copies 3 --files 6 [--seed 1]
"""
import argparse
import datetime as dt
import os

import pyarrow as pa
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--unique", type=int, default=1_000_000)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import random
    rng = random.Random(args.seed)
    total = args.unique * args.copies
    per_file = (total + args.files - 1) // args.files
    day = dt.date(2026, 11, 25)
    base = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
    stride = 7919
    for f in range(args.files):
        start, stop = f * per_file, min(total, (f + 1) * per_file)
        cols = {name: [] for name in SCHEMA.names}
        for i in range(start, stop):
            k = (i * stride) % args.unique
            missing = k % 11 == 0
            cols["platform"].append("naver" if k % 2 else "kakao")
            cols["title_id"].append(k // 100)
            cols["episode_id"].append(k)
            cols["snapshot_date"].append(day)
            cols["no"].append(k % 100 + 1)
            cols["title"].append(f"에피소드 {k} 제목")
            cols["likes"].append(None if missing else rng.randrange(0, 1_000_000))
            cols["comments"].append(rng.randrange(0, 50_000))
            cols["rating"].append(round(rng.uniform(0, 10), 2) if k % 2 else None)
            cols["image_url"].append(f"https://image-comic.pstatic.net/webtoon/{k // 100}/{k}/thumbnail_202x120")
            cols["published_date"].append(day - dt.timedelta(days=k % 400))
            cols["missing_reason"].append("likes: HTTP 500" if missing else None)
            cols["fetched_at"].append(base + dt.timedelta(microseconds=rng.randrange(0, 3_600_000_000)))
        table = pa.table(cols, schema=SCHEMA)
        pq.write_table(table, os.path.join(args.out, f"part-{f}.parquet"), compression="zstd")


if __name__ == "__main__":
    main()
