//! Delivering change events to receivers (Standard Webhooks; RFC 8935 §2, SET push): a blocking
//! HTTP POST client for URLs that administrators type in, guarded against server-side request
//! forgery. A receiver must be a public HTTPS host unless every address it resolves to is inside
//! a block the server allows (`--receiver-allow`). The check runs when a subscription is made
//! ([`check_url`]) and again at every connection, after DNS, so a name that later resolves
//! elsewhere (DNS rebinding) still reaches no internal address.

mod address;
mod retry_after;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime};

use scimd_core::Cidr;
use ureq::http::header::{CONTENT_TYPE, DATE, RETRY_AFTER};
use ureq::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::CaRoots;

/// How long one delivery attempt may take, from DNS to the answer's last byte, unless the
/// constructor is told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of an answer's body that is kept: room for an RFC 8935 §2.3 error object or a
/// receiver's message, and a bound on what a hostile receiver can make the server hold.
pub const MAX_ANSWER_BODY: usize = 64 * 1024;

const USER_AGENT: &str = concat!("scimd/", env!("CARGO_PKG_VERSION"));

/// The internal networks receivers may be in (`--receiver-allow`). Empty by default: only
/// public HTTPS receivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiverPolicy {
    allow: Vec<Cidr>,
}

impl ReceiverPolicy {
    pub fn new(allow: Vec<Cidr>) -> ReceiverPolicy {
        ReceiverPolicy { allow }
    }

    pub fn allow(&self) -> &[Cidr] {
        &self.allow
    }

    fn allows(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|block| block.contains(ip))
    }

    /// The verdict on a receiver at `target` whose host is at `addresses`: refused if any one
    /// of them is outside the public Internet and not allowed (a name with one good and one bad
    /// address would let the connection pick the bad one), or if plain http would leave the
    /// allowed blocks.
    fn judge(&self, target: &Target, addresses: impl IntoIterator<Item = IpAddr>) -> Result<(), String> {
        let mut any = false;
        let mut all_allowed = true;
        for ip in addresses {
            any = true;
            if self.allows(ip) {
                continue;
            }
            all_allowed = false;
            if let Some(why) = address::non_public(ip) {
                return Err(format!(
                    "{} {why}: not the public Internet, so a receiver there needs --receiver-allow",
                    target.subject(ip)
                ));
            }
        }
        if !any {
            return Err(format!("{} resolves to no address", target.host));
        }
        if !target.https && !all_allowed {
            return Err("plain http is only for receivers inside --receiver-allow; use https".into());
        }
        Ok(())
    }
}

/// The parts of a receiver URL that the policy judges.
#[derive(Debug)]
struct Target {
    https: bool,
    /// Without the brackets of an IPv6 literal.
    host: String,
    port: u16,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| "not a valid URL: it must look like https://host/path".to_owned())?;
        Target::of(&uri)
    }

    fn of(uri: &Uri) -> Result<Target, String> {
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            Some(other) => return Err(format!("the scheme '{other}' is not http or https")),
            None => return Err("not an absolute URL: it must start with https://".into()),
        };
        let authority = uri.authority().ok_or("the URL names no host")?;
        // Credentials in a URL end up in logs and on admin pages, and `public@internal` is the
        // classic trick to make a reader see the wrong host.
        if authority.as_str().contains('@') {
            return Err("a receiver URL must not carry a user name or password (user:pass@host)".into());
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("the URL names no host".into());
        }
        Ok(Target {
            https,
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }

    fn literal(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// The start of a refusal: the address alone if the URL names it, else the name with it.
    fn subject(&self, ip: IpAddr) -> String {
        match self.literal() {
            Some(_) => format!("the address {ip} is"),
            None => format!("{} resolves to {ip}, which is", self.host),
        }
    }
}

/// Whether `url` may be a receiver: what the server asks when a subscription is made or
/// changed, so that the administrator hears at once why a URL is refused. The host is resolved
/// with the system resolver, which blocks: call it off the async runtime. Every delivery
/// checks again, so passing here is no licence for later.
pub fn check_url(url: &str, policy: &ReceiverPolicy) -> Result<(), String> {
    let target = Target::parse(url)?;
    let addresses: Vec<IpAddr> = match target.literal() {
        Some(ip) => vec![ip],
        None => (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
            .map(|a| a.ip())
            .collect(),
    };
    policy.judge(&target, addresses)
}

/// A receiver's answer, whatever its status: what a 4xx or a 3xx means is for the delivery to
/// decide, not a transport error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After`, seconds or an HTTP-date, as the wait from now.
    pub retry_after: Option<Duration>,
    /// At most [`MAX_ANSWER_BODY`] bytes: the rest is not read.
    pub body: Vec<u8>,
    /// From sending (DNS and connecting included) to the last byte of the body read.
    pub latency: Duration,
}

/// Why a POST got no answer. None of them quotes a header value: those carry signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The policy refuses the receiver (its URL, or an address its host resolves to). Permanent
    /// until the subscription or `--receiver-allow` changes.
    #[error("receiver refused: {0}")]
    Refused(String),
    /// No answer this time: DNS failure, connection refused or reset, TLS, timeout. Retryable.
    #[error("receiver not reached: {0}")]
    Network(String),
    /// A header name or value given to [`Receivers::post`] is not valid HTTP: a bug, permanent.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl SendError {
    /// Whether a later attempt may fare better: only when the network was the obstacle.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Network(_))
    }
}

/// The delivery client: one pool of kept-alive connections shared by all receivers (clones
/// share it), no redirects, no proxy, and the policy applied to every address it connects to.
#[derive(Debug, Clone)]
pub struct Receivers {
    agent: ureq::Agent,
}

impl Receivers {
    /// `timeout` bounds each attempt end to end ([`DEFAULT_TIMEOUT`] is the usual); `ca` replaces
    /// the web's roots for receivers under a private CA.
    pub fn new(policy: ReceiverPolicy, timeout: Duration, ca: Option<&CaRoots>) -> Receivers {
        let config = ureq::Agent::config_builder()
            // A proxy would resolve the receiver's name itself, out of the policy's sight.
            .proxy(None)
            // A redirect is the receiver's answer; following it would post the event (and its
            // signature) to a URL nobody checked.
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .tls_config(crate::tls::config(ca))
            .user_agent(USER_AGENT)
            .build();
        let resolver = PolicyResolver {
            policy,
            system: DefaultResolver::default(),
        };
        Receivers {
            agent: ureq::Agent::with_parts(config, DefaultConnector::default(), resolver),
        }
    }

    /// POST `body` to the receiver at `url`. Any HTTP status is an [`Answer`].
    pub fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Answer, SendError> {
        // A malformed, credential-carrying or non-http URL is refused before any DNS lookup.
        Target::parse(url).map_err(SendError::Refused)?;
        let all_headers =
            std::iter::once((CONTENT_TYPE.as_str(), content_type)).chain(headers.iter().map(|(n, v)| (*n, v.as_str())));
        let mut request = self.agent.post(url);
        for (name, value) in all_headers {
            check_header(name, value)?;
            request = request.header(name, value);
        }
        let started = Instant::now();
        let mut response = request.send(body).map_err(send_error)?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = read_capped(response.body_mut())?;
        Ok(Answer {
            status,
            retry_after,
            body,
            latency: started.elapsed(),
        })
    }
}

/// The resolver of [`Receivers`]' agent: the system's lookup, then the policy's verdict on every
/// address. ureq resolves before each request, ahead of looking for a pooled connection, so
/// every new connection goes to an address judged a moment before. ureq's `unversioned`
/// resolver API is outside its semver promise: the tests that refuse loopback at connection time
/// and count kept-alive connections are what would notice a change.
#[derive(Debug)]
struct PolicyResolver {
    policy: ReceiverPolicy,
    system: DefaultResolver,
}

impl Resolver for PolicyResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let target = Target::of(uri).map_err(refused)?;
        let addresses = match target.literal() {
            // An IP literal needs no lookup (nor the thread the system resolver starts to time
            // one out).
            Some(ip) => {
                let mut one = self.empty();
                one.push(SocketAddr::new(ip, target.port));
                one
            }
            None => self.system.resolve(uri, config, timeout)?,
        };
        self.policy
            .judge(&target, addresses.iter().map(SocketAddr::ip))
            .map_err(refused)?;
        Ok(addresses)
    }
}

/// A policy refusal on its way through ureq, told apart from network errors on the way out.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct AddressRefused(String);

fn refused(reason: String) -> ureq::Error {
    ureq::Error::Other(Box::new(AddressRefused(reason)))
}

fn send_error(error: ureq::Error) -> SendError {
    match error {
        ureq::Error::Other(inner) => match inner.downcast::<AddressRefused>() {
            Ok(refusal) => SendError::Refused(refusal.0),
            Err(other) => SendError::Network(other.to_string()),
        },
        ureq::Error::HostNotFound => SendError::Network("the host name does not resolve".into()),
        ureq::Error::Timeout(phase) => SendError::Network(format!("no answer in time ({phase} timeout)")),
        ureq::Error::Io(e) => SendError::Network(e.to_string()),
        // Headers were checked before sending; say nothing that could quote one.
        ureq::Error::Http(_) => SendError::Invalid("the request could not be built".into()),
        other => SendError::Network(other.to_string()),
    }
}

fn check_header(name: &str, value: &str) -> Result<(), SendError> {
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(SendError::Invalid(format!("'{name}' is not a header name")));
    }
    if HeaderValue::from_str(value).is_err() {
        return Err(SendError::Invalid(format!("the value of {name} is not a header value")));
    }
    Ok(())
}

/// `Retry-After` as a wait. A date is measured from the receiver's own `Date` when it sends one,
/// so that skew between the two clocks neither stretches nor shrinks the wait.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let now = SystemTime::now();
    let receiver_now = headers
        .get(DATE)
        .and_then(|date| date.to_str().ok())
        .and_then(|date| retry_after::http_date(date, now))
        .unwrap_or(now);
    retry_after::parse(value, receiver_now)
}

/// The body's first [`MAX_ANSWER_BODY`] bytes. One byte more is asked for, so that a body that
/// ends at the cap is read to its end and its connection goes back to the pool; a longer one is
/// cut off and its connection closed.
fn read_capped(body: &mut ureq::Body) -> Result<Vec<u8>, SendError> {
    let mut kept = Vec::new();
    body.as_reader()
        .take(MAX_ANSWER_BODY as u64 + 1)
        .read_to_end(&mut kept)
        .map_err(|e| SendError::Network(format!("the answer broke off: {e}")))?;
    kept.truncate(MAX_ANSWER_BODY);
    Ok(kept)
}
