"""Writes the URIs a full crawl would request, from the simulator's own ground truth (stdin), one per line."""
import json
import sys

truth = json.load(sys.stdin)
out = []
for t in truth["titles"]:
    if t["platform"] == "naver":
        out.append(f"/api/article/list/info?titleId={t['id']}")
        if not t["restricted"]:
            out.append(f"/api/article/list?titleId={t['id']}&page=1")
    else:
        out.append(f"/decorator/v2/decorator/contents/{t['id']}")
        out.append(f"/episode/v2/views/content-home/contents/{t['id']}/episodes?sort=-NO&offset=0&limit=30")
for e in truth["episodes"]:
    t, n, i = e["titleId"], e["no"], e["episodeId"]
    if e["platform"] == "naver":
        out.append(f"/api/userAction/info?titleId={t}&no={n}")
        out.append(f"/commentBox/cbox/web_naver_list_jsonp.json?ticket=comic&templateId=webtoon&pool=cbox3&lang=ko&country=KR&objectId={t}_{n}")
        out.append(f"/v1/search/contents?q=COMIC%5B{t}_{n}%5D")
    else:
        out.append(f"/comment/v1/comments?relationType=EPISODE&relationId={i}&sort=-LIKE&offset=0&limit=10")
        out.append(f"/popularity/v1/reviews/episode/{i}?contentId={t}")
sys.stdout.write("\n".join(out) + "\n")
