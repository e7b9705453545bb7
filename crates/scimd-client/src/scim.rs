//! A small blocking SCIM 2.0 client (RFC 7644): JSON requests with a bearer token, retries
//! with exponential back-off on 429 and 5xx honouring `Retry-After` (RFC 9110 §10.2.3),
//! index pagination (§3.4.2.4) sized from `/ServiceProviderConfig` (RFC 7643 §5), and a count
//! of every request made, by method.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BULK_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// Largest body read from a server: a page of users or a group of 100,000 members fits.
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Every way a SCIM call can fail, worded for one line on a terminal.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("{method} {path}: cannot reach the server: {reason}")]
    Connect {
        method: &'static str,
        path: String,
        reason: String,
    },
    #[error("{method} {path}: HTTP {status}{}: {detail}", scim_type.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        scim_type: Option<String>,
        detail: String,
    },
    /// The server's mass-deletion guard (scimd's, with `503` and a detail naming it) refuses
    /// deletes and deactivations until an administrator releases it: retrying does not help.
    #[error("{method} {path}: refused by the server's mass-deletion guard: {detail}")]
    Guarded {
        method: &'static str,
        path: String,
        detail: String,
    },
    #[error("{method} {path}: the answer is not SCIM JSON: {snippet}")]
    NotJson {
        method: &'static str,
        path: String,
        snippet: String,
    },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Requests made, by method, and how many of them were retries.
#[derive(Debug, Default)]
pub struct Counts {
    get: AtomicU64,
    post: AtomicU64,
    put: AtomicU64,
    patch: AtomicU64,
    delete: AtomicU64,
    retries: AtomicU64,
}

/// A snapshot of [`Counts`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RequestCounts {
    pub get: u64,
    pub post: u64,
    pub put: u64,
    pub patch: u64,
    pub delete: u64,
    pub retries: u64,
}

impl RequestCounts {
    pub fn writes(&self) -> u64 {
        self.post + self.put + self.patch + self.delete
    }

    pub fn to_json(self) -> Value {
        json!({"GET": self.get, "POST": self.post, "PUT": self.put, "PATCH": self.patch,
               "DELETE": self.delete, "retries": self.retries})
    }
}

impl Counts {
    fn bump(&self, m: Method) {
        let c = match m {
            Method::Get => &self.get,
            Method::Post => &self.post,
            Method::Put => &self.put,
            Method::Patch => &self.patch,
            Method::Delete => &self.delete,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            get: self.get.load(Ordering::Relaxed),
            post: self.post.load(Ordering::Relaxed),
            put: self.put.load(Ordering::Relaxed),
            patch: self.patch.load(Ordering::Relaxed),
            delete: self.delete.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// What the server says it can do; defaults for anything it does not say (or when it has no
/// `/ServiceProviderConfig` at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub patch: bool,
    pub bulk: bool,
    pub bulk_max_operations: usize,
    pub bulk_max_payload: usize,
    pub page_size: usize,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            patch: true,
            bulk: false,
            bulk_max_operations: 0,
            bulk_max_payload: 0,
            page_size: 100,
        }
    }
}

impl Capabilities {
    pub fn from_config(spc: &Value) -> Capabilities {
        let d = Capabilities::default();
        let num = |v: &Value| v.as_u64().map(|n| n as usize).filter(|n| *n > 0);
        Capabilities {
            patch: spc["patch"]["supported"].as_bool().unwrap_or(d.patch),
            bulk: spc["bulk"]["supported"].as_bool().unwrap_or(false),
            bulk_max_operations: num(&spc["bulk"]["maxOperations"]).unwrap_or(0),
            bulk_max_payload: num(&spc["bulk"]["maxPayloadSize"]).unwrap_or(0),
            page_size: num(&spc["filter"]["maxResults"]).unwrap_or(d.page_size),
        }
    }
}

/// Retry policy: `attempts` tries in all; waits `base`, 2×`base`, 4×`base`... capped at `cap`,
/// or what `Retry-After` says (capped too).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// The wait before try number `attempt + 1` (0-based `attempt` that failed).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.cap);
        }
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// `Retry-After` in delta-seconds; an HTTP-date is left to the back-off.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A successful answer: its status and JSON body (`Null` when empty, e.g. 204).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
    pub retry: Retry,
    counts: Counts,
}

/// Percent-encode a query value (RFC 3986 unreserved characters stay).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A SCIM filter string literal (RFC 7644 §3.4.2.2: JSON string syntax).
pub fn filter_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn snippet(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    one.chars().take(200).collect()
}

impl Client {
    /// A client for the Base URL, with a bearer token (or none: some servers take anything).
    pub fn new(base_url: &str, token: Option<&str>) -> Client {
        Client::trusting(base_url, token, None)
    }

    /// The same, trusting `ca` instead of the web's roots.
    pub fn trusting(base_url: &str, token: Option<&str>, ca: Option<&crate::CaRoots>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .max_idle_connections_per_host(64)
            .tls_config(crate::tls::config(ca))
            .build()
            .into();
        Client {
            agent,
            base: base_url.trim_end_matches('/').to_owned(),
            authorization: token.map(|t| format!("Bearer {t}")),
            retry: Retry::default(),
            counts: Counts::default(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn counts(&self) -> RequestCounts {
        self.counts.snapshot()
    }

    fn once(&self, method: Method, url: &str, body: Option<&str>) -> Result<(u16, Option<Duration>, String), String> {
        let mut b = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(url)
            .header("Accept", "application/scim+json, application/json");
        if let Some(a) = &self.authorization {
            b = b.header("Authorization", a);
        }
        if body.is_some() {
            b = b.header("Content-Type", "application/scim+json");
        }
        let req = b.body(body.unwrap_or("").to_owned()).map_err(|e| e.to_string())?;
        self.counts.bump(method);
        let mut resp = self.agent.run(req).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = resp
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, retry_after, text))
    }

    /// One SCIM call with retries; `path` is relative to the Base URL (starts with `/`).
    pub fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, ClientError> {
        let url = format!("{}{path}", self.base);
        let body = body.map(Value::to_string);
        let mut attempt = 0;
        loop {
            let outcome = self.once(method, &url, body.as_deref());
            if let Ok((503, _, text)) = &outcome
                && let Some(detail) = guard_detail(text)
            {
                return Err(ClientError::Guarded {
                    method: method.as_str(),
                    path: path.to_owned(),
                    detail,
                });
            }
            let retryable = match &outcome {
                Err(_) => true,
                Ok((status, _, _)) => *status == 429 || *status >= 500,
            };
            if retryable && attempt + 1 < self.retry.attempts {
                let ra = outcome.as_ref().ok().and_then(|(_, ra, _)| *ra);
                std::thread::sleep(self.retry.delay(attempt, ra));
                attempt += 1;
                self.counts.retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let m = method.as_str();
            let (status, _, text) = outcome.map_err(|reason| ClientError::Connect {
                method: m,
                path: path.to_owned(),
                reason,
            })?;
            let json: Option<Value> = if text.trim().is_empty() {
                Some(Value::Null)
            } else {
                serde_json::from_str(&text).ok()
            };
            return match (status, json) {
                (200..=299, Some(body)) => Ok(Reply { status, body }),
                (200..=299, None) => Err(ClientError::NotJson {
                    method: m,
                    path: path.to_owned(),
                    snippet: snippet(&text),
                }),
                (_, json) => {
                    let e = json.unwrap_or(Value::Null);
                    Err(ClientError::Status {
                        method: m,
                        path: path.to_owned(),
                        status,
                        scim_type: e["scimType"].as_str().map(str::to_owned),
                        detail: e["detail"]
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| snippet(&text)),
                    })
                }
            };
        }
    }

    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.call(Method::Get, path, None).map(|r| r.body)
    }

    /// `/ServiceProviderConfig`, or the defaults when the server has none or refuses it.
    /// A 401 is an error: the token is wrong, and everything else would fail too.
    pub fn capabilities(&self) -> Result<Capabilities, ClientError> {
        match self.get("/ServiceProviderConfig") {
            Ok(spc) => Ok(Capabilities::from_config(&spc)),
            Err(e) if e.status() == Some(401) => Err(e),
            Err(_) => Ok(Capabilities::default()),
        }
    }

    /// Every resource of `/{endpoint}` in pages of `page` (`query` adds parameters), walking
    /// `startIndex` by what each page held until `totalResults` is reached.
    pub fn list_all(&self, endpoint: &str, query: &str, page: usize) -> Result<Vec<Value>, ClientError> {
        let mut out = Vec::new();
        let mut start = 1usize;
        loop {
            let sep = if query.is_empty() { "" } else { "&" };
            let path = format!("/{endpoint}?{query}{sep}startIndex={start}&count={page}");
            let list = self.get(&path)?;
            let items = list["Resources"].as_array().cloned().unwrap_or_default();
            let total = list["totalResults"].as_u64().map(|n| n as usize);
            let n = items.len();
            out.extend(items);
            start += n;
            if n == 0 || total.is_none_or(|t| start > t) {
                return Ok(out);
            }
        }
    }

    /// Users whose `userName` equals `name` (case-insensitively on the server's side).
    pub fn find_user(&self, user_name: &str) -> Result<Option<Value>, ClientError> {
        let filter = format!("userName eq {}", filter_string(user_name));
        let list = self.get(&format!("/Users?filter={}&startIndex=1&count=2", enc(&filter)))?;
        Ok(list["Resources"].as_array().and_then(|r| r.first()).cloned())
    }
}

/// The detail of a SCIM error that names a mass-deletion guard (scimd's 503 for a provider
/// whose removals tripped it), if this is one.
fn guard_detail(text: &str) -> Option<String> {
    let e: Value = serde_json::from_str(text).ok()?;
    let detail = e["detail"].as_str()?;
    detail.contains("mass-deletion guard").then(|| detail.to_owned())
}

pub fn patch_body(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    #[test]
    fn back_off_doubles_and_retry_after_wins() {
        let r = Retry {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(r.delay(0, None), Duration::from_millis(100));
        assert_eq!(r.delay(3, None), Duration::from_millis(800));
        assert_eq!(r.delay(9, None), Duration::from_secs(1));
        assert_eq!(r.delay(0, Some(Duration::from_secs(7))), Duration::from_secs(1));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn capabilities_default_what_the_server_does_not_say() {
        let c = Capabilities::from_config(&json!({"patch": {"supported": false}, "filter": {"maxResults": 50}}));
        assert!(!c.patch && !c.bulk);
        assert_eq!(c.page_size, 50);
        assert_eq!(Capabilities::from_config(&json!({})), Capabilities::default());
    }

    #[test]
    fn filter_literals_are_json_strings() {
        assert_eq!(filter_string("a\"b@x"), r#""a\"b@x""#);
        assert_eq!(enc("userName eq \"a\""), "userName%20eq%20%22a%22");
    }

    /// A one-shot HTTP server answering each connection with the next canned response.
    fn serve(responses: Vec<&'static str>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for (stream, resp) in l.incoming().zip(responses) {
                let mut s = stream.unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                s.write_all(resp.as_bytes()).unwrap();
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn a_429_is_retried_after_the_wait_the_server_asks_for() {
        let base = serve(vec![
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/scim+json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
        ]);
        let mut c = Client::new(&base, Some("t"));
        c.retry.base = Duration::from_millis(1);
        let r = c.call(Method::Get, "/Users", None).unwrap();
        assert_eq!(r.body, json!({"ok": true}));
        let n = c.counts();
        assert_eq!((n.get, n.retries), (3, 2));
    }

    #[test]
    fn a_scim_error_keeps_its_status_type_and_detail() {
        let body = r#"{"status":"409","scimType":"uniqueness","detail":"taken"}"#;
        let resp: &'static str = Box::leak(
            format!(
                "HTTP/1.1 409 Conflict\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let c = Client::new(&serve(vec![resp]), None);
        let e = c.call(Method::Post, "/Users", Some(&json!({}))).unwrap_err();
        assert_eq!(e.status(), Some(409));
        assert!(
            e.to_string().contains("uniqueness") && e.to_string().contains("taken"),
            "{e}"
        );
    }
}
