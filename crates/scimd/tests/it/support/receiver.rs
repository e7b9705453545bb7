//! A receiver of change events on port 0 for the tests: HTTP/1.1 with keep-alive, recording
//! every request it reads, answering as the test says (up, a status, or dropping the
//! connection as if it were down), optionally slowly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver answered (0: it dropped the connection).
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map_or("", String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e})"))
    }
}

/// How the receiver answers a request.
pub type Answer = Box<dyn Fn(&Received) -> u16 + Send>;

struct Shared {
    got: Vec<Received>,
    answer: Answer,
    delay: Duration,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl Receiver {
    /// A receiver answering 204 to everything, at `http://127.0.0.1:PORT/hook`.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let shared = Arc::new(Mutex::new(Shared {
            got: Vec::new(),
            answer: Box::new(|_| 204),
            delay: Duration::ZERO,
        }));
        let for_loop = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&for_loop);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            shared,
        }
    }

    /// Answer from now on with `f`'s status (0: drop the connection unanswered).
    pub fn answer(&self, f: impl Fn(&Received) -> u16 + Send + 'static) {
        self.lock().answer = Box::new(f);
    }

    /// Wait this long before each answer.
    pub fn slow(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Received> {
        self.lock().got.clone()
    }

    /// The requests it accepted (2xx), first delivery of each event id only, in arrival order.
    pub fn accepted_once(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.all()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .filter(|r| seen.insert(event_id(r)))
            .collect()
    }

    /// Wait until `done` holds of the requests so far, or fail after `limit` saying what came.
    pub fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.all();
            if done(&got) {
                return got;
            }
            if start.elapsed() > limit {
                panic!("{what}: not within {limit:?}; {} requests came", got.len());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The id a request carries: `webhook-id`, or the `jti` of a SET.
pub fn event_id(r: &Received) -> String {
    let id = r.header("webhook-id");
    if !id.is_empty() {
        return id.to_owned();
    }
    set_claims(&String::from_utf8_lossy(&r.body))["jti"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The claims of a compact JWS, unverified.
pub fn set_claims(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("claims: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("claims: {e}"))
}

/// Check a Standard Webhooks signature the way a receiver does: HMAC-SHA256 with the
/// secret's key bytes over `id.timestamp.body`, any of the listed `v1` signatures.
pub fn verify_webhook(r: &Received, whsec: &str) -> bool {
    let key = STANDARD
        .decode(whsec.trim_start_matches("whsec_"))
        .unwrap_or_else(|e| panic!("secret: {e}"));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut signed = format!("{}.{}.", r.header("webhook-id"), r.header("webhook-timestamp")).into_bytes();
    signed.extend_from_slice(&r.body);
    r.header("webhook-signature").split(' ').any(|sig| {
        sig.strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok())
            .is_some_and(|mac| ring::hmac::verify(&key, &signed, &mac).is_ok())
    })
}

/// Check an ES256 JWS against a JWK Set (`kid` picks the key).
pub fn verify_set(jws: &str, jwks: &Value) -> bool {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jws.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let header: Value = match b64.decode(parts[0]).ok().and_then(|h| serde_json::from_slice(&h).ok()) {
        Some(h) => h,
        None => return false,
    };
    let Some(jwk) = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == header["kid"])
    else {
        return false;
    };
    let mut point = vec![4u8];
    for c in ["x", "y"] {
        point.extend(b64.decode(jwk[c].as_str().unwrap_or_default()).unwrap_or_default());
    }
    let sig = b64.decode(parts[2]).unwrap_or_default();
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point);
    header["alg"] == "ES256"
        && key
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .is_ok()
}

fn serve(stream: TcpStream, shared: &Mutex<Shared>) {
    let mut write = match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut r = Received {
            path,
            headers,
            body,
            answered: 0,
        };
        let (status, delay) = {
            let s = shared.lock().unwrap_or_else(|e| e.into_inner());
            ((s.answer)(&r), s.delay)
        };
        std::thread::sleep(delay);
        r.answered = status;
        shared.lock().unwrap_or_else(|e| e.into_inner()).got.push(r);
        if status == 0 {
            return;
        }
        let body = if status >= 400 {
            "{\"err\":\"refused\",\"description\":\"test\"}"
        } else {
            ""
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
            body.len()
        );
        if write.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}
