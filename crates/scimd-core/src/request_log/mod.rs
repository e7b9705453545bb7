//! The provisioning log (issue #15): every authenticated SCIM request to a provider's Base
//! URL — time, method, path with query, status, latency, request id, client address, user
//! agent, and for a failure the SCIM error's `scimType` and `detail` and the request body
//! with its secrets masked ([`mask`]). Requests refused before authentication are only
//! counted per provider, so nobody without a token can fill a provider's log.
//!
//! The request path only queues an entry ([`Core::log_request`]); a background task writes
//! the queue a second at a time ([`Core::flush_log`]) and applies the retention
//! ([`Core::prune_log`]): failures and successes have separate budgets, so successes never
//! push failures out. Administrators read it through [`Core::provider_log`] with a
//! [`LogFilter`] (the console, the admin API and `scimd provider log` alike), and a setup
//! page's status panel through `Core::setup_status`.

pub mod mask;
mod recorder;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::CoreError;
use crate::service::Core;

pub use recorder::{FlushReport, LogState, ObservedRequest};

/// One authenticated request as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The storage order (0 until stored); the paging cursor.
    pub seq: i64,
    pub provider: String,
    /// When the request arrived.
    pub time: Timestamp,
    pub method: String,
    /// Relative to the provider's Base URL, with the query (secret-looking values masked).
    pub path: String,
    pub status: u16,
    /// A status of 400 or more, or a Bulk request some of whose operations failed.
    pub failed: bool,
    pub latency_us: i64,
    pub request_id: String,
    pub client: String,
    pub user_agent: Option<String>,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    /// Failures only: the body with its secrets masked, at most [`mask::MAX_BODY`] bytes.
    pub body: Option<String>,
}

/// What a reader asks of a provider's log. Every filter given narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only failures.
    pub failed: bool,
    /// Only statuses in `[from, to)`: a class (`4xx`) or one status (`409`).
    pub status: Option<(u16, u16)>,
    /// Only paths (relative to the Base URL) starting with this, in any case.
    pub path: Option<String>,
    /// At or after this time.
    pub since: Option<Timestamp>,
    /// Before this time.
    pub until: Option<Timestamp>,
    /// Entries older than this one, newest first (the next page back).
    pub before: Option<i64>,
    /// Entries newer than this one, oldest first (following the log as it grows).
    pub after: Option<i64>,
    pub limit: u32,
}

/// A page of a provider's log, newest first (oldest first when following `after`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// The cursor of the next page back, when there may be one.
    pub next_before: Option<i64>,
}

/// A provider's log filters as an administrator types them: a query string, a console
/// form, CLI flags.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct LogQuery {
    /// `true`: failures only.
    pub failed: Option<bool>,
    /// A class (`2xx`, `4xx`, `5xx`), one status (`409`), or `failed`.
    pub status: Option<String>,
    /// A path prefix relative to the Base URL: `/Users`, `/Groups/<id>`.
    pub path: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD`.
    pub since: Option<String>,
    pub until: Option<String>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

/// The most entries one read returns.
pub const MAX_PAGE: u32 = 1000;

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Invalid(msg.into())
}

/// `4xx` -> `[400, 500)`, `409` -> `[409, 410)`.
fn status_range(s: &str) -> Result<Option<(u16, u16)>, CoreError> {
    let bad = || {
        invalid(format!(
            "status '{s}' is not a class (2xx, 4xx, 5xx) or a status such as 409"
        ))
    };
    let t = s.trim().to_ascii_lowercase();
    if let Some(class) = t.strip_suffix("xx") {
        let c: u16 = class.parse().map_err(|_| bad())?;
        return (1..=5)
            .contains(&c)
            .then_some(Some((c * 100, c * 100 + 100)))
            .ok_or_else(bad);
    }
    let code: u16 = t.parse().map_err(|_| bad())?;
    (100..600)
        .contains(&code)
        .then_some(Some((code, code + 1)))
        .ok_or_else(bad)
}

impl LogQuery {
    /// The filter these fields ask for; `default_limit` when no limit is given.
    pub fn filter(&self, default_limit: u32) -> Result<LogFilter, CoreError> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut failed = self.failed.unwrap_or(false);
        let status = match given(&self.status) {
            Some(s) if s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("failures") => {
                failed = true;
                None
            }
            Some(s) if s.eq_ignore_ascii_case("all") => None,
            Some(s) => status_range(&s)?,
            None => None,
        };
        let path = given(&self.path).map(|p| if p.starts_with('/') { p } else { format!("/{p}") });
        if self.before.is_some() && self.after.is_some() {
            return Err(invalid("page back (before) or follow (after), not both"));
        }
        Ok(LogFilter {
            failed,
            status,
            path,
            since: crate::input::time_param("since", &self.since)?,
            until: crate::input::time_param("until", &self.until)?,
            before: self.before,
            after: self.after,
            limit: self.limit.unwrap_or(default_limit).clamp(1, MAX_PAGE),
        })
    }
}

/// What the log says about a provider's connection, for the providers list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogHealth {
    /// Requests refused before authentication (no token, an unknown, expired or revoked one,
    /// another provider's), since the provider was registered.
    pub unauthenticated: u64,
    pub last_unauthenticated: Option<Timestamp>,
    /// Of its last (up to) [`RECENT`] authenticated requests, how many failed.
    pub recent_failed: u32,
    pub recent_total: u32,
}

/// How many of a provider's latest requests its warning looks at.
pub const RECENT: u32 = 10;

impl LogHealth {
    /// From the stored window: a bit per request, the newest lowest, `count` of them.
    pub fn from_window(unauthenticated: u64, last: Option<Timestamp>, bits: i64, count: i64) -> LogHealth {
        let count = count.clamp(0, i64::from(RECENT)) as u32;
        let mask = (1i64 << count) - 1;
        LogHealth {
            unauthenticated,
            last_unauthenticated: last,
            recent_failed: (bits & mask).count_ones(),
            recent_total: count,
        }
    }

    /// The warning rule: more than half of the last (up to) ten authenticated requests
    /// failed, and at least three did — a broken connection, not a typo or two.
    pub fn failing(&self) -> bool {
        self.recent_failed >= 3 && self.recent_failed * 2 > self.recent_total
    }

    /// "8 of the last 10 requests failed", when [`failing`](Self::failing).
    pub fn warning(&self) -> Option<String> {
        self.failing().then(|| {
            format!(
                "{} of the last {} requests failed",
                self.recent_failed, self.recent_total
            )
        })
    }
}

/// The server's retention of the log, and whether it records at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    pub enabled: bool,
    pub limits: LogLimits,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            enabled: true,
            limits: LogLimits::default(),
        }
    }
}

/// A provider's retention: failures by age and count, successes by count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    pub failure_retention_seconds: i64,
    pub failure_max: u64,
    pub success_max: u64,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            failure_retention_seconds: 7 * 86_400,
            failure_max: 100_000,
            success_max: 10_000,
        }
    }
}

impl LogLimits {
    /// These limits with a provider's overrides applied.
    pub fn with(self, o: &LogOverrides) -> LogLimits {
        LogLimits {
            failure_retention_seconds: o.failure_retention_seconds.unwrap_or(self.failure_retention_seconds),
            failure_max: o.failure_max.unwrap_or(self.failure_max),
            success_max: o.success_max.unwrap_or(self.success_max),
        }
    }

    fn max(&self, failed: bool) -> u64 {
        if failed { self.failure_max } else { self.success_max }
    }
}

/// The most entries of one kind a provider may keep.
pub const MAX_KEPT: u64 = 10_000_000;

/// A provider's own retention, where it differs from the server's (provider settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_retention_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_max: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_max: Option<u64>,
}

impl LogOverrides {
    pub fn is_empty(&self) -> bool {
        *self == LogOverrides::default()
    }
}

/// A retention typed by an administrator: `7d`, `12h`, `3600` (seconds); at least a second.
pub fn parse_retention(s: &str) -> Result<i64, String> {
    let secs = crate::provider::parse_seconds(s)?;
    if !(1..=10 * 365 * 86_400).contains(&secs) {
        return Err(format!(
            "the retention '{}' must be between 1 second and 10 years",
            s.trim()
        ));
    }
    Ok(secs)
}

/// A number of entries typed by an administrator (0 keeps none).
pub fn parse_max(what: &str, s: &str) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .replace(['_', ','], "")
        .parse()
        .map_err(|_| format!("{what} '{}' is not a number of entries", s.trim()))?;
    if n > MAX_KEPT {
        return Err(format!("{what} may be at most {MAX_KEPT}"));
    }
    Ok(n)
}

/// What one flush adds to a provider's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsDelta {
    pub provider: String,
    pub unauthenticated: u64,
    pub last_unauthenticated: Option<Timestamp>,
    /// The outcomes of the provider's latest requests of this flush, oldest first, a bit
    /// each (1: failed), the newest lowest; `count` of them (at most [`RECENT`]).
    pub recent: i64,
    pub recent_count: i64,
}

/// What one flush writes, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogBatch {
    pub entries: Vec<LogEntry>,
    pub stats: Vec<StatsDelta>,
}

impl Core {
    /// A page of a provider's log (see [`LogFilter`]).
    pub async fn provider_log(&self, provider: &str, filter: &LogFilter) -> Result<LogPage, CoreError> {
        let p = self.provider(provider).await?;
        let mut f = filter.clone();
        f.limit = f.limit.clamp(1, MAX_PAGE);
        let entries = self.store.log_entries(&p.id, &f).await?;
        let next_before = if entries.len() as u32 == f.limit && f.after.is_none() {
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(LogPage { entries, next_before })
    }

    /// A provider's requests refused before authentication, and its recent failures.
    pub async fn log_health(&self, provider: &str) -> Result<LogHealth, CoreError> {
        let p = self.provider(provider).await?;
        Ok(self.log_health_all().await?.remove(p.id.as_str()).unwrap_or_default())
    }

    /// [`log_health`](Self::log_health) of every provider that has any (the others have
    /// none to tell), by provider id.
    pub async fn log_health_all(&self) -> Result<HashMap<String, LogHealth>, CoreError> {
        Ok(self.store.log_health().await?.into_iter().collect())
    }

    /// The retention and recording the server was configured with (the defaults in a
    /// command that does not serve).
    pub fn log_config(&self) -> LogConfig {
        self.log.config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_read_as_classes_or_single_statuses() {
        assert_eq!(status_range("4xx").ok().flatten(), Some((400, 500)));
        assert_eq!(status_range("5XX").ok().flatten(), Some((500, 600)));
        assert_eq!(status_range("409").ok().flatten(), Some((409, 410)));
        assert!(status_range("9xx").is_err());
        assert!(status_range("abc").is_err());
        let q = LogQuery {
            status: Some("failed".into()),
            path: Some("Users".into()),
            ..LogQuery::default()
        };
        let f = q.filter(50).ok();
        assert_eq!(
            f.as_ref().map(|f| (f.failed, f.status, f.limit)),
            Some((true, None, 50))
        );
        assert_eq!(f.and_then(|f| f.path).as_deref(), Some("/Users"));
    }

    #[test]
    fn a_provider_is_flagged_when_most_of_its_last_ten_requests_failed() {
        // Newest lowest: 8 failures among the last 10.
        let h = LogHealth::from_window(0, None, 0b11_1111_1100, 10);
        assert_eq!((h.recent_failed, h.recent_total), (8, 10));
        assert_eq!(h.warning().as_deref(), Some("8 of the last 10 requests failed"));
        assert!(
            !LogHealth::from_window(0, None, 0b1_1111, 10).failing(),
            "5 of 10 is not most"
        );
        assert!(
            !LogHealth::from_window(0, None, 0b11, 2).failing(),
            "two failures are not a pattern"
        );
        assert!(LogHealth::from_window(0, None, 0b111, 3).failing());
        assert!(
            !LogHealth::from_window(0, None, 0b111 << 10, 10).failing(),
            "bits past the window"
        );
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let o = LogOverrides {
            success_max: Some(5),
            ..LogOverrides::default()
        };
        let l = LogLimits::default().with(&o);
        assert_eq!((l.success_max, l.failure_max), (5, 100_000));
        assert_eq!(parse_max("x", "100,000"), Ok(100_000));
        assert!(parse_max("x", "lots").is_err());
        assert_eq!(parse_retention("7d"), Ok(7 * 86_400));
        assert!(parse_retention("0").is_err());
    }
}
