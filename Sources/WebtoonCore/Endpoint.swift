/// The endpoints a catalog describes. Raw values are the catalog's `endpoints` keys.
public enum Endpoint: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Naver N1 (all days in one response) / Kakao K1 (one day per request).
    case weekdayTitles
    /// Naver N2 (paged) / Kakao K2 (one response).
    case finishedTitles
    /// Naver N3 / Kakao K3 (decorator).
    case titleInfo
    /// Naver N4 (paged by page) / Kakao K4 (offset/limit).
    case episodeList
    /// Naver N5 only.
    case episodeRating
    /// Naver N6 (legacy cbox JSONP) / Kakao K5.
    case comments
    /// Naver N6b (community v2 posts).
    case communityComments
    /// Naver N7 / Kakao K6.
    case episodeLikes

    public var description: String { rawValue }

    /// The raw tree folder its bodies are kept under.
    public var rawKind: RawKind {
        switch self {
        case .weekdayTitles: .titles
        case .finishedTitles: .finishedTitles
        case .titleInfo: .titleInfo
        case .episodeList: .episodes
        case .episodeRating: .episodeInfo
        case .comments, .communityComments: .comments
        case .episodeLikes: .episodeLikes
        }
    }

    /// Endpoints each platform's catalog must define.
    public static func required(for platform: Platform) -> [Endpoint] {
        switch platform {
        case .naver: allCases
        case .kakao: [.weekdayTitles, .finishedTitles, .titleInfo, .episodeList, .comments, .episodeLikes]
        }
    }
}

/// The raw tree's kinds (`raw/{platform}/{kind}/YYYY/MM/DD/`), exactly the original's folder names.
public enum RawKind: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case titles
    case finishedTitles = "finished_titles"
    case titleInfo = "title_info"
    case episodes
    case episodeInfo = "episode_info"
    case comments
    case episodeLikes = "episode_likes"

    public var description: String { rawValue }
}
