//! The deliverer: one task per push subscription, each delivering while this instance
//! holds the subscription's lease (several instances on one database take turns, and one
//! takes over within 10 s when the holder dies), woken by changes appended here or every
//! half second for those appended elsewhere; and the pruner that applies retention.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scimd_core::Core;
use scimd_core::events::service::EventsConfig;
use scimd_core::events::subscription::State;
use scimd_core::events::transport::{Answer, Outgoing, SendError, Transport, in_order};
use scimd_http::metrics::Metrics;
use tokio::task::JoinHandle;

use crate::config::Settings;

/// A lease lasts this long and is renewed at a third of it, so a dead holder's lease runs
/// out, and another instance takes the subscription, within this much.
const LEASE: Duration = Duration::from_secs(8);
const RENEW: Duration = Duration::from_millis(2500);
/// How often each subscription looks for events appended by other instances, and retries.
const IDLE: Duration = Duration::from_millis(500);
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Above this many requests a second the server is busy: delivery pauses this long between
/// pages, leaving the cores to the identity providers' requests, and catches up after.
const BUSY_RATE: f64 = 1000.0;
const YIELD: Duration = Duration::from_millis(500);

/// Start delivering; runs until the process ends.
pub fn start(core: Arc<Core>, metrics: Arc<Metrics>, holder: String) -> JoinHandle<()> {
    tokio::spawn(supervise(core, metrics, holder))
}

/// This instance's name in the database's leases: host and process id say which instance
/// delivers a subscription or runs a job.
pub fn holder() -> String {
    format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        scimd_core::crypto::random_alphanumeric(6)
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "scimd".into())
}

/// Keep one task per active push subscription; prune now and then.
async fn supervise(core: Arc<Core>, metrics: Arc<Metrics>, holder: String) {
    let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut pruned = tokio::time::Instant::now();
    loop {
        match core.subscriptions().await {
            Ok(list) => {
                tasks.retain(|_, t| !t.is_finished());
                for s in list.into_iter().filter(|s| s.state == State::Active && !s.is_poll()) {
                    tasks.entry(s.id.clone()).or_insert_with(|| {
                        tokio::spawn(deliver(Arc::clone(&core), Arc::clone(&metrics), holder.clone(), s.id))
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read subscriptions"),
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = tokio::time::Instant::now();
            match core.prune_events().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "pruned change events past retention"),
                Err(e) => tracing::warn!(error = %e, "cannot prune change events"),
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Deliver one subscription while it is active and this instance holds its lease.
async fn deliver(core: Arc<Core>, metrics: Arc<Metrics>, holder: String, id: String) {
    let mut appended = core.appended();
    let mut renewed: Option<tokio::time::Instant> = None;
    let mut load = (tokio::time::Instant::now(), metrics.served());
    loop {
        if renewed.is_none_or(|at| at.elapsed() >= RENEW) {
            match core.take_lease(&id, &holder, LEASE).await {
                Ok(true) => renewed = Some(tokio::time::Instant::now()),
                Ok(false) => {
                    // Another instance delivers it (or it was paused or removed).
                    renewed = None;
                    match core.subscription(&id).await {
                        Ok(s) if s.state == State::Active => {}
                        _ => return,
                    }
                    tokio::time::sleep(RENEW).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %e, "cannot take the delivery lease");
                    tokio::time::sleep(RENEW).await;
                    continue;
                }
            }
        }
        let s = match core.subscription(&id).await {
            Ok(s) if s.state == State::Active => s,
            Ok(_) => return,
            Err(scimd_core::CoreError::NotFound(_)) => return,
            Err(e) => {
                tracing::warn!(subscription = %id, error = %e, "cannot read the subscription");
                tokio::time::sleep(IDLE).await;
                continue;
            }
        };
        match core.deliver_round(&s, &holder).await {
            Ok(round) => {
                metrics.delivered(&id, round.delivered, round.failed, round.dead_lettered);
                if round.stop {
                    renewed = None;
                    continue;
                }
                if round.delivered > 0 && busy(&metrics, &mut load) {
                    tokio::time::sleep(YIELD).await;
                    continue;
                }
                if round.more {
                    continue;
                }
            }
            Err(e) => tracing::warn!(subscription = %id, error = %e, "delivery round failed"),
        }
        let _ = tokio::time::timeout(IDLE, appended.changed()).await;
    }
}

/// Whether the server answered more than [`BUSY_RATE`] requests a second since `load` was
/// taken (then taken again).
fn busy(metrics: &Metrics, load: &mut (tokio::time::Instant, u64)) -> bool {
    let (at, served) = *load;
    let now = (tokio::time::Instant::now(), metrics.served());
    let seconds = now.0.duration_since(at).as_secs_f64();
    if seconds < 0.05 {
        return false;
    }
    *load = now;
    (now.1.saturating_sub(served)) as f64 / seconds > BUSY_RATE
}

/// Receivers over HTTP(S), refused at untrusted addresses (`scimd_client::receiver`); the
/// blocking client runs off the async workers.
struct HttpTransport {
    receivers: scimd_client::receiver::Receivers,
    policy: scimd_client::receiver::ReceiverPolicy,
}

#[async_trait::async_trait]
impl Transport for HttpTransport {
    async fn check_url(&self, url: &str) -> Result<(), String> {
        let (url, policy) = (url.to_owned(), self.policy.clone());
        tokio::task::spawn_blocking(move || scimd_client::receiver::check_url(&url, &policy))
            .await
            .map_err(|e| format!("the address check stopped: {e}"))?
    }

    /// The whole page on one blocking thread: a hand-off per event would cost more than
    /// the request on a local network.
    async fn post_all(&self, url: &str, requests: Vec<Outgoing>) -> Vec<Result<Answer, SendError>> {
        let (receivers, url) = (self.receivers.clone(), url.to_owned());
        let sent = tokio::task::spawn_blocking(move || {
            in_order(requests, |r| {
                answer(receivers.post(&url, r.content_type, &r.headers, &r.body))
            })
        })
        .await;
        sent.unwrap_or_else(|e| vec![Err(SendError::Network(format!("the delivery stopped: {e}")))])
    }
}

/// The receiver client's outcome in the core's terms.
fn answer(
    sent: Result<scimd_client::receiver::Answer, scimd_client::receiver::SendError>,
) -> Result<Answer, SendError> {
    use scimd_client::receiver::SendError as Wire;
    match sent {
        Ok(a) => Ok(Answer {
            status: a.status,
            retry_after: a.retry_after,
            body: a.body,
            latency: a.latency,
        }),
        Err(Wire::Network(e)) => Err(SendError::Network(e)),
        Err(Wire::Refused(e) | Wire::Invalid(e)) => Err(SendError::Refused(e)),
    }
}

/// Give `core` what it needs to make subscriptions and deliver: the receivers' policy, the
/// public URL, and the delivery settings.
pub fn configure(core: &Core, settings: &Settings, public_url: &str) {
    let policy = scimd_client::receiver::ReceiverPolicy::new(settings.receiver_allow.clone());
    let transport = HttpTransport {
        receivers: scimd_client::receiver::Receivers::new(
            policy.clone(),
            scimd_client::receiver::DEFAULT_TIMEOUT,
            None,
        ),
        policy,
    };
    let mut config = EventsConfig::new(Arc::new(transport), public_url);
    config.give_up = settings.delivery_give_up;
    config.first_retry = settings.delivery_first_retry;
    config.retention = settings.event_retention;
    core.configure_events(config);
}
