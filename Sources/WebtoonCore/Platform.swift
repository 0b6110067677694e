/// The two platforms we crawl. Every record and task carries one, because ids of the two collide.
public enum Platform: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case naver
    case kakao

    public var description: String { rawValue }
}

/// Days of the week as the pipeline stores them: Monday = 0 … Sunday = 6 (the original's `release_day`).
public enum Weekdays {
    /// Naver `titleListMap` keys and `publishDayOfWeekList` values, in day order.
    public static let naverKeys = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    /// Kakao placement suffixes and decorator `WEEKDAYS` badge titles, in day order.
    public static let kakaoKeys = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    public static func naverIndex(_ key: String) -> Int? { naverKeys.firstIndex(of: key) }
    public static func kakaoIndex(_ key: String) -> Int? { kakaoKeys.firstIndex(of: key) }
}
