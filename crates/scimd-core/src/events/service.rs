//! What administrators and the server do with change events: subscriptions made, paused,
//! replayed; a round of delivery to one push subscription; an RFC 8936 poll; the keys that
//! sign Security Event Tokens.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use super::set::{self, SigningKey};
use super::subscription::{
    Attempt, Cursor, DeadLetter, EventQuery, Format, Progress, SigningKeyRecord, State, Subscription,
};
use super::transport::{Outgoing, SendError, Transport};
use super::webhook::{self, WebhookSecret};
use super::{ChangeEvent, EventType, Payload};
use crate::audit::{Actor, AuditEvent};
use crate::clock::Timestamp;
use crate::crypto;
use crate::error::CoreError;
use crate::provider::{Population, ProviderId};
use crate::service::Core;
use crate::views::Urls;

/// How the server delivers: where it is, how it reaches receivers, how long it tries.
pub struct EventsConfig {
    pub transport: Arc<dyn Transport>,
    pub urls: Urls,
    /// An event that keeps failing is dead-lettered after this long (3 days).
    pub give_up: Duration,
    /// The first retry's delay; each next one doubles it, up to `max_retry` (with jitter).
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// A permanent refusal (a 4xx other than 408, 409, 425, 429) is tried this many times.
    pub permanent_attempts: i64,
    /// Events are kept this long (7 days) ...
    pub retention: Duration,
    /// ... and up to this long (30 days) while a subscription has not delivered them.
    pub hold_limit: Duration,
}

impl EventsConfig {
    pub fn new(transport: Arc<dyn Transport>, public_url: &str) -> Self {
        EventsConfig {
            transport,
            urls: Urls::new(public_url),
            give_up: Duration::from_secs(3 * 24 * 3600),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(3600),
            permanent_attempts: 5,
            retention: Duration::from_secs(7 * 24 * 3600),
            hold_limit: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// The events part of [`Core`]: its configuration (absent in commands that deliver
/// nothing), the signal that changes were appended, and the signing key last opened.
#[derive(Default)]
pub struct EventsState {
    config: OnceLock<EventsConfig>,
    appended: tokio::sync::watch::Sender<u64>,
    key: Mutex<Option<Arc<SigningKey>>>,
}

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub format: Format,
    pub url: Option<String>,
    pub providers: Vec<String>,
    pub population: Option<Population>,
    pub events: Vec<EventType>,
    pub payload: Payload,
}

/// A subscription just made, with what is shown only now.
#[derive(Debug, Clone)]
pub struct CreatedSubscription {
    pub subscription: Subscription,
    /// The webhook signing secret, `whsec_...`.
    pub secret: Option<String>,
    /// The RFC 8936 poll token.
    pub poll_token: Option<String>,
}

/// How far behind a subscription is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lag {
    /// Events not yet delivered (or acknowledged), over the providers it covers.
    pub events: i64,
    /// Age of the oldest of them, in seconds.
    pub seconds: i64,
}

/// What one round of delivery did.
#[derive(Debug, Clone, Default)]
pub struct Round {
    pub delivered: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    /// Worth another round at once: a page came back full and went through.
    pub more: bool,
    /// The lease was lost, or the subscription paused or gone: stop delivering it.
    pub stop: bool,
}

/// An RFC 8936 poll request.
#[derive(Debug, Clone, Default)]
pub struct PollRequest {
    pub ack: Vec<String>,
    /// `setErrs`: SETs the receiver could not process, with its reason (acknowledged too).
    pub errors: Vec<(String, String)>,
    pub max_events: Option<u32>,
    pub return_immediately: bool,
}

#[derive(Debug, Clone, Default)]
pub struct PollAnswer {
    /// `jti` and signed SET, in stream order per provider.
    pub sets: Vec<(String, String)>,
    pub more_available: bool,
}

/// The most SETs one poll answers with.
pub const POLL_MAX: u32 = 1000;
const POLL_DEFAULT: u32 = 100;
/// Events read per provider per round.
const PAGE: u32 = 200;

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Invalid(msg.into())
}

/// A status that will not change on retry (RFC 9110): a 4xx other than 408 Request
/// Timeout, 409 Conflict, 425 Too Early and 429 Too Many Requests.
fn permanent(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 408 | 409 | 425 | 429)
}

/// The first 512 bytes of an answer, as text, for the console.
fn answer_excerpt(body: &[u8]) -> String {
    let end = body.len().min(512);
    String::from_utf8_lossy(&body[..end]).into_owned()
}

/// Of a round's attempts, every failure and the last few successes are recorded: enough to
/// show what happened, without a row per delivered event.
fn keep_recent_successes(attempts: &mut Vec<Attempt>) {
    const SUCCESSES_KEPT: usize = 10;
    let ok = |a: &Attempt| a.status.is_some_and(|s| (200..300).contains(&s));
    let mut successes = attempts.iter().filter(|a| ok(a)).count();
    attempts.retain(|a| {
        if !ok(a) || successes <= SUCCESSES_KEPT {
            return true;
        }
        successes -= 1;
        false
    });
}

impl Core {
    fn events_config(&self) -> Result<&EventsConfig, CoreError> {
        self.events
            .config
            .get()
            .ok_or_else(|| invalid("change events are not configured in this process"))
    }

    /// Give the core its delivery settings (once; later calls change nothing).
    pub fn configure_events(&self, config: EventsConfig) {
        let _ = self.events.config.set(config);
    }

    /// Tell waiting deliverers and pollers that changes were appended.
    pub(crate) fn announce(&self) {
        self.events.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that wakes when changes are appended in this process.
    pub fn appended(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events.appended.subscribe()
    }

    // ----- subscriptions -------------------------------------------------------------

    pub async fn add_subscription(
        &self,
        new: NewSubscription,
        actor: &Actor,
    ) -> Result<CreatedSubscription, CoreError> {
        let config = self.events_config()?;
        match (&new.format, &new.url) {
            (Format::Webhook, None) => {
                return Err(invalid(
                    "a webhook subscription needs the url events are POSTed to (--url)",
                ));
            }
            (_, Some(url)) => config.transport.check_url(url).await.map_err(invalid)?,
            (Format::Set, None) => {}
        }
        for p in &new.providers {
            let id = ProviderId::parse(p).map_err(invalid)?;
            if self.store.provider(&id).await?.is_none() {
                return Err(CoreError::NotFound(format!("provider '{p}'")));
            }
        }
        let id = format!("sub_{}", crypto::random_alphanumeric(16).to_lowercase());
        let mut s = Subscription {
            id,
            format: new.format,
            url: new.url,
            providers: new.providers,
            population: new.population,
            events: new.events,
            payload: new.payload,
            secret: None,
            old_secret: None,
            old_until: None,
            poll_hash: None,
            state: State::Active,
            state_reason: None,
            created: self.now(),
            last_success: None,
            last_error: None,
            last_error_at: None,
        };
        let mut created = CreatedSubscription {
            subscription: s.clone(),
            secret: None,
            poll_token: None,
        };
        if s.format == Format::Webhook {
            let secret = WebhookSecret::generate();
            s.secret = Some(self.secrets.seal(secret.as_bytes(), s.id.as_bytes()));
            created.secret = Some(secret.to_whsec());
        }
        if s.is_poll() {
            let token = format!("scimd_poll_{}", crypto::random_alphanumeric(40));
            s.poll_hash = Some(crypto::sha256(token.as_bytes()).to_vec());
            created.poll_token = Some(token);
        }
        let event = self.subscription_event(actor, "subscription.create", &s.id);
        self.store.create_subscription(&s, &event).await?;
        created.subscription = s;
        Ok(created)
    }

    fn subscription_event(&self, actor: &Actor, action: &str, id: &str) -> AuditEvent {
        AuditEvent::new(self.now(), actor, action).resource(format!("Subscription/{id}"))
    }

    pub async fn subscription(&self, id: &str) -> Result<Subscription, CoreError> {
        self.store
            .subscription(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("subscription '{id}'")))
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, CoreError> {
        Ok(self.store.subscriptions().await?)
    }

    /// Whether a SET subscription, pushed or polled, takes events of `provider` (of
    /// `population`): what RFC 9967 §4 calls being configured for Security Events.
    pub async fn sets_configured(&self, provider: &str, population: Population) -> Result<bool, CoreError> {
        Ok(self
            .store
            .subscriptions()
            .await?
            .iter()
            .any(|s| s.format == Format::Set && s.covers_stream(provider, population)))
    }

    pub async fn set_subscription_state(
        &self,
        id: &str,
        active: bool,
        actor: &Actor,
    ) -> Result<Subscription, CoreError> {
        let mut s = self.subscription(id).await?;
        (s.state, s.state_reason) = if active {
            (State::Active, None)
        } else {
            (State::Paused, Some(format!("paused by {actor}")))
        };
        let action = if active {
            "subscription.resume"
        } else {
            "subscription.pause"
        };
        let event = self.subscription_event(actor, action, id);
        self.store.update_subscription(&s, &event).await?;
        self.announce();
        Ok(s)
    }

    pub async fn remove_subscription(&self, id: &str, actor: &Actor) -> Result<(), CoreError> {
        let event = self.subscription_event(actor, "subscription.delete", id);
        if self.store.delete_subscription(id, &event).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("subscription '{id}'")))
        }
    }

    /// A new webhook secret; the old one keeps signing alongside it for `overlap`.
    pub async fn rotate_subscription_secret(
        &self,
        id: &str,
        overlap: Duration,
        actor: &Actor,
    ) -> Result<String, CoreError> {
        let mut s = self.subscription(id).await?;
        if s.format != Format::Webhook {
            return Err(invalid(
                "only webhook subscriptions have a secret (SETs are signed with the server's key: scimd events key rotate)",
            ));
        }
        let secret = WebhookSecret::generate();
        s.old_secret = s.secret.take();
        s.old_until = Some(self.now().plus_seconds(overlap.as_secs() as i64));
        s.secret = Some(self.secrets.seal(secret.as_bytes(), s.id.as_bytes()));
        let event = self.subscription_event(actor, "subscription.secret.rotate", id);
        self.store.update_subscription(&s, &event).await?;
        Ok(secret.to_whsec())
    }

    /// Deliver again from `position` (inclusive), of one provider or of all.
    pub async fn replay(
        &self,
        id: &str,
        provider: Option<&str>,
        position: i64,
        actor: &Actor,
    ) -> Result<u64, CoreError> {
        if position < 1 {
            return Err(invalid("positions start at 1"));
        }
        let s = self.subscription(id).await?;
        if let Some(p) = provider
            && !s.covers_provider(p)
        {
            return Err(invalid(format!("subscription '{id}' does not cover provider '{p}'")));
        }
        let event = self
            .subscription_event(actor, "subscription.replay", id)
            .attributes(vec![format!("from={position}")]);
        let n = self.store.rewind(id, provider, position, &event).await?;
        self.announce();
        Ok(n)
    }

    pub async fn deliveries(&self, id: &str, limit: u32) -> Result<Vec<Attempt>, CoreError> {
        self.subscription(id).await?;
        Ok(self.store.attempts(id, limit).await?)
    }

    pub async fn dead_letters(&self, id: &str) -> Result<Vec<DeadLetter>, CoreError> {
        self.subscription(id).await?;
        Ok(self.store.dead_letters(id).await?)
    }

    /// Take the dead letters back into delivery (from the oldest, per provider).
    pub async fn retry_dead_letters(&self, id: &str, actor: &Actor) -> Result<u64, CoreError> {
        self.subscription(id).await?;
        let event = self.subscription_event(actor, "subscription.retry", id);
        let n = self.store.retry_dead_letters(id, &event).await?;
        self.announce();
        Ok(n)
    }

    /// How far behind each subscription is.
    pub async fn lag(&self, s: &Subscription) -> Result<Lag, CoreError> {
        let heads = self.store.stream_heads().await?;
        let cursors = self.store.cursors(&s.id).await?;
        let mut lag = Lag::default();
        let now = self.now();
        for (provider, head, _) in heads.iter().filter(|(p, _, _)| s.covers_provider(p)) {
            let at = cursors
                .iter()
                .find(|c| &c.provider == provider)
                .map_or(0, |c| c.position);
            if *head <= at {
                continue;
            }
            lag.events += head - at;
            let query = EventQuery {
                provider: Some(provider.clone()),
                from: Some(at + 1),
                limit: 1,
                ..EventQuery::default()
            };
            if let Some((_, oldest)) = self.store.events(&query).await?.first() {
                lag.seconds = lag.seconds.max((now.0 - oldest.time.0).max(0) / 1000);
            }
        }
        Ok(lag)
    }

    // ----- streams -------------------------------------------------------------------

    /// A page of events: one provider's from a position, or all, in storage order.
    pub async fn events(&self, query: &EventQuery) -> Result<Vec<(i64, ChangeEvent)>, CoreError> {
        Ok(self.store.events(query).await?)
    }

    pub async fn stream_heads(&self) -> Result<Vec<(String, i64, Timestamp)>, CoreError> {
        Ok(self.store.stream_heads().await?)
    }

    /// Delete what retention allows; returns how many events went.
    pub async fn prune_events(&self) -> Result<u64, CoreError> {
        let config = self.events_config()?;
        let now = self.now();
        let before = Timestamp(now.0 - config.retention.as_millis() as i64);
        let hold_limit = Timestamp(now.0 - config.hold_limit.as_millis() as i64);
        Ok(self.store.prune_events(before, hold_limit).await?)
    }

    // ----- signing keys --------------------------------------------------------------

    /// The key that signs SETs now (made on first use), as the store says: a rotation by
    /// `scimd events key rotate` or another instance is used from the next call on. The
    /// opened key is kept, so an unchanged key costs one read of a small table.
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, CoreError> {
        let keys = self.store.signing_keys().await?;
        let Some(current) = keys.iter().find(|k| k.retires.is_none()) else {
            return Ok(self.keep_key(self.add_key(None, &Actor::System).await?.1));
        };
        if let Ok(cached) = self.events.key.lock()
            && let Some(key) = cached.as_ref()
            && key.kid() == current.kid
        {
            return Ok(Arc::clone(key));
        }
        Ok(self.keep_key(self.open_key(current)?))
    }

    fn keep_key(&self, key: SigningKey) -> Arc<SigningKey> {
        let key = Arc::new(key);
        if let Ok(mut cached) = self.events.key.lock() {
            *cached = Some(Arc::clone(&key));
        }
        key
    }

    fn open_key(&self, k: &SigningKeyRecord) -> Result<SigningKey, CoreError> {
        let pkcs8 = self.secrets.open(&k.sealed, k.kid.as_bytes())?;
        SigningKey::from_pkcs8(&k.kid, &pkcs8).map_err(|e| invalid(format!("signing key {}: {e}", k.kid)))
    }

    async fn add_key(&self, overlap: Option<Duration>, actor: &Actor) -> Result<(String, SigningKey), CoreError> {
        let (key, pkcs8) = SigningKey::generate();
        let now = self.now();
        let record = SigningKeyRecord {
            kid: key.kid().to_owned(),
            sealed: self.secrets.seal(&pkcs8, key.kid().as_bytes()),
            public_jwk: key.public_jwk(),
            created: now,
            retires: None,
        };
        let retire_at = now.plus_seconds(overlap.map_or(0, |o| o.as_secs() as i64));
        let event = AuditEvent::new(now, actor, "events.key.add").resource(format!("Key/{}", record.kid));
        self.store.add_signing_key(&record, retire_at, &event).await?;
        Ok((record.kid, key))
    }

    /// A new signing key; the ones before it stay published for `overlap`, then retire.
    pub async fn rotate_signing_key(&self, overlap: Duration, actor: &Actor) -> Result<String, CoreError> {
        let (kid, key) = self.add_key(Some(overlap), actor).await?;
        self.keep_key(key);
        Ok(kid)
    }

    /// The keys receivers verify SETs with: the current one and those not yet retired.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, CoreError> {
        let now = self.now();
        Ok(self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .filter(|k| k.retires.is_none_or(|r| r > now))
            .collect())
    }

    /// The JSON Web Key Set published at `/.well-known/jwks.json`.
    pub async fn jwks(&self) -> Result<Value, CoreError> {
        if self.signing_keys().await?.is_empty() {
            self.signing_key().await?;
        }
        let keys: Vec<Value> = self.signing_keys().await?.into_iter().map(|k| k.public_jwk).collect();
        Ok(set::jwks(&keys))
    }

    // ----- delivery ------------------------------------------------------------------

    /// The event as it leaves: the resource's location made absolute.
    fn outgoing(&self, config: &EventsConfig, e: &ChangeEvent) -> ChangeEvent {
        let mut e = e.clone();
        if let Some(meta) = e.resource.as_mut().and_then(|r| r.get_mut("meta"))
            && let Some(loc) = meta.get("location").and_then(Value::as_str)
            && loc.starts_with('/')
        {
            let absolute = format!("{}{loc}", config.urls.base(&e.provider));
            meta["location"] = Value::String(absolute);
        }
        e
    }

    /// The SET of `e` for `s`, or `None` when RFC 9967 has no event for it. `key` is the
    /// key of the round or poll under way: read at its first SET, so that a delivery round
    /// or a poll answer reads the key once, and one after a rotation signs with the new key.
    async fn signed_set(
        &self,
        s: &Subscription,
        e: &ChangeEvent,
        key: &mut Option<Arc<SigningKey>>,
    ) -> Result<Option<String>, CoreError> {
        let config = self.events_config()?;
        let audience = match &s.url {
            Some(url) => url.clone(),
            None => format!("{}/events/poll/{}", config.urls.public(), s.id),
        };
        let e = self.outgoing(config, e);
        let Some(claims) = set::claims(&e, config.urls.public(), &[audience], s.payload) else {
            return Ok(None);
        };
        let key = match key {
            Some(k) => k,
            None => key.insert(self.signing_key().await?),
        };
        Ok(Some(key.sign(&claims)))
    }

    fn webhook_secrets(&self, s: &Subscription) -> Result<Vec<WebhookSecret>, CoreError> {
        let mut out = Vec::new();
        if let Some(sealed) = &s.secret {
            out.push(WebhookSecret::from_bytes(&self.secrets.open(sealed, s.id.as_bytes())?));
        }
        if let (Some(sealed), Some(until)) = (&s.old_secret, s.old_until)
            && until > self.now()
        {
            out.push(WebhookSecret::from_bytes(&self.secrets.open(sealed, s.id.as_bytes())?));
        }
        Ok(out)
    }

    /// The request that delivers `e` to `s`'s receiver, signed now; `None` when the event
    /// has no form in the subscription's format.
    async fn prepare(
        &self,
        s: &Subscription,
        secrets: &[WebhookSecret],
        key: &mut Option<Arc<SigningKey>>,
        e: &ChangeEvent,
    ) -> Result<Option<Outgoing>, CoreError> {
        let config = self.events_config()?;
        Ok(Some(match s.format {
            Format::Webhook => {
                let body = webhook::body(&self.outgoing(config, e), s.payload);
                let refs: Vec<&WebhookSecret> = secrets.iter().collect();
                let headers = webhook::signature_headers(&e.id, self.now().seconds(), &body, &refs);
                Outgoing {
                    content_type: "application/json",
                    headers: headers.into_iter().collect(),
                    body,
                }
            }
            Format::Set => match self.signed_set(s, e, key).await? {
                Some(jwt) => Outgoing {
                    content_type: "application/secevent+jwt",
                    headers: vec![("accept", "application/json".into())],
                    body: jwt.into_bytes(),
                },
                None => return Ok(None),
            },
        }))
    }

    /// The delay before retry number `attempts` (1-based): doubling from the first retry,
    /// capped, with ±20% jitter; at least what the receiver asked for with `Retry-After`.
    fn backoff(&self, config: &EventsConfig, attempts: i64, asked: Option<Duration>) -> Duration {
        let base = config.first_retry.as_millis() as u64;
        let doubled = base.saturating_mul(1u64 << (attempts - 1).clamp(0, 30));
        let capped = doubled.min(config.max_retry.as_millis() as u64);
        let mut r = [0u8; 2];
        crypto::random_bytes(&mut r);
        let jitter = (u64::from(u16::from_le_bytes(r)) % 41) as i64 - 20;
        let ms = (capped as i64 + capped as i64 * jitter / 100).max(1) as u64;
        let wanted = Duration::from_millis(ms);
        match asked {
            Some(a) => wanted.max(a.min(Duration::from_secs(24 * 3600))),
            None => wanted,
        }
    }

    /// Deliver what is pending for push subscription `s`, as `holder` of its lease: in
    /// order per provider, each event until it is accepted, refused for good, or due for a
    /// retry later.
    pub async fn deliver_round(&self, s: &Subscription, holder: &str) -> Result<Round, CoreError> {
        let config = self.events_config()?;
        let mut round = Round::default();
        let now = self.now();
        let pending = self.store.pending(s, now, PAGE).await?;
        let secrets = self.webhook_secrets(s)?;
        let mut key = None;
        let mut progress = Progress::default();
        'providers: for (cursor, events) in pending {
            let from = cursor.position;
            let mut c = cursor.clone();
            let full = events.len() as u32 == PAGE;
            let mut finished = true;
            // The provider's page goes out in one batch, in order, until one is not accepted.
            let mut requests = Vec::new();
            let mut sent = Vec::with_capacity(events.len());
            for e in &events {
                let request = if s.covers(e) {
                    self.prepare(s, &secrets, &mut key, e).await?
                } else {
                    None
                };
                sent.push(request.is_some());
                requests.extend(request);
            }
            let url = s.url.as_deref().unwrap_or_default();
            let mut outcomes = if requests.is_empty() {
                Vec::new()
            } else {
                config.transport.post_all(url, requests).await
            }
            .into_iter();
            for (e, was_sent) in events.iter().zip(sent) {
                if !was_sent {
                    c.position = e.position;
                    continue;
                }
                let Some(outcome) = outcomes.next() else {
                    finished = false;
                    break;
                };
                let at = self.now();
                let (status, latency, answer, retry_after) = match &outcome {
                    Ok(a) => (Some(a.status), a.latency, Some(answer_excerpt(&a.body)), a.retry_after),
                    Err(err) => (None, Duration::ZERO, Some(err.to_string()), None),
                };
                progress.attempts.push(Attempt {
                    event_id: e.id.clone(),
                    provider: e.provider.clone(),
                    position: e.position,
                    time: at,
                    status,
                    latency_ms: latency.as_millis() as i64,
                    answer: if status.is_some_and(|s| (200..300).contains(&s)) {
                        None
                    } else {
                        answer.clone()
                    },
                });
                if let Some(st) = status
                    && (200..300).contains(&st)
                {
                    c = Cursor::start(&c.provider, e.position);
                    progress.last_success = Some(at);
                    round.delivered += 1;
                    continue;
                }
                round.failed += 1;
                let reason = match status {
                    Some(st) => format!("HTTP {st}: {}", answer.unwrap_or_default()),
                    None => answer.unwrap_or_default(),
                };
                progress.last_error = Some((at, reason.clone()));
                if status == Some(410) {
                    progress.pause = Some("the receiver answered 410 Gone".into());
                    progress.cursors.push((from, c));
                    round.stop = true;
                    break 'providers;
                }
                c.attempts += 1;
                let since = *c.failing_since.get_or_insert(at);
                let refused_for_good = matches!(outcome, Err(SendError::Refused(_)))
                    || status.is_some_and(permanent) && c.attempts >= config.permanent_attempts;
                let gave_up = at.0 - since.0 >= config.give_up.as_millis() as i64;
                if refused_for_good || gave_up {
                    progress.dead.push(DeadLetter {
                        event_id: e.id.clone(),
                        provider: e.provider.clone(),
                        position: e.position,
                        time: at,
                        reason: if gave_up && !refused_for_good {
                            format!("no success for {} s: {reason}", config.give_up.as_secs())
                        } else {
                            format!("refused {} times: {reason}", c.attempts)
                        },
                    });
                    round.dead_lettered += 1;
                    c = Cursor::start(&c.provider, e.position);
                    continue;
                }
                let wait = self.backoff(config, c.attempts, retry_after);
                c.retry_at = Some(Timestamp(at.0 + wait.as_millis() as i64));
                finished = false;
                break;
            }
            if c != cursor {
                progress.cursors.push((from, c));
            }
            round.more |= full && finished;
        }
        if progress.cursors.is_empty() && progress.attempts.is_empty() {
            return Ok(round);
        }
        keep_recent_successes(&mut progress.attempts);
        if !self.store.record_progress(&s.id, Some(holder), progress).await? {
            round.stop = true;
        }
        Ok(round)
    }

    /// Take or renew the delivery lease of `s` for `ttl`.
    pub async fn take_lease(&self, s: &str, holder: &str, ttl: Duration) -> Result<bool, CoreError> {
        let now = self.now();
        Ok(self
            .store
            .take_lease(s, holder, now, Timestamp(now.0 + ttl.as_millis() as i64))
            .await?)
    }

    // ----- RFC 8936 poll -------------------------------------------------------------

    /// The poll subscription `id` if `token` is its poll token.
    pub async fn poll_subscription(&self, id: &str, token: &str) -> Result<Option<Subscription>, CoreError> {
        let Some(s) = self.store.subscription(id).await? else {
            return Ok(None);
        };
        let digest = crypto::sha256(token.as_bytes());
        Ok(match &s.poll_hash {
            Some(h) if crypto::constant_time_eq(h, &digest) => Some(s),
            _ => None,
        })
    }

    /// Acknowledge what the receiver names, then answer with the next SETs. An
    /// acknowledgement covers the events before it in its provider's stream too (they were
    /// handed out first, in order).
    pub async fn poll(&self, s: &Subscription, req: PollRequest) -> Result<PollAnswer, CoreError> {
        let mut acked: Vec<String> = req.ack.clone();
        acked.extend(req.errors.iter().map(|(jti, _)| jti.clone()));
        let mut progress = Progress::default();
        if !acked.is_empty() {
            let cursors = self.store.cursors(&s.id).await?;
            let events = self.store.events_by_id(&acked).await?;
            let mut moved: Vec<(i64, Cursor)> = Vec::new();
            for e in events.iter().filter(|e| s.covers_provider(&e.provider)) {
                let at = cursors
                    .iter()
                    .find(|c| c.provider == e.provider)
                    .map_or(0, |c| c.position);
                match moved.iter_mut().find(|(_, c)| c.provider == e.provider) {
                    Some((_, c)) => c.position = c.position.max(e.position),
                    None if e.position > at => moved.push((at, Cursor::start(&e.provider, e.position))),
                    None => {}
                }
            }
            progress.cursors = moved;
            progress.last_success = Some(self.now());
            if let Some((jti, why)) = req.errors.first() {
                progress.last_error = Some((self.now(), format!("the receiver could not process {jti}: {why}")));
            }
            if !self
                .store
                .record_progress(&s.id, None, std::mem::take(&mut progress))
                .await?
            {
                return Err(CoreError::NotFound(format!("subscription '{}'", s.id)));
            }
        }
        let max = req.max_events.unwrap_or(POLL_DEFAULT).min(POLL_MAX);
        if max == 0 || s.state == State::Paused {
            return Ok(PollAnswer::default());
        }
        let mut answer = PollAnswer::default();
        let mut key = None;
        let pending = self.store.pending(s, self.now(), max).await?;
        for (cursor, events) in pending {
            let mut skipped = cursor.clone();
            let mut handed = false;
            for e in &events {
                if answer.sets.len() as u32 >= max {
                    answer.more_available = true;
                    break;
                }
                let jwt = if s.covers(e) {
                    self.signed_set(s, e, &mut key).await?
                } else {
                    None
                };
                match jwt {
                    Some(jwt) => {
                        answer.sets.push((e.id.clone(), jwt));
                        handed = true;
                    }
                    // What is not for this receiver needs no acknowledgement.
                    None if !handed => skipped.position = e.position,
                    None => {}
                }
            }
            answer.more_available |= events.len() as u32 == max && answer.sets.len() as u32 >= max;
            if skipped.position != cursor.position {
                progress.cursors.push((cursor.position, skipped));
            }
        }
        if !progress.cursors.is_empty() {
            self.store.record_progress(&s.id, None, progress).await?;
        }
        Ok(answer)
    }
}
