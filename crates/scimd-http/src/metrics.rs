//! Metrics at `/metrics` in the OpenMetrics text format (what Prometheus scrapes), with the
//! `prometheus-client` crate: requests by route template and status, latency histograms,
//! token issuance and failures by provider, provisioning operations by provider and kind,
//! the seconds left on each provider's newest token, the database pool's use, and the
//! provisioning log (entries written and dropped, requests refused before authentication by
//! provider). Counters are per process: Prometheus adds up instances.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    provider: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    provider: String,
    kind: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabels {
    subscription: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    subscription: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The process's metrics and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    tokens_issued: Family<ProviderLabels, Counter>,
    token_failures: Family<FailureLabels, Counter>,
    provisioning: Family<OperationLabels, Counter>,
    token_expiry: Family<ProviderLabels, Gauge>,
    db_connections: Family<StateLabels, Gauge>,
    db_pool_size: Gauge,
    storage_full: Gauge,
    stream_position: Family<ProviderLabels, Gauge>,
    deliveries: Family<DeliveryLabels, Counter>,
    lag_events: Family<SubscriptionLabels, Gauge>,
    lag_seconds: Family<SubscriptionLabels, Gauge>,
    log_written: Counter,
    log_dropped: Counter,
    unauthenticated: Family<ProviderLabels, Counter>,
    access_expiring: Family<ProviderLabels, Gauge>,
    /// Requests answered since the start, for background work that yields to a busy server.
    served: std::sync::atomic::AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            tokens_issued: Family::default(),
            token_failures: Family::default(),
            provisioning: Family::default(),
            token_expiry: Family::default(),
            db_connections: Family::default(),
            db_pool_size: Gauge::default(),
            storage_full: Gauge::default(),
            stream_position: Family::default(),
            deliveries: Family::default(),
            lag_events: Family::default(),
            lag_seconds: Family::default(),
            log_written: Counter::default(),
            log_dropped: Counter::default(),
            unauthenticated: Family::default(),
            access_expiring: Family::default(),
            served: std::sync::atomic::AtomicU64::new(0),
            registry: Registry::default(),
        };
        // name, help, metric: the names are the ones dashboards and alerts already use.
        registry.register(
            "scimd_http_requests",
            "HTTP requests by route template, method and status",
            m.requests.clone(),
        );
        registry.register(
            "scimd_http_request_duration_seconds",
            "Time to answer a request, by route template",
            m.latency.clone(),
        );
        registry.register(
            "scimd_tokens_issued",
            "Access tokens issued, by provider",
            m.tokens_issued.clone(),
        );
        registry.register(
            "scimd_token_failures",
            "Refused token requests, by provider (empty: the client id names none) and reason",
            m.token_failures.clone(),
        );
        registry.register(
            "scimd_provisioning_operations",
            "SCIM operations answered with success, by provider, resource kind and operation",
            m.provisioning.clone(),
        );
        registry.register(
            "scimd_provider_token_expiry_seconds",
            "Seconds until the provider's longest-lived live token expires (negative: none live)",
            m.token_expiry.clone(),
        );
        registry.register("scimd_db_connections", "Database connections by state (SQLite: the pool for longer reads; writes have one connection of their own)", m.db_connections.clone());
        registry.register(
            "scimd_storage_full",
            "1 while the database's storage is full (writes answered 503 until space returns), else 0",
            m.storage_full.clone(),
        );
        registry.register(
            "scimd_db_pool_size",
            "Most database connections the pool opens",
            m.db_pool_size.clone(),
        );
        registry.register(
            "scimd_event_stream_position",
            "The newest change event's position in each provider's stream: its rate is events appended per second, over every instance",
            m.stream_position.clone(),
        );
        registry.register(
            "scimd_event_deliveries",
            "Change events sent by this instance, by subscription and outcome (delivered, failed, dead_lettered)",
            m.deliveries.clone(),
        );
        registry.register(
            "scimd_subscription_lag_events",
            "Change events a subscription has not yet delivered",
            m.lag_events.clone(),
        );
        registry.register(
            "scimd_subscription_lag_seconds",
            "Age of the oldest change event a subscription has not yet delivered",
            m.lag_seconds.clone(),
        );
        registry.register(
            "scimd_provisioning_log_written",
            "Entries this instance wrote to the providers' provisioning logs",
            m.log_written.clone(),
        );
        registry.register(
            "scimd_provisioning_log_dropped",
            "Entries of the provisioning log this instance lost: more requests at once than its queue holds, or a failed write",
            m.log_dropped.clone(),
        );
        registry.register(
            "scimd_unauthenticated_requests",
            "Requests at a provider's Base URL refused before authentication (no token, or an invalid, expired, revoked or other provider's one), by provider",
            m.unauthenticated.clone(),
        );
        registry.register(
            "scimd_access_expiring_users",
            "Users of each provider with an access lifetime whose access ends within 14 days (not yet ended)",
            m.access_expiring.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn token_issued(&self, provider: &str) {
        self.tokens_issued
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .inc();
    }

    /// `provider`: the provider the client id names, or empty when it names none.
    /// `reason`: invalid_client, unauthorized_client, rate_limited, invalid_request, ...
    pub fn token_failed(&self, provider: &str, reason: &str) {
        self.token_failures
            .get_or_create(&FailureLabels {
                provider: provider.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn provisioned(&self, provider: &str, kind: &str, operation: &str) {
        self.provisioning
            .get_or_create(&OperationLabels {
                provider: provider.to_owned(),
                kind: kind.to_owned(),
                operation: operation.to_owned(),
            })
            .inc();
    }

    /// What a round of delivery did for `subscription`.
    pub fn delivered(&self, subscription: &str, delivered: u64, failed: u64, dead_lettered: u64) {
        for (outcome, n) in [
            ("delivered", delivered),
            ("failed", failed),
            ("dead_lettered", dead_lettered),
        ] {
            if n > 0 {
                self.deliveries
                    .get_or_create(&DeliveryLabels {
                        subscription: subscription.to_owned(),
                        outcome,
                    })
                    .inc_by(n);
            }
        }
    }

    /// What a flush of the provisioning log did.
    pub fn log_flushed(&self, written: u64, dropped: u64, unauthenticated: &[(String, u64)]) {
        self.log_written.inc_by(written);
        self.log_dropped.inc_by(dropped);
        for (provider, n) in unauthenticated {
            self.unauthenticated
                .get_or_create(&ProviderLabels {
                    provider: provider.clone(),
                })
                .inc_by(*n);
        }
    }

    /// Requests answered since the start.
    pub fn served(&self) -> u64 {
        self.served.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn request(&self, route: String, method: &str, status: u16, seconds: f64) {
        self.served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.latency
            .get_or_create(&RouteLabels { route: route.clone() })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method: method.to_owned(),
                status,
            })
            .inc();
    }
}

/// Count and time every request under its route template (never the raw path: ids would
/// make every user a time series).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    state.metrics.request(
        route,
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    // Seconds until each provider's newest live token expires: an Okta token that lapses
    // silently stops provisioning, so this is what to alert on. Read at each scrape.
    let now = state.core.now();
    if let Ok(providers) = state.core.providers().await {
        m.token_expiry.clear();
        m.access_expiring.clear();
        // Every provider whose users' access ends has a value, zero included.
        let ending = state.core.access_ending_counts().await.unwrap_or_default();
        for p in providers.iter().filter(|p| p.settings.access_ttl_seconds.is_some()) {
            let n = ending.iter().find(|(id, _)| id == p.id.as_str()).map_or(0, |(_, n)| *n);
            m.access_expiring
                .get_or_create(&ProviderLabels {
                    provider: p.id.as_str().to_owned(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for p in providers {
            if let Ok(tokens) = state.core.tokens(p.id.as_str()).await {
                let left =
                    scimd_core::token::latest_live_expiry(&tokens, now).map_or(-1, |e| e.seconds() - now.seconds());
                m.token_expiry
                    .get_or_create(&ProviderLabels {
                        provider: p.id.as_str().to_owned(),
                    })
                    .set(left);
            }
        }
    }
    if let Ok(heads) = state.core.stream_heads().await {
        for (provider, head, _) in heads {
            m.stream_position.get_or_create(&ProviderLabels { provider }).set(head);
        }
    }
    if let Ok(subscriptions) = state.core.subscriptions().await {
        m.lag_events.clear();
        m.lag_seconds.clear();
        for s in subscriptions {
            if let Ok(lag) = state.core.lag(&s).await {
                let labels = SubscriptionLabels { subscription: s.id };
                m.lag_events.get_or_create(&labels).set(lag.events);
                m.lag_seconds.get_or_create(&labels).set(lag.seconds);
            }
        }
    }
    m.storage_full.set(i64::from(state.core.storage_full()));
    if let Some(pool) = state.core.pool_stats() {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        m.db_connections
            .get_or_create(&StateLabels { state: "in_use" })
            .set(count(pool.in_use));
        m.db_connections
            .get_or_create(&StateLabels { state: "idle" })
            .set(count(pool.idle));
        m.db_pool_size.set(count(pool.size));
    }
    let mut out = String::with_capacity(8192);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &m.registry) {
        tracing::error!(error = %e, "cannot encode the metrics");
    }
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}
