"""Python baseline: requests with ThreadPoolExecutor(32), one Session per worker thread.

usage: bench_requests.py <base-url> <requests> <threads>
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

base, total, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
local = threading.local()


def fetch(i: int) -> bool:
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1)
        session.mount("http://", adapter)
    response = session.get(f"{base}?{i}")
    return response.status_code == 200 and response.content == f"hello {i}".encode()


start = time.perf_counter()
with ThreadPoolExecutor(threads) as pool:
    results = list(pool.map(fetch, range(total)))
seconds = time.perf_counter() - start
failures = results.count(False)
if failures:
    sys.exit(f"{failures} responses had the wrong body")
print(f"python-requests requests={total} threads={threads} seconds={seconds} rps={total / seconds}")
