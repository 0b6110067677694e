/// `FastJSON` readers for the response shapes of the per-episode and per-title endpoints (most of a crawl's
/// requests). Each builds the same `Decodable` value `JSONDecoder` would, or gives up (nil) so the caller decodes
/// with `JSONDecoder`: a required member absent or null, an optional one of the wrong type, a non-object where an
/// object is expected all give up. The tests compare both decoders on fixtures and on mutated bodies.
protocol FastDecodable {
    static func fast(_ json: FastJSON) -> Self?
}

extension ResponseDecoding {
    /// `decode`, reading `tree` (already parsed from `body`) when it can.
    static func decode<T: Decodable & FastDecodable>(
        _ type: T.Type, _ body: [UInt8], _ tree: FastJSON?, _ request: EndpointRequest
    ) throws(ResponseError) -> T {
        if let tree, let value = T.fast(tree) { return value }
        return try decode(type, body, request)
    }

    static func decodeFast<T: Decodable & FastDecodable>(_ type: T.Type, _ body: [UInt8], _ request: EndpointRequest)
        throws(ResponseError) -> T
    {
        try decode(type, body, FastJSON.parse(body), request)
    }
}

extension FastJSON {
    /// An object member that is itself an object read by `read`; nil gives up.
    func object<T>(_ key: String, _ read: (FastJSON) -> T?) -> T? {
        guard let value = required(key), value.isObject else { return nil }
        return read(value)
    }

    /// An optional object member.
    func optionalObject<T>(_ key: String, _ read: (FastJSON) -> T?) -> T?? {
        optional(key) { $0.isObject ? read($0) : nil }
    }

    func int64(_ key: String) -> Int64? { required(key, \.int64) }
    func string(_ key: String) -> String? { required(key, \.string) }
}

/// A shorthand: `try?`-style chaining reads better with a throwing bail-out.
private struct GiveUp: Error {}

private func take<T>(_ value: T?) throws(GiveUp) -> T {
    guard let value else { throw GiveUp() }
    return value
}

private func read<T>(_ json: FastJSON, _ body: (FastJSON) throws(GiveUp) -> T) -> T? {
    guard json.isObject else { return nil }
    do { return try body(json) } catch { return nil }
}

// MARK: Kakao

extension KakaoParsers.ErrorEnvelope: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(errorCode: try take(j.string("errorCode")), errorMessage: try take(j.optional("errorMessage", \.string)))
        }
    }
}

extension KakaoParsers.DecoratorResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                data: try take(
                    j.object("data") { d in
                        read(d) { d throws(GiveUp) in
                            Data(
                                id: try take(d.int64("id")),
                                statistics: try take(
                                    d.optionalObject("statistics") { s in
                                        s.optional("viewCount", \.int64).map(Data.Statistics.init(viewCount:))
                                    }),
                                badges: try take(
                                    d.optional("badges") { list in
                                        list.items { b in
                                            read(b) { b throws(GiveUp) in
                                                Data.Badge(type: try take(b.string("type")), title: try take(b.string("title")))
                                            }
                                        }
                                    }),
                                seoKeywords: try take(d.optional("seoKeywords") { $0.items(\.string) }),
                                synopsis: try take(d.optional("synopsis", \.string)),
                                adult: try take(d.optional("adult", \.bool)))
                        }
                    }))
        }
    }
}

extension KakaoParsers.EpisodesResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            let meta = try take(
                j.optionalObject("meta") { m in
                    read(m) { m throws(GiveUp) in
                        Meta(
                            pagination: try take(
                                m.optionalObject("pagination") { p in
                                    read(p) { p throws(GiveUp) in
                                        Meta.P(totalCount: try take(p.optional("totalCount", \.int)), last: try take(p.optional("last", \.bool)))
                                    }
                                }))
                    }
                })
            let data = try take(
                j.object("data") { d in
                    d.required("episodes") { list in
                        list.items { e in
                            read(e) { e throws(GiveUp) in
                                Data.Episode(
                                    id: try take(e.int64("id")), contentId: try take(e.optional("contentId", \.int64)),
                                    no: try take(e.int64("no")), title: try take(e.string("title")),
                                    useType: try take(e.optional("useType", \.string)),
                                    serialStartDateTime: try take(e.optional("serialStartDateTime", \.string)),
                                    asset: try take(
                                        e.optionalObject("asset") { a in
                                            a.optional("thumbnailImage", \.string).map(Data.Episode.Asset.init(thumbnailImage:))
                                        }))
                            }
                        }
                    }.map(Data.init(episodes:))
                })
            return Self(meta: meta, data: data)
        }
    }
}

extension KakaoParsers.Pagination {
    static func fast(_ p: FastJSON) -> Self? {
        read(p) { p throws(GiveUp) in
            Self(totalCount: try take(p.int64("totalCount")), last: try take(p.optional("last", \.bool)))
        }
    }
}

extension KakaoParsers.CommentsResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(meta: try take(j.object("meta") { m in m.object("pagination", KakaoParsers.Pagination.fast).map(Meta.init(pagination:)) }))
        }
    }
}

extension KakaoParsers.PopularityResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                data: try take(
                    j.object("data") { d in
                        read(d) { d throws(GiveUp) in
                            Data(episodeId: try take(d.optional("episodeId", \.int64)), likeCount: try take(d.int64("likeCount")))
                        }
                    }))
        }
    }
}

// MARK: Naver

extension PageInfo {
    static func fast(_ p: FastJSON) -> Self? {
        read(p) { p throws(GiveUp) in
            PageInfo(page: try take(p.required("page", \.int)), totalPages: try take(p.required("totalPages", \.int)))
        }
    }
}

extension NaverParsers.InfoResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                titleId: try take(j.int64("titleId")),
                age: try take(j.optionalObject("age") { a in a.optional("type", \.string).map(Age.init(type:)) }),
                dailyPass: try take(j.optional("dailyPass", \.bool)),
                finished: try take(j.optional("finished", \.bool)),
                favoriteCount: try take(j.optional("favoriteCount", \.int64)),
                synopsis: try take(j.optional("synopsis", \.string)),
                publishDayOfWeekList: try take(j.optional("publishDayOfWeekList") { $0.items(\.string) }),
                curationTagList: try take(
                    j.optional("curationTagList") { list in
                        list.items { t in
                            read(t) { t throws(GiveUp) in
                                Tag(tagName: try take(t.string("tagName")), curationType: try take(t.optional("curationType", \.string)))
                            }
                        }
                    }),
                gfpAdCustomParam: try take(
                    j.optionalObject("gfpAdCustomParam") { g in
                        g.optional("tags") { $0.items(\.string) }.map(Gfp.init(tags:))
                    }))
        }
    }
}

extension NaverParsers.ArticleListResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                titleId: try take(j.optional("titleId", \.int64)),
                totalCount: try take(j.required("totalCount", \.int)),
                dailyPass: try take(j.optional("dailyPass", \.bool)),
                finished: try take(j.optional("finished", \.bool)),
                pageInfo: try take(j.optionalObject("pageInfo", PageInfo.fast)),
                articleList: try take(
                    j.required("articleList") { list in
                        list.items { a in
                            read(a) { a throws(GiveUp) in
                                Article(
                                    no: try take(a.int64("no")), subtitle: try take(a.string("subtitle")),
                                    serviceDateDescription: try take(a.string("serviceDateDescription")),
                                    thumbnailUrl: try take(a.optional("thumbnailUrl", \.string)),
                                    charge: try take(a.optional("charge", \.bool)))
                            }
                        }
                    }))
        }
    }
}

extension NaverParsers.UserActionResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                starInfo: try take(
                    j.object("starInfo") { s in
                        read(s) { s throws(GiveUp) in
                            StarInfo(
                                averageStarScore: try take(s.optional("averageStarScore", \.double)),
                                starScoreCount: try take(s.optional("starScoreCount", \.int64)))
                        }
                    }))
        }
    }
}

extension NaverParsers.CboxResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                success: try take(j.optional("success", \.bool)),
                result: try take(
                    j.optionalObject("result") { r in
                        read(r) { r throws(GiveUp) in
                            Result(
                                count: try take(r.object("count") { c in c.int64("total").map(Result.Count.init(total:)) }),
                                commentList: try take(
                                    r.optional("commentList") { list in
                                        list.items { c in
                                            read(c) { c throws(GiveUp) in
                                                Result.Comment(
                                                    commentNo: try take(c.required("commentNo", NaverParsers.FlexibleID.fast)),
                                                    contents: try take(c.optional("contents", \.string)),
                                                    sympathyCount: try take(c.optional("sympathyCount", \.int64)),
                                                    modTime: try take(c.optional("modTime", \.string)),
                                                    deleted: try take(c.optional("deleted", \.bool)))
                                            }
                                        }
                                    }))
                        }
                    }))
        }
    }
}

extension NaverParsers.FlexibleID {
    static func fast(_ json: FastJSON) -> Self? {
        if let number = json.int64 { return Self(text: String(number)) }
        return json.string.map(Self.init(text:))
    }
}

extension NaverParsers.CommunityResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                status: try take(j.string("status")),
                result: try take(
                    j.object("result") { r in
                        read(r) { r throws(GiveUp) in
                            Result(
                                postCount: try take(r.optional("postCount", \.int64)),
                                activePostCount: try take(r.optional("activePostCount", \.int64)),
                                rootPostCount: try take(r.optional("rootPostCount", \.int64)),
                                activeRootPostCount: try take(r.optional("activeRootPostCount", \.int64)))
                        }
                    }))
        }
    }
}

extension NaverParsers.LikeResponse: FastDecodable {
    static func fast(_ json: FastJSON) -> Self? {
        read(json) { j throws(GiveUp) in
            Self(
                contents: try take(
                    j.required("contents") { list in
                        list.items { e in
                            read(e) { e throws(GiveUp) in
                                Entry(
                                    contentsId: try take(e.optional("contentsId", \.string)),
                                    reactions: try take(
                                        e.optional("reactions") { list in
                                            list.items { r in r.isObject ? r.int64("count").map(Entry.Reaction.init(count:)) : nil }
                                        }))
                            }
                        }
                    }))
        }
    }
}
