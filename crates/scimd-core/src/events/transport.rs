//! How events leave: the core decides what to send and when, a [`Transport`] (HTTP, in the
//! server) carries it to a receiver the administrators named, an untrusted URL.

use std::time::Duration;

use async_trait::async_trait;

/// A receiver's answer: its status, when to come back, and the start of its body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// At most 64 KiB of the body.
    pub body: Vec<u8>,
    pub latency: Duration,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The receiver's address is not one scimd may connect to (permanent until the
    /// server's `--receiver-allow` changes).
    #[error("refused: {0}")]
    Refused(String),
    /// The receiver could not be reached or did not answer in time (retried).
    #[error("{0}")]
    Network(String),
}

/// A request to a receiver, signed and ready.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Whether a receiver took the event.
pub fn accepted(outcome: &Result<Answer, SendError>) -> bool {
    matches!(outcome, Ok(a) if (200..300).contains(&a.status))
}

#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Whether scimd may send to `url` at all (scheme, and every address it resolves to);
    /// a readable reason when not. Asked when a subscription is made.
    async fn check_url(&self, url: &str) -> Result<(), String>;

    /// POST each request to `url` in order (redirects not followed), stopping after the
    /// first that is not accepted (its outcome is the last one returned): a page of a
    /// provider's stream in one go. [`in_order`] is that loop around one request.
    async fn post_all(&self, url: &str, requests: Vec<Outgoing>) -> Vec<Result<Answer, SendError>>;
}

/// Send `requests` one after the other with `send` until one is not accepted.
pub fn in_order(
    requests: Vec<Outgoing>,
    mut send: impl FnMut(Outgoing) -> Result<Answer, SendError>,
) -> Vec<Result<Answer, SendError>> {
    let mut out = Vec::with_capacity(requests.len());
    for r in requests {
        let outcome = send(r);
        let stop = !accepted(&outcome);
        out.push(outcome);
        if stop {
            break;
        }
    }
    out
}
