-- Rotates through the URIs in $SIM_URIS (one per line) with the headers a crawler sends to both platforms.
local paths = {}
for line in io.lines(os.getenv("SIM_URIS")) do paths[#paths + 1] = line end
local headers = {
  ["Accept-Language"] = "ko",
  ["Referer"] = "https://comic.naver.com",
  ["Service-Ticket-Id"] = "comic_webtoon",
}
local counter = math.random(#paths)
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end
