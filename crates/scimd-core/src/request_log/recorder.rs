//! Recording the provisioning log without costing the requests it records: the request
//! path masks what it must and pushes into a bounded queue in memory (never waiting on
//! the database; a full queue drops and counts), and a background task writes the queue in
//! one transaction a second ([`Core::flush_log`]) and prunes ([`Core::prune_log`]). A crash
//! loses at most the last second: this is a diagnostic, not the audit log.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::{LogBatch, LogConfig, LogEntry, RECENT, StatsDelta, mask};
use crate::clock::Timestamp;
use crate::error::CoreError;
use crate::provider::ProviderId;
use crate::service::Core;

/// Entries held between two flushes; past it new ones are dropped (and counted).
const MAX_PENDING: usize = 50_000;
/// Bytes of masked bodies held between two flushes; past it a failure is kept without
/// its body.
const MAX_PENDING_BODIES: usize = 16 * 1024 * 1024;
/// Distinct providers whose refused requests are counted between two flushes.
const MAX_UNAUTHENTICATED_KEYS: usize = 1024;
/// The longest user agent kept.
const MAX_USER_AGENT: usize = 256;
/// Rows one pruning statement deletes, and the most one provider's round deletes.
const PRUNE_CHUNK: u32 = 5_000;
const PRUNE_ROUND: u64 = 1_000_000;

/// A request as the HTTP layer saw it, borrowed: nothing is copied unless it is kept.
#[derive(Debug, Clone, Copy)]
pub struct ObservedRequest<'a> {
    pub provider: &'a str,
    pub method: &'a str,
    /// Relative to the provider's Base URL, with the query.
    pub path: &'a str,
    pub status: u16,
    pub failed: bool,
    pub latency: Duration,
    pub request_id: &'a str,
    pub client: IpAddr,
    pub user_agent: Option<&'a str>,
    pub scim_type: Option<&'a str>,
    pub detail: Option<&'a str>,
    /// The request's body as received; read (and masked) only when the request failed.
    pub body: &'a [u8],
}

#[derive(Default)]
struct Pending {
    entries: Vec<LogEntry>,
    body_bytes: usize,
    /// Per path segment (a provider id, maybe): refused requests and the last one's time.
    unauthenticated: HashMap<String, (u64, Timestamp)>,
}

/// The log's part of [`Core`]: its configuration (absent in commands that do not serve:
/// nothing is recorded there), the queue and the count of what was dropped.
#[derive(Default)]
pub struct LogState {
    config: OnceLock<LogConfig>,
    pending: Mutex<Pending>,
    dropped: AtomicU64,
}

impl LogState {
    pub(super) fn config(&self) -> LogConfig {
        self.config.get().copied().unwrap_or_default()
    }

    fn recording(&self) -> bool {
        self.config.get().is_some_and(|c| c.enabled)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a flush did, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub written: u64,
    /// Entries lost since the last report: the queue was full, or a write failed.
    pub dropped: u64,
    /// Refused requests per provider (existing providers only).
    pub unauthenticated: Vec<(String, u64)>,
    /// Providers that got entries, whose budgets the next prune should look at.
    pub touched: Vec<ProviderId>,
}

fn short(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The entry of an observed request: the path's secret-looking query values masked; for a
/// failure, the body masked and cut, and the detail scrubbed of what the masks took out.
fn entry(r: &ObservedRequest<'_>, time: Timestamp) -> LogEntry {
    let (path, mut secrets) = mask::path(r.path);
    let body = if r.failed {
        let masked = mask::body(r.body);
        secrets.extend(masked.secrets);
        masked.text
    } else {
        None
    };
    LogEntry {
        seq: 0,
        provider: r.provider.to_owned(),
        time,
        method: r.method.to_owned(),
        path,
        status: r.status,
        failed: r.failed,
        latency_us: i64::try_from(r.latency.as_micros()).unwrap_or(i64::MAX),
        request_id: r.request_id.to_owned(),
        client: r.client.to_string(),
        user_agent: r.user_agent.map(|u| short(u, MAX_USER_AGENT)),
        scim_type: r.scim_type.map(str::to_owned),
        detail: r.detail.map(|d| mask::scrub(d, &secrets)),
        body,
    }
}

/// Of one flush's entries (in time order), keep at most each provider's budget of failures
/// and of successes, the newest: a burst larger than the budget is pruned before it is
/// written.
fn trim(mut entries: Vec<LogEntry>, budget: impl Fn(&str, bool) -> u64) -> Vec<LogEntry> {
    let mut keep: Vec<bool> = {
        let mut seen: HashMap<(&str, bool), u64> = HashMap::new();
        entries
            .iter()
            .rev()
            .map(|e| {
                let n = seen.entry((e.provider.as_str(), e.failed)).or_insert(0);
                *n += 1;
                *n <= budget(&e.provider, e.failed)
            })
            .collect()
    };
    keep.reverse();
    let mut kept = keep.into_iter();
    entries.retain(|_| kept.next().unwrap_or(true));
    entries
}

/// Each provider's latest outcomes in `entries` (time order): a bit each, newest lowest.
fn recent_outcomes(entries: &[LogEntry]) -> HashMap<&str, (i64, i64)> {
    let mut out: HashMap<&str, (i64, i64)> = HashMap::new();
    for e in entries {
        let (bits, count) = out.entry(e.provider.as_str()).or_insert((0, 0));
        *bits = ((*bits << 1) | i64::from(e.failed)) & ((1 << RECENT) - 1);
        *count = (*count + 1).min(i64::from(RECENT));
    }
    out
}

impl Core {
    /// Give the core the server's log settings (once; later calls change nothing). Until
    /// then, as in every command but `serve`, nothing is recorded.
    pub fn configure_log(&self, config: LogConfig) {
        let _ = self.log.config.set(config);
    }

    /// Is this process recording the provisioning log?
    pub fn logging_requests(&self) -> bool {
        self.log.recording()
    }

    /// Entries queued and not yet written.
    pub fn log_queued(&self) -> usize {
        self.log.pending().entries.len()
    }

    /// Queue an authenticated request for the log. Never waits on the database.
    pub fn log_request(&self, r: &ObservedRequest<'_>) {
        if !self.log.recording() {
            return;
        }
        let latency_ms = i64::try_from(r.latency.as_millis()).unwrap_or(0);
        let time = Timestamp(self.clock.now().0 - latency_ms);
        if self.log.pending().entries.len() >= MAX_PENDING {
            self.log.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Masking happens outside the lock.
        let mut e = entry(r, time);
        let mut pending = self.log.pending();
        if pending.entries.len() >= MAX_PENDING {
            drop(pending);
            self.log.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let size = e.body.as_ref().map_or(0, String::len);
        if pending.body_bytes + size > MAX_PENDING_BODIES {
            e.body = Some("[not kept: more failing requests at once than the log holds]".into());
        } else {
            pending.body_bytes += size;
        }
        pending.entries.push(e);
    }

    /// Count a request refused before authentication at the Base URL of `provider` (the
    /// path's segment: it may name no provider, and then it is not counted).
    pub fn count_unauthenticated(&self, provider: &str) {
        if !self.log.recording() || ProviderId::parse(provider).is_err() {
            return;
        }
        let now = self.clock.now();
        let mut pending = self.log.pending();
        let full = pending.unauthenticated.len() >= MAX_UNAUTHENTICATED_KEYS;
        match pending.unauthenticated.get_mut(provider) {
            Some((n, last)) => {
                *n += 1;
                *last = now;
            }
            None if !full => {
                pending.unauthenticated.insert(provider.to_owned(), (1, now));
            }
            None => {}
        }
    }

    /// Write what was queued since the last flush, in one transaction. Call it a second
    /// apart, and once more at shutdown after the last request.
    pub async fn flush_log(&self) -> Result<FlushReport, CoreError> {
        let taken = std::mem::take(&mut *self.log.pending());
        let mut report = FlushReport::default();
        if taken.entries.is_empty() && taken.unauthenticated.is_empty() {
            report.dropped = self.log.dropped.swap(0, Ordering::Relaxed);
            return Ok(report);
        }
        let lost = taken.entries.len() as u64;
        let providers = match self.store.providers().await {
            Ok(p) => p,
            Err(e) => {
                self.log.dropped.fetch_add(lost, Ordering::Relaxed);
                return Err(e.into());
            }
        };
        let config = self.log.config();
        let limits: HashMap<&str, super::LogLimits> = providers
            .iter()
            .map(|p| (p.id.as_str(), config.limits.with(&p.settings.log)))
            .collect();
        let mut entries = taken.entries;
        // A provider deleted meanwhile keeps no log.
        entries.retain(|e| limits.contains_key(e.provider.as_str()));
        entries.sort_by_key(|e| e.time);
        let mut stats: HashMap<String, StatsDelta> = HashMap::new();
        for (provider, (bits, count)) in recent_outcomes(&entries) {
            stats.insert(
                provider.to_owned(),
                StatsDelta {
                    provider: provider.to_owned(),
                    unauthenticated: 0,
                    last_unauthenticated: None,
                    recent: bits,
                    recent_count: count,
                },
            );
        }
        for (provider, (n, last)) in taken.unauthenticated {
            if !limits.contains_key(provider.as_str()) {
                continue;
            }
            report.unauthenticated.push((provider.clone(), n));
            let s = stats.entry(provider.clone()).or_insert_with(|| StatsDelta {
                provider,
                unauthenticated: 0,
                last_unauthenticated: None,
                recent: 0,
                recent_count: 0,
            });
            s.unauthenticated = n;
            s.last_unauthenticated = Some(last);
        }
        let entries = trim(entries, |p, failed| limits.get(p).map_or(0, |l| l.max(failed)));
        let mut touched: Vec<ProviderId> = providers
            .iter()
            .filter(|p| entries.iter().any(|e| e.provider == p.id.as_str()))
            .map(|p| p.id.clone())
            .collect();
        touched.sort();
        let written = entries.len() as u64;
        let batch = LogBatch {
            entries,
            stats: stats.into_values().collect(),
        };
        if let Err(e) = self.store.append_log(batch).await {
            self.log.dropped.fetch_add(lost, Ordering::Relaxed);
            return Err(e.into());
        }
        report.written = written;
        report.touched = touched;
        report.dropped = self.log.dropped.swap(0, Ordering::Relaxed);
        Ok(report)
    }

    /// Apply the retention: each provider's failures older than its retention or beyond its
    /// count, and successes beyond theirs, deleted a bounded number of rows at a time. Of
    /// `only` these providers (those a flush wrote to), or of all. Returns how many went.
    pub async fn prune_log(&self, only: Option<&[ProviderId]>) -> Result<u64, CoreError> {
        let config = self.log.config();
        let now = self.clock.now();
        let mut pruned = 0;
        for p in self.store.providers().await? {
            if only.is_some_and(|o| !o.contains(&p.id)) {
                continue;
            }
            let limits = config.limits.with(&p.settings.log);
            let mut round = 0;
            loop {
                let (n, more) = self.store.prune_log(&p.id, &limits, now, PRUNE_CHUNK).await?;
                round += n;
                if !more || round >= PRUNE_ROUND {
                    break;
                }
            }
            pruned += round;
        }
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(provider: &str, failed: bool, n: i64) -> LogEntry {
        LogEntry {
            seq: 0,
            provider: provider.into(),
            time: Timestamp(n),
            method: "GET".into(),
            path: format!("/Users/{n}"),
            status: if failed { 400 } else { 200 },
            failed,
            latency_us: 1,
            request_id: "r".into(),
            client: "127.0.0.1".into(),
            user_agent: None,
            scim_type: None,
            detail: None,
            body: None,
        }
    }

    #[test]
    fn a_burst_keeps_the_newest_of_each_budget_and_successes_never_displace_failures() {
        let mut batch = vec![e("a", true, 0)];
        batch.extend((1..=10).map(|n| e("a", false, n)));
        batch.push(e("b", false, 11));
        let kept = trim(batch, |p, failed| match (p, failed) {
            ("a", false) => 3,
            _ => 1,
        });
        let times: Vec<i64> = kept.iter().map(|e| e.time.0).collect();
        assert_eq!(times, vec![0, 8, 9, 10, 11]);
    }

    #[test]
    fn recent_outcomes_keep_the_last_ten_newest_lowest() {
        let mut batch: Vec<LogEntry> = (0..12).map(|n| e("a", n < 4, n)).collect();
        batch.push(e("b", true, 20));
        let r = recent_outcomes(&batch);
        // The last ten of "a": two failures (2 and 3) then eight successes.
        assert_eq!(r.get("a"), Some(&(0b11_0000_0000, 10)));
        assert_eq!(r.get("b"), Some(&(1, 1)));
    }

    #[test]
    fn an_entry_masks_its_query_body_and_detail() {
        let body = br#"{"userName":"ada","password":"hunter2-long"}"#;
        let r = ObservedRequest {
            provider: "okta",
            method: "POST",
            path: "/Users?access_token=abcdefgh",
            status: 400,
            failed: true,
            latency: Duration::from_micros(1500),
            request_id: "req-1",
            client: IpAddr::from([10, 0, 0, 1]),
            user_agent: Some("Okta SCIM Client 1.0.0"),
            scim_type: Some("invalidValue"),
            detail: Some("'hunter2-long' is not allowed"),
            body,
        };
        let x = entry(&r, Timestamp(5));
        assert_eq!(x.path, "/Users?access_token=********");
        assert_eq!(x.detail.as_deref(), Some("'********' is not allowed"));
        assert_eq!(x.body.as_deref(), Some(r#"{"userName":"ada","password":"********"}"#));
        assert_eq!(x.latency_us, 1500);
        let ok = entry(
            &ObservedRequest {
                failed: false,
                status: 200,
                ..r
            },
            Timestamp(5),
        );
        assert_eq!(ok.body, None, "successful bodies are not kept");
    }
}
