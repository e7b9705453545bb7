//! The SQL both backends run for administrators' reads across providers: population search,
//! a group's members by keyset, member counts and the filtered audit log. Written once with
//! `?N` placeholders (SQLite's); PostgreSQL gets them as `$N` through [`pg`].

use std::sync::LazyLock;

use scimd_core::{AuditQuery, PopulationQuery};

use crate::filter::fold;

/// Which SQL spelling of JSON access to use.
#[derive(Clone, Copy)]
pub(crate) enum Flavor {
    Sqlite,
    Postgres,
}

/// `?N` placeholders as PostgreSQL's `$N`.
pub(crate) fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// Parameters: ?1 population, ?2 kind, ?3 folded `LIKE` pattern or NULL, ?4 the raw text
/// (exact externalId) or NULL, ?5 the same pattern as a prefilter on the whole document's
/// text, or NULL. Every match has the search text somewhere in its document, so the
/// prefilter (a substring scan) drops most rows before any JSON is parsed: 100,000 users
/// are searched in a fraction of the time.
fn search_where(flavor: Flavor) -> String {
    let (given, family, formatted, emails, doc) = match flavor {
        Flavor::Sqlite => (
            "scim_fold(json_extract(r.data, '$.name.givenName'))",
            "scim_fold(json_extract(r.data, '$.name.familyName'))",
            "scim_fold(json_extract(r.data, '$.name.formatted'))",
            "SELECT 1 FROM json_each(r.data, '$.emails') e \
             WHERE scim_fold(json_extract(e.value, '$.value')) LIKE ?3 ESCAPE '\\'",
            "scim_fold(r.data)",
        ),
        Flavor::Postgres => (
            "scim_fold(r.data #>> '{name,givenName}')",
            "scim_fold(r.data #>> '{name,familyName}')",
            "scim_fold(r.data #>> '{name,formatted}')",
            "SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r.data -> 'emails') = 'array' \
             THEN r.data -> 'emails' ELSE '[]'::jsonb END) e WHERE scim_fold(e ->> 'value') LIKE ?3 ESCAPE '\\'",
            "scim_fold(r.data::text)",
        ),
    };
    format!(
        "r.population = ?1 AND r.kind = ?2 \
         AND (CAST(?5 AS TEXT) IS NULL OR {doc} LIKE ?5 ESCAPE '\\') AND (CAST(?3 AS TEXT) IS NULL \
         OR r.user_name_folded LIKE ?3 ESCAPE '\\' OR r.display_name_folded LIKE ?3 ESCAPE '\\' \
         OR r.external_id = ?4 OR {given} LIKE ?3 ESCAPE '\\' OR {family} LIKE ?3 ESCAPE '\\' \
         OR {formatted} LIKE ?3 ESCAPE '\\' OR EXISTS ({emails}))"
    )
}

pub(crate) struct SearchSql {
    pub count: String,
    /// Adds ?6 limit and ?7 offset.
    pub page: String,
}

pub(crate) fn search_sql(flavor: Flavor) -> SearchSql {
    let w = search_where(flavor);
    SearchSql {
        count: format!("SELECT count(*) FROM resource r WHERE {w}"),
        page: format!(
            "SELECT {} FROM resource r WHERE {w} ORDER BY r.seq LIMIT ?6 OFFSET ?7",
            crate::rows::COLUMNS
        ),
    }
}

pub(crate) static SQLITE_SEARCH: LazyLock<SearchSql> = LazyLock::new(|| search_sql(Flavor::Sqlite));
pub(crate) static PG_SEARCH: LazyLock<SearchSql> = LazyLock::new(|| {
    let s = search_sql(Flavor::Postgres);
    SearchSql {
        count: pg(&s.count),
        page: pg(&s.page),
    }
});

/// The search text as bound parameters: the folded substring pattern, the raw text, and
/// the prefilter pattern. Text that JSON escapes (quotes, backslashes, control characters)
/// would not appear as such in the document, so it goes without the prefilter.
pub(crate) struct SearchParams {
    pub pattern: Option<String>,
    pub raw: Option<String>,
    pub prefilter: Option<String>,
}

pub(crate) fn search_params(q: &PopulationQuery) -> SearchParams {
    let Some(t) = &q.text else {
        return SearchParams {
            pattern: None,
            raw: None,
            prefilter: None,
        };
    };
    let pattern = format!("%{}%", scimd_core::store::like_escape(&fold(t)));
    let plain = !t.chars().any(|c| c == '"' || c == '\\' || c.is_control());
    SearchParams {
        prefilter: plain.then(|| pattern.clone()),
        pattern: Some(pattern),
        raw: Some(t.clone()),
    }
}

pub(crate) const POPULATION_RESOURCE: &str = "SELECT r.seq, r.id, r.provider_id, r.population, r.kind, r.data, \
     r.created, r.modified, r.version FROM resource r WHERE r.population = ?1 AND r.kind = ?2 AND r.id = ?3";

/// Parameters: ?1 group seq, ?2 after member seq, ?3 limit. One range of the membership
/// primary key, however large the group.
pub(crate) const MEMBER_PAGE: &str = "SELECT m.member_seq, x.id, x.kind, \
     coalesce(m.display, x.user_name, x.display_name) FROM membership m \
     JOIN resource x ON x.seq = m.member_seq WHERE m.group_seq = ?1 AND m.member_seq > ?2 \
     ORDER BY m.member_seq LIMIT ?3";

pub(crate) const MEMBER_COUNT: &str = "SELECT count(*) FROM membership WHERE group_seq = ?1";

/// Parameters: ?1 provider, ?2 action pattern, ?3 actor pattern, ?4 resource, ?5 since,
/// ?6 until, ?7 before seq, ?8 limit.
pub(crate) const AUDIT: &str = "SELECT seq, time, actor, action, provider_id, resource, population, attributes \
     FROM audit_event WHERE (CAST(?1 AS TEXT) IS NULL OR provider_id = ?1) \
     AND (CAST(?2 AS TEXT) IS NULL OR action LIKE ?2 ESCAPE '\\') \
     AND (CAST(?3 AS TEXT) IS NULL OR actor LIKE ?3 ESCAPE '\\') \
     AND (CAST(?4 AS TEXT) IS NULL OR resource = ?4) \
     AND (CAST(?5 AS BIGINT) IS NULL OR time >= ?5) AND (CAST(?6 AS BIGINT) IS NULL OR time < ?6) \
     AND (CAST(?7 AS BIGINT) IS NULL OR seq < ?7) ORDER BY seq DESC LIMIT ?8";

pub(crate) static PG_AUDIT: LazyLock<String> = LazyLock::new(|| pg(AUDIT));

/// The audit query's filters in parameter order (?1-?7).
pub(crate) struct AuditParams {
    pub provider: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub resource: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
}

impl AuditParams {
    pub(crate) fn of(q: &AuditQuery) -> Self {
        AuditParams {
            provider: q.provider.clone(),
            action: AuditQuery::like_pattern(&q.action),
            actor: AuditQuery::like_pattern(&q.actor),
            resource: q.resource.clone(),
            since: q.since.map(|t| t.0),
            until: q.until.map(|t| t.0),
            before: q.before_seq,
            limit: i64::from(q.limit.max(1)),
        }
    }
}
