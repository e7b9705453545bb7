//! Subscriptions: who receives which events, in which format, and how far each has got in
//! every provider's stream.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::{ChangeEvent, EventType, Payload};
use crate::clock::Timestamp;
use crate::provider::Population;

/// How events reach a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Standard Webhooks: one signed JSON POST per event.
    Webhook,
    /// RFC 9967 Security Event Tokens, pushed (RFC 8935) or polled (RFC 8936).
    Set,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Webhook => "webhook",
            Format::Set => "set",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "webhook" => Ok(Format::Webhook),
            "set" => Ok(Format::Set),
            other => Err(format!("unknown format '{other}' (webhook or set)")),
        }
    }
}

impl FromStr for Payload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Payload::Full),
            "notice" => Ok(Payload::Notice),
            other => Err(format!("unknown payload '{other}' (full or notice)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Paused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Paused => "paused",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription as stored. Secrets are sealed with the server's key; the poll token is
/// kept only as its SHA-256 digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub format: Format,
    /// Where events are pushed; `None` for an RFC 8936 poll subscription.
    pub url: Option<String>,
    /// Only these providers' events (all providers when empty).
    pub providers: Vec<String>,
    /// Only this population's events (both when `None`). With `providers`, both must match.
    pub population: Option<Population>,
    /// Only these types (all when empty).
    pub events: Vec<EventType>,
    pub payload: Payload,
    /// The sealed webhook signing secret.
    pub secret: Option<Vec<u8>>,
    /// The secret that still signs alongside the new one until `old_until`.
    pub old_secret: Option<Vec<u8>>,
    pub old_until: Option<Timestamp>,
    pub poll_hash: Option<Vec<u8>>,
    pub state: State,
    /// Why it is paused (an administrator, or a receiver's `410 Gone`).
    pub state_reason: Option<String>,
    pub created: Timestamp,
    pub last_success: Option<Timestamp>,
    /// The last failure: the receiver's status and the start of its answer, or the network error.
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
}

impl Subscription {
    /// Whether events of this provider can concern the subscription at all.
    pub fn covers_provider(&self, provider: &str) -> bool {
        self.providers.is_empty() || self.providers.iter().any(|p| p == provider)
    }

    /// Whether events of this provider, of this population, can concern the subscription.
    pub fn covers_stream(&self, provider: &str, population: Population) -> bool {
        self.covers_provider(provider) && self.population.is_none_or(|p| p == population)
    }

    /// Whether the subscriber receives `e`.
    pub fn covers(&self, e: &ChangeEvent) -> bool {
        self.covers_stream(&e.provider, e.population) && (self.events.is_empty() || self.events.contains(&e.event_type))
    }

    pub fn is_poll(&self) -> bool {
        self.url.is_none()
    }
}

/// How far a subscription has got in one provider's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub provider: String,
    /// Every event up to here is delivered, acknowledged or dead-lettered.
    pub position: i64,
    /// Failed attempts at the event after `position`.
    pub attempts: i64,
    /// Not before this time is it tried again.
    pub retry_at: Option<Timestamp>,
    /// When its first failed attempt was.
    pub failing_since: Option<Timestamp>,
}

impl Cursor {
    pub fn start(provider: &str, position: i64) -> Cursor {
        Cursor {
            provider: provider.to_owned(),
            position,
            attempts: 0,
            retry_at: None,
            failing_since: None,
        }
    }
}

/// One attempt at delivering an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub event_id: String,
    pub provider: String,
    pub position: i64,
    pub time: Timestamp,
    /// The receiver's HTTP status; `None` when it could not be reached.
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// The first 512 bytes of the receiver's answer, or the network error.
    pub answer: Option<String>,
}

/// An event a receiver kept refusing, set aside so that later ones flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub event_id: String,
    pub provider: String,
    pub position: i64,
    pub time: Timestamp,
    pub reason: String,
}

/// What one round of delivery did to a subscription, written in one transaction, only while
/// the writer still holds the subscription's lease (when `holder` is given).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Each cursor as it is now, with the position it had when the round began.
    pub cursors: Vec<(i64, Cursor)>,
    pub attempts: Vec<Attempt>,
    pub dead: Vec<DeadLetter>,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<(Timestamp, String)>,
    /// Pause the subscription with this reason (a receiver answered `410 Gone`).
    pub pause: Option<String>,
}

/// A key that signs Security Event Tokens, its private half sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub sealed: Vec<u8>,
    pub public_jwk: Value,
    pub created: Timestamp,
    /// Published (and no longer signing) until then; `None` while it is the newest.
    pub retires: Option<Timestamp>,
}

/// A page of a stream: one provider's from a position, or every provider's in storage order.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub provider: Option<String>,
    /// With `provider`: events at or after this position.
    pub from: Option<i64>,
    /// Events stored after this one (`seq`), for following every stream at once.
    pub after_seq: i64,
    pub limit: u32,
}
