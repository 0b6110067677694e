#!/usr/bin/env python3
"""Baseline for docs/bench/crawl.md: the same full crawl as `webtoon crawl --mode full`, written the way the
original project crawled (requests + ThreadPoolExecutor), against the simulator. Not part of the test suite.

Usage: crawl.py --base-url http://127.0.0.1:PORT --workers 64 [--date 2026-11-25]
Prints one JSON line: requests, titles, episodes, seconds, requests_per_second.
"""
import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

NAVER_HEADERS = {
    "User-Agent": "Mozilla/5.0", "Accept-Language": "ko",
    "Origin": "https://comic.naver.com", "Referer": "https://comic.naver.com",
}
KAKAO_HEADERS = {
    "User-Agent": "Mozilla/5.0", "Accept-Language": "ko",
    "Origin": "https://webtoon.kakao.com", "Referer": "https://webtoon.kakao.com",
}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

local = threading.local()
counter_lock = threading.Lock()
counter = {"requests": 0, "retries": 0}


def session():
    s = getattr(local, "session", None)
    if s is None:
        s = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4)
        s.mount("http://", adapter)
        local.session = s
    return s


def get(url, headers, params=None, accept=(200,)):
    """GET with up to 5 attempts on 5xx/429/connection errors (the original retried 5x with a 1 s sleep; here the
    simulator has no faults, so no retry happens)."""
    for attempt in range(5):
        with counter_lock:
            counter["requests"] += 1
        try:
            r = session().get(url, headers=headers, params=params, timeout=30)
        except requests.RequestException:
            r = None
        if r is not None and (r.status_code in accept or r.status_code < 400 or r.status_code in (401, 404)):
            return r
        with counter_lock:
            counter["retries"] += 1
        time.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"gave up on {url}")


def naver_titles(base):
    titles = {}
    weekly = get(f"{base}/api/webtoon/titlelist/weekday", NAVER_HEADERS, {"order": "view"}).json()
    for day, items in weekly["titleListMap"].items():
        for item in items:
            titles[item["titleId"]] = item
    page, seen = 1, set()
    while True:
        body = get(f"{base}/api/webtoon/titlelist/finished", NAVER_HEADERS, {"order": "view", "page": page}).json()
        fresh = [t for t in body["titleList"] if t["titleId"] not in seen]
        if not fresh:
            break
        for t in fresh:
            seen.add(t["titleId"])
            titles[t["titleId"]] = t
        if page >= body["pageInfo"]["totalPages"]:
            break
        page += 1
    return sorted(titles)


def naver_title(base, title_id):
    get(f"{base}/api/article/list/info", NAVER_HEADERS, {"titleId": title_id}).json()
    episodes, seen, page = [], set(), 1
    while True:
        r = get(f"{base}/api/article/list", NAVER_HEADERS, {"titleId": title_id, "page": page})
        if r.status_code == 401:
            return []
        body = r.json()
        fresh = [a["no"] for a in body["articleList"] if a["no"] not in seen]
        if not fresh:
            break
        seen.update(fresh)
        episodes.extend(fresh)
        if page >= body["pageInfo"]["totalPages"]:
            break
        page += 1
    return [(title_id, no) for no in episodes]


def naver_episode(base, pair):
    title_id, no = pair
    get(f"{base}/api/userAction/info", NAVER_HEADERS, {"titleId": title_id, "no": no}).json()
    headers = dict(NAVER_HEADERS, **{"Service-Ticket-Id": "comic_webtoon"})
    comments = get(f"{base}/comment/api/community/v2/posts", headers, {
        "pageId": f"webtoon_{title_id}_{no}", "pinRepresentation": "none", "prevSize": 0, "nextSize": 1, "cursor": ""
    }).json()["result"]["activePostCount"]
    likes = get(f"{base}/v1/search/contents", NAVER_HEADERS, {"q": f"COMIC[{title_id}_{no}]"}).json()
    return comments, sum(r["count"] for r in likes["contents"][0]["reactions"])


def kakao_titles(base):
    titles = set()
    for placement in [f"timetable_{d}" for d in DAYS] + ["timetable_completed"]:
        body = get(f"{base}/section/v2/timetables/days", KAKAO_HEADERS, {"placement": placement}).json()
        for section in body["data"]:
            for group in section["cardGroups"]:
                for card in group["cards"]:
                    titles.add(card["content"]["id"])
    return sorted(titles)


def kakao_title(base, title_id):
    get(f"{base}/decorator/v2/decorator/contents/{title_id}", KAKAO_HEADERS).json()
    episodes, offset = [], 0
    while True:
        body = get(f"{base}/episode/v2/views/content-home/contents/{title_id}/episodes", KAKAO_HEADERS,
                   {"sort": "-NO", "offset": offset, "limit": 100}).json()
        batch = [e["id"] for e in body["data"]["episodes"]]
        episodes.extend(batch)
        offset += len(batch)
        if not batch or body["meta"]["pagination"]["last"]:
            break
    return [(title_id, e) for e in episodes]


def kakao_episode(base, pair):
    title_id, episode_id = pair
    comments = get(f"{base}/comment/v1/comments", KAKAO_HEADERS, {
        "relationType": "EPISODE", "relationId": episode_id, "sort": "-LIKE", "offset": 0, "limit": 1
    }).json()["meta"]["pagination"]["totalCount"]
    likes = get(f"{base}/popularity/v1/reviews/episode/{episode_id}", KAKAO_HEADERS,
                {"contentId": title_id}).json()["data"]["likeCount"]
    return comments, likes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workers", type=int, default=64)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        naver = naver_titles(base)
        kakao = kakao_titles(base)
        naver_eps = [e for eps in pool.map(lambda t: naver_title(base, t), naver) for e in eps]
        kakao_eps = [e for eps in pool.map(lambda t: kakao_title(base, t), kakao) for e in eps]
        stats = list(pool.map(lambda p: naver_episode(base, p), naver_eps, chunksize=16))
        stats += list(pool.map(lambda p: kakao_episode(base, p), kakao_eps, chunksize=16))
    seconds = time.monotonic() - started
    print(json.dumps({
        "requests": counter["requests"], "retries": counter["retries"], "titles": len(naver) + len(kakao),
        "episodes": len(stats), "seconds": round(seconds, 2),
        "requests_per_second": round(counter["requests"] / seconds, 1),
    }))


if __name__ == "__main__":
    main()
