//! The whole suite as a search for secrets in logs. With `SCIMD_TEST_LOG=trace` (CI's
//! PostgreSQL pass sets it), every server and every CLI command the harness starts logs at
//! that level, every secret the suite sees go over the wire is remembered under the port of
//! the server it went to, and when a server is dropped its log, its standard output and the
//! standard error of the CLI commands run on its directory are searched for every one of
//! them: client secrets, access tokens, admin tokens, passwords, session cookies, the whole
//! Authorization values and the base64 of `client_id:secret`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use serde_json::Value;

/// Values shorter than this are test vocabulary ("secret", "x"), not secrets.
const MIN_LEN: usize = 16;

/// Keys whose values are secrets wherever they appear in JSON or form bodies.
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "client_secret",
    "password",
    "secret",
    "token",
    "poll_token",
];

static SEEN: Mutex<BTreeMap<u16, BTreeSet<String>>> = Mutex::new(BTreeMap::new());

/// The log level the suite runs at, when it searches its logs for secrets.
pub fn level() -> Option<&'static str> {
    static LEVEL: OnceLock<Option<String>> = OnceLock::new();
    LEVEL
        .get_or_init(|| std::env::var("SCIMD_TEST_LOG").ok().filter(|l| !l.is_empty()))
        .as_deref()
}

/// The port of a URL (`http://127.0.0.1:4312/...`).
pub fn port_of(url: &str) -> Option<u16> {
    let authority = url.split("://").nth(1)?.split('/').next()?;
    authority.rsplit(':').next()?.parse().ok()
}

fn remember(port: Option<u16>, value: &str) {
    let value = value.trim();
    if value.len() < MIN_LEN {
        return;
    }
    if let Some(port) = port {
        let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.entry(port).or_default().insert(value.to_owned());
    }
}

fn remember_authorization(port: Option<u16>, value: &str) {
    remember(port, value);
    let Some((scheme, credentials)) = value.split_once(' ') else {
        return;
    };
    remember(port, credentials);
    if scheme.eq_ignore_ascii_case("basic")
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials.trim())
        && let Some((_, secret)) = String::from_utf8_lossy(&decoded).split_once(':')
    {
        remember(port, secret);
    }
}

fn remember_json(port: Option<u16>, v: &Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s))
                    && let Some(s) = v.as_str()
                {
                    remember(port, s);
                }
                remember_json(port, v);
            }
            // A PATCH operation on the password: {"path": "password", "value": "..."}.
            if map
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| p.to_ascii_lowercase().ends_with("password"))
                && let Some(s) = map.get("value").and_then(Value::as_str)
            {
                remember(port, s);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| remember_json(port, v)),
        Value::String(s) => remember_setup_code(port, s),
        _ => {}
    }
}

/// A setup link's code, wherever a URL holding one appears: it opens the page.
fn remember_setup_code(port: Option<u16>, text: &str) {
    for part in text.split("/setup/").skip(1) {
        let code: String = part.chars().take_while(char::is_ascii_alphanumeric).collect();
        remember(port, &code);
    }
}

fn remember_body(port: Option<u16>, body: &str) {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        remember_json(port, &v);
        return;
    }
    // Both as sent and as the server reads it (`+` a space, `%XX` a byte).
    for pair in body.split('&') {
        if let Some((k, v)) = pair.split_once('=')
            && SECRET_KEYS.contains(&k)
        {
            remember(port, v);
        }
    }
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(body).unwrap_or_default() {
        if SECRET_KEYS.contains(&k.as_str()) {
            remember(port, &v);
        }
    }
}

/// Remember the secrets of a request and its answer.
pub fn exchange(url: &str, headers: &[(&str, &str)], body: &[u8], answer: Option<(&[(String, String)], &str)>) {
    if level().is_none() {
        return;
    }
    let port = port_of(url);
    remember_setup_code(port, url);
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            remember_authorization(port, value);
        } else if name.eq_ignore_ascii_case("cookie") {
            for c in value.split(';') {
                remember(port, c.split_once('=').map_or("", |(_, v)| v));
            }
        }
    }
    remember_body(port, &String::from_utf8_lossy(body));
    if let Some((headers, body)) = answer {
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or_default();
                remember(port, pair.split_once('=').map_or("", |(_, v)| v));
            }
        }
        remember_body(port, body);
    }
}

/// Remember the secrets a CLI command printed for the server at `public_url`: its JSON, or
/// the bare token of `scimd token` and `scimd admin token create`.
pub fn cli_output(public_url: &str, args: &[&str], stdout: &str) {
    if level().is_none() {
        return;
    }
    let port = port_of(public_url);
    remember_body(port, stdout);
    remember_setup_code(port, stdout);
    if args.first() == Some(&"token") || args.starts_with(&["admin", "token", "create"]) {
        remember(port, stdout.trim());
    }
    for pair in args.windows(2) {
        if pair[0] == "--client-secret" {
            remember(port, pair[1]);
        }
    }
}

/// Search `texts` (name, content) for every secret seen by the servers on `ports`, and
/// forget them: the name of the text and the start of the secret found, if any.
pub fn search(ports: &[u16], texts: &[(&str, String)]) -> Result<(), String> {
    let secrets: Vec<String> = {
        let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ports.iter().filter_map(|p| seen.remove(p)).flatten().collect()
    };
    if secrets.is_empty() {
        return Ok(());
    }
    let finder = aho_corasick::AhoCorasick::new(&secrets).map_err(|e| e.to_string())?;
    for (name, text) in texts {
        if let Some(m) = finder.find(text.as_str()) {
            let line_start = text[..m.start()].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[m.end()..].find('\n').map_or(text.len(), |i| m.end() + i);
            let secret = &secrets[m.pattern().as_usize()];
            let line = text[line_start..line_end].replace(secret.as_str(), "<SECRET>");
            return Err(format!(
                "a secret ({}…, {} characters) is in {name}: {line}",
                secret.chars().take(6).collect::<String>(),
                secret.len()
            ));
        }
    }
    Ok(())
}
