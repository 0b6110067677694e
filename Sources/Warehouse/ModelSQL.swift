/// The SQL models, in build order. Each is a list of statement templates (`{{warehouse}}`, `{{site}}`,
/// `{{dashboard}}`). Rules every model follows (the original project broke each one, see platform-apis.md §4.5):
/// values come from the LATEST snapshot of each key and are never summed across snapshots; every join is keyed on
/// platform and joins one row per key (no fan-out); a missing value stays NULL.
public struct SQLModel: Sendable, Hashable {
    public enum Schema: String, Sendable, Hashable { case site, dashboard }
    public let schema: Schema
    public let table: String
    public let statements: [String]

    /// `site.dim_webtoon_titles`, …
    public var name: String { "\(schema.rawValue).\(table)" }
    /// The table as a template (`{{site}}.dim_webtoon_titles`).
    var qualifiedTemplate: String { "{{\(schema.rawValue)}}.\(quoteIdentifier(table))" }
}

public enum WarehouseModels {
    public static let all: [SQLModel] = [
        fctEpisodes, dimTitles, dimGenres, topTitles, genreRanking, popularityByWeekday, newTitles,
        newTitleGrowthDaily, newTitleGrowth, popularityByDate,
    ]

    /// One row per episode from its latest snapshot; NULL likes/comments stay NULL with their reason.
    static let fctEpisodes = SQLModel(
        schema: .site, table: "fct_webtoon_episodes",
        statements: [
            """
            CREATE TABLE {{site}}.fct_webtoon_episodes AS
            SELECT DISTINCT ON (platform, title_id, episode_id)
                platform, title_id, episode_id, no, title, likes, comments, rating, image_url, published_date,
                missing_reason, snapshot_date
            FROM {{warehouse}}.episodes
            ORDER BY platform, title_id, episode_id, snapshot_date DESC
            """,
            "ALTER TABLE {{site}}.fct_webtoon_episodes ADD PRIMARY KEY (platform, title_id, episode_id)",
            "CREATE INDEX ON {{site}}.fct_webtoon_episodes (platform, title_id, no)",
        ])

    /// One row per title from its latest snapshot, every weekday it is listed under in `release_days` (7 =
    /// completed), genres from its latest genre snapshot, and episode totals over `fct_webtoon_episodes`. `likes` and
    /// `comments` sum the known values; `episodes_missing_*` say how many episodes had none, so a partial total is
    /// visible as such (never filled in).
    static let dimTitles = SQLModel(
        schema: .site, table: "dim_webtoon_titles",
        statements: [
            """
            CREATE TABLE {{site}}.dim_webtoon_titles AS
            WITH seen AS (
                SELECT platform, id, min(snapshot_date) AS first_seen_date, max(snapshot_date) AS snapshot_date
                FROM {{warehouse}}.titles GROUP BY platform, id
            ), latest AS (
                SELECT t.*, s.first_seen_date
                FROM {{warehouse}}.titles t
                JOIN seen s ON s.platform = t.platform AND s.id = t.id AND s.snapshot_date = t.snapshot_date
            ), days AS (
                SELECT platform, id, array_agg(release_day ORDER BY release_day) AS release_days
                FROM latest GROUP BY platform, id
            ), attributes AS (
                SELECT DISTINCT ON (platform, id) * FROM latest ORDER BY platform, id, fetched_at DESC, release_day
            ), genre_snapshot AS (
                SELECT platform, title_id, max(snapshot_date) AS snapshot_date
                FROM {{warehouse}}.genres GROUP BY platform, title_id
            ), genre_lists AS (
                SELECT g.platform, g.title_id, array_agg(g.genre_name ORDER BY g.genre_name) AS genres
                FROM {{warehouse}}.genres g
                JOIN genre_snapshot s
                    ON s.platform = g.platform AND s.title_id = g.title_id AND s.snapshot_date = g.snapshot_date
                GROUP BY g.platform, g.title_id
            ), episode_totals AS (
                SELECT platform, title_id, count(*) AS episode_count,
                    sum(likes)::bigint AS likes, sum(comments)::bigint AS comments,
                    count(*) - count(likes) AS episodes_missing_likes,
                    count(*) - count(comments) AS episodes_missing_comments
                FROM {{site}}.fct_webtoon_episodes GROUP BY platform, title_id
            )
            SELECT a.platform, a.id, a.title, a.author, a.image_url, a.views, a.favorite_count, d.release_days,
                a.is_completed, a.restricted, a.age_rating, gl.genres,
                coalesce(e.episode_count, 0) AS episode_count, e.likes, e.comments,
                coalesce(e.episodes_missing_likes, 0) AS episodes_missing_likes,
                coalesce(e.episodes_missing_comments, 0) AS episodes_missing_comments,
                a.first_seen_date, a.snapshot_date AS last_seen_date
            FROM attributes a
            JOIN days d ON d.platform = a.platform AND d.id = a.id
            LEFT JOIN genre_lists gl ON gl.platform = a.platform AND gl.title_id = a.id
            LEFT JOIN episode_totals e ON e.platform = a.platform AND e.title_id = a.id
            """,
            "ALTER TABLE {{site}}.dim_webtoon_titles ADD PRIMARY KEY (platform, id)",
            "CREATE INDEX ON {{site}}.dim_webtoon_titles USING gin (release_days)",
            "CREATE INDEX ON {{site}}.dim_webtoon_titles USING gin (genres)",
        ])

    /// One row per (title, genre) from the title's latest genre snapshot, for genre filters and counts.
    static let dimGenres = SQLModel(
        schema: .site, table: "dim_webtoon_genres",
        statements: [
            """
            CREATE TABLE {{site}}.dim_webtoon_genres AS
            SELECT t.platform, t.id AS title_id, g.genre_name
            FROM {{site}}.dim_webtoon_titles t CROSS JOIN LATERAL unnest(t.genres) AS g(genre_name)
            """,
            "ALTER TABLE {{site}}.dim_webtoon_genres ADD PRIMARY KEY (platform, title_id, genre_name)",
            "CREATE INDEX ON {{site}}.dim_webtoon_genres (genre_name)",
        ])

    /// Top 10 titles per platform by latest views divided by episodes seen. Titles without views (every Naver
    /// title: its list viewCount is always 0, so views are unknown) or without episodes are not ranked.
    static let topTitles = SQLModel(
        schema: .dashboard, table: "top_titles_by_views_per_episode",
        statements: [
            """
            CREATE TABLE {{dashboard}}.top_titles_by_views_per_episode AS
            SELECT platform, title_id, title, views, episode_count, avg_views_per_episode, rank
            FROM (
                SELECT platform, id AS title_id, title, views, episode_count,
                    views::double precision / episode_count AS avg_views_per_episode,
                    row_number() OVER (
                        PARTITION BY platform ORDER BY views::double precision / episode_count DESC, id
                    ) AS rank
                FROM {{site}}.dim_webtoon_titles
                WHERE views IS NOT NULL AND episode_count > 0
            ) ranked
            WHERE rank <= 10
            """,
            "ALTER TABLE {{dashboard}}.top_titles_by_views_per_episode ADD PRIMARY KEY (platform, title_id)",
        ])

    /// Per platform and genre: titles, and the latest views, likes and comments of those titles (each title once per
    /// genre). `popularity_score` adds the components that exist (Naver has no views); its components stay NULL
    /// when unknown. Ranked within each platform.
    static let genreRanking = SQLModel(
        schema: .dashboard, table: "genre_ranking",
        statements: [
            """
            CREATE TABLE {{dashboard}}.genre_ranking AS
            SELECT platform, genre_name, title_count, views, likes, comments, popularity_score,
                rank() OVER (PARTITION BY platform ORDER BY popularity_score DESC) AS rank
            FROM (
                SELECT g.platform, g.genre_name, count(*) AS title_count,
                    sum(t.views)::bigint AS views, sum(t.likes)::bigint AS likes, sum(t.comments)::bigint AS comments,
                    (coalesce(sum(t.views), 0) + coalesce(sum(t.likes), 0) + coalesce(sum(t.comments), 0))::bigint
                        AS popularity_score
                FROM {{site}}.dim_webtoon_genres g
                JOIN {{site}}.dim_webtoon_titles t ON t.platform = g.platform AND t.id = g.title_id
                GROUP BY g.platform, g.genre_name
            ) totals
            """,
            "ALTER TABLE {{dashboard}}.genre_ranking ADD PRIMARY KEY (platform, genre_name)",
        ])

    /// Per platform and weekday (0 = Monday … 6 = Sunday, 7 = completed): a title listed under two weekdays counts
    /// under both.
    static let popularityByWeekday = SQLModel(
        schema: .dashboard, table: "popularity_by_weekday",
        statements: [
            """
            CREATE TABLE {{dashboard}}.popularity_by_weekday AS
            SELECT t.platform, d.release_day, count(*) AS title_count,
                sum(t.views)::bigint AS views, sum(t.likes)::bigint AS likes, sum(t.comments)::bigint AS comments
            FROM {{site}}.dim_webtoon_titles t CROSS JOIN LATERAL unnest(t.release_days) AS d(release_day)
            GROUP BY t.platform, d.release_day
            """,
            "ALTER TABLE {{dashboard}}.popularity_by_weekday ADD PRIMARY KEY (platform, release_day)",
        ])

    /// Titles FIRST SEEN (first snapshot) within the 30 days ending at the platform's latest snapshot.
    /// `present_at_first_snapshot` marks titles that were there when crawling began (their age is unknown).
    static let newTitles = SQLModel(
        schema: .dashboard, table: "new_titles",
        statements: [
            """
            CREATE TABLE {{dashboard}}.new_titles AS
            WITH bounds AS (
                SELECT platform, min(snapshot_date) AS first_snapshot, max(snapshot_date) AS latest_snapshot
                FROM {{warehouse}}.titles GROUP BY platform
            ), seen AS (
                SELECT platform, id, min(snapshot_date) AS first_seen_date FROM {{warehouse}}.titles GROUP BY platform, id
            )
            SELECT s.platform, s.id AS title_id, s.first_seen_date, b.latest_snapshot,
                s.first_seen_date = b.first_snapshot AS present_at_first_snapshot
            FROM seen s JOIN bounds b ON b.platform = s.platform
            WHERE s.first_seen_date > b.latest_snapshot - 30
            """,
            "ALTER TABLE {{dashboard}}.new_titles ADD PRIMARY KEY (platform, title_id)",
        ])

    /// Daily growth of new titles from snapshot differences: for every episode seen in two consecutive snapshots of
    /// its own, (likes now − likes then) / days between; summed per title and snapshot day. Episodes first seen in a
    /// snapshot have no difference yet and are not counted; unknown likes give no difference (never zero).
    static let newTitleGrowthDaily = SQLModel(
        schema: .dashboard, table: "new_title_growth_daily",
        statements: [
            """
            CREATE TABLE {{dashboard}}.new_title_growth_daily AS
            WITH deltas AS (
                SELECT e.platform, e.title_id, e.snapshot_date,
                    e.snapshot_date - lag(e.snapshot_date) OVER w AS days,
                    e.likes - lag(e.likes) OVER w AS likes_delta,
                    e.comments - lag(e.comments) OVER w AS comments_delta
                FROM {{warehouse}}.episodes e
                JOIN {{dashboard}}.new_titles n ON n.platform = e.platform AND n.title_id = e.title_id
                WINDOW w AS (PARTITION BY e.platform, e.title_id, e.episode_id ORDER BY e.snapshot_date)
            )
            SELECT platform, title_id, snapshot_date,
                count(likes_delta) AS episodes_with_likes, count(comments_delta) AS episodes_with_comments,
                sum(likes_delta::double precision / days) AS likes_per_day,
                sum(comments_delta::double precision / days) AS comments_per_day
            FROM deltas WHERE days IS NOT NULL
            GROUP BY platform, title_id, snapshot_date
            """,
            "ALTER TABLE {{dashboard}}.new_title_growth_daily ADD PRIMARY KEY (platform, title_id, snapshot_date)",
        ])

    /// One row per new title: its average daily growth over the snapshot days that have a difference, ranked by
    /// likes per day within each platform.
    static let newTitleGrowth = SQLModel(
        schema: .dashboard, table: "new_title_growth",
        statements: [
            """
            CREATE TABLE {{dashboard}}.new_title_growth AS
            WITH growth AS (
                SELECT platform, title_id, count(*) AS growth_days,
                    avg(likes_per_day) AS avg_likes_per_day, avg(comments_per_day) AS avg_comments_per_day
                FROM {{dashboard}}.new_title_growth_daily GROUP BY platform, title_id
            )
            SELECT n.platform, n.title_id, t.title, n.first_seen_date, n.present_at_first_snapshot,
                coalesce(g.growth_days, 0) AS growth_days, g.avg_likes_per_day, g.avg_comments_per_day,
                rank() OVER (PARTITION BY n.platform ORDER BY g.avg_likes_per_day DESC NULLS LAST) AS rank
            FROM {{dashboard}}.new_titles n
            JOIN {{site}}.dim_webtoon_titles t ON t.platform = n.platform AND t.id = n.title_id
            LEFT JOIN growth g ON g.platform = n.platform AND g.title_id = n.title_id
            """,
            "ALTER TABLE {{dashboard}}.new_title_growth ADD PRIMARY KEY (platform, title_id)",
        ])

    /// Per platform and publication day: likes and comments of the episodes published that day (latest values).
    static let popularityByDate = SQLModel(
        schema: .dashboard, table: "popularity_by_date",
        statements: [
            """
            CREATE TABLE {{dashboard}}.popularity_by_date AS
            SELECT platform, published_date, count(*) AS episode_count,
                sum(likes)::bigint AS likes, sum(comments)::bigint AS comments,
                count(*) - count(likes) AS episodes_missing_likes,
                count(*) - count(comments) AS episodes_missing_comments
            FROM {{site}}.fct_webtoon_episodes
            WHERE published_date IS NOT NULL
            GROUP BY platform, published_date
            """,
            "ALTER TABLE {{dashboard}}.popularity_by_date ADD PRIMARY KEY (platform, published_date)",
        ])
}
