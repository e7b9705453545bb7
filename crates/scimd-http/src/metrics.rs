//! Prometheus metrics (text exposition format 0.0.4) at `/metrics`: requests by route
//! template and status, latency histograms, token issuance and failures by provider,
//! provisioning operations by provider and kind, the seconds left on each provider's
//! newest token, and the database pool's use. Hand-rolled: a handful of counters do not need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    tokens_issued: BTreeMap<String, u64>,
    token_failures: BTreeMap<(String, String), u64>,
    provisioning: BTreeMap<(String, String, String), u64>,
}

/// The process's metrics. Counters are per process: Prometheus adds up instances.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn token_issued(&self, provider: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.tokens_issued.entry(provider.to_owned()).or_default() += 1;
        }
    }

    /// `provider`: the provider the client id names, or empty when it names none.
    /// `reason`: invalid_client, unauthorized_client, rate_limited, invalid_request, ...
    pub fn token_failed(&self, provider: &str, reason: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.token_failures
                .entry((provider.to_owned(), reason.to_owned()))
                .or_default() += 1;
        }
    }

    pub fn provisioned(&self, provider: &str, kind: &str, operation: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.provisioning
                .entry((provider.to_owned(), kind.to_owned(), operation.to_owned()))
                .or_default() += 1;
        }
    }

    fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.inner.lock() {
            *m.requests
                .entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
            let h = m.latency.entry(route.to_owned()).or_default();
            h.count += 1;
            h.sum += seconds;
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
        }
    }

    fn render(&self, out: &mut String) {
        let Ok(m) = self.inner.lock() else { return };
        let _ = writeln!(
            out,
            "# HELP scimd_http_requests_total HTTP requests by route template, method and status."
        );
        let _ = writeln!(out, "# TYPE scimd_http_requests_total counter");
        for ((route, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "scimd_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                esc(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP scimd_http_request_duration_seconds Time to answer a request, by route template."
        );
        let _ = writeln!(out, "# TYPE scimd_http_request_duration_seconds histogram");
        for (route, h) in &m.latency {
            let route = esc(route);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "scimd_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "scimd_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "scimd_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "scimd_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP scimd_tokens_issued_total Access tokens issued, by provider."
        );
        let _ = writeln!(out, "# TYPE scimd_tokens_issued_total counter");
        for (p, n) in &m.tokens_issued {
            let _ = writeln!(out, "scimd_tokens_issued_total{{provider=\"{}\"}} {n}", esc(p));
        }
        let _ = writeln!(
            out,
            "# HELP scimd_token_failures_total Refused token requests, by provider (empty: the client id names none) and reason."
        );
        let _ = writeln!(out, "# TYPE scimd_token_failures_total counter");
        for ((p, r), n) in &m.token_failures {
            let _ = writeln!(
                out,
                "scimd_token_failures_total{{provider=\"{}\",reason=\"{}\"}} {n}",
                esc(p),
                esc(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP scimd_provisioning_operations_total SCIM operations answered with success, by provider, resource kind and operation."
        );
        let _ = writeln!(out, "# TYPE scimd_provisioning_operations_total counter");
        for ((p, k, o), n) in &m.provisioning {
            let _ = writeln!(
                out,
                "scimd_provisioning_operations_total{{provider=\"{}\",kind=\"{k}\",operation=\"{o}\"}} {n}",
                esc(p)
            );
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Count and time every request under its route template (never the raw path: ids would
/// make every user a time series).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .request(&route, &method, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(4096);
    state.metrics.render(&mut out);
    // Seconds until each provider's newest live token expires: an Okta token that lapses
    // silently stops provisioning, so this is what to alert on.
    let now = state.core.now();
    if let Ok(providers) = state.core.providers().await {
        let _ = writeln!(
            out,
            "# HELP scimd_provider_token_expiry_seconds Seconds until the provider's longest-lived live token expires (negative: none live)."
        );
        let _ = writeln!(out, "# TYPE scimd_provider_token_expiry_seconds gauge");
        for p in providers {
            let left = match state.core.tokens(p.id.as_str()).await {
                Ok(tokens) => {
                    scimd_core::token::latest_live_expiry(&tokens, now).map_or(-1, |e| e.seconds() - now.seconds())
                }
                Err(_) => continue,
            };
            let _ = writeln!(
                out,
                "scimd_provider_token_expiry_seconds{{provider=\"{}\"}} {left}",
                esc(p.id.as_str())
            );
        }
    }
    if let Some(pool) = state.core.store().pool_stats() {
        let _ = writeln!(
            out,
            "# HELP scimd_db_connections Database connections by state (SQLite: the pool for longer reads; writes have one connection of their own)."
        );
        let _ = writeln!(out, "# TYPE scimd_db_connections gauge");
        let _ = writeln!(out, "scimd_db_connections{{state=\"in_use\"}} {}", pool.in_use);
        let _ = writeln!(out, "scimd_db_connections{{state=\"idle\"}} {}", pool.idle);
        let _ = writeln!(
            out,
            "# HELP scimd_db_pool_size Most database connections the pool opens."
        );
        let _ = writeln!(out, "# TYPE scimd_db_pool_size gauge");
        let _ = writeln!(out, "scimd_db_pool_size {}", pool.size);
    }
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
