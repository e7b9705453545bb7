//! What the provisioning log may keep of a request: secrets masked. A failed request's body
//! is kept with the value of every attribute whose name looks like a secret replaced by
//! [`MASK`] (`password`, `clientSecret`, `api_key`, ... at any depth, PATCH operations whose
//! `path` names one, Bulk operations' `data`), and so is every string shaped like a bearer
//! token; then it is cut to [`MAX_BODY`]. A body that is not JSON is kept only when nothing
//! in it looks like a secret. The query string and the SCIM error's `detail` are masked the
//! same way, and the detail loses every secret value the body held (an error message that
//! quotes a rejected value must not smuggle it past the mask).

use serde_json::Value;

/// What a masked value reads as.
pub const MASK: &str = "********";

/// The most of a failed request's body that is kept, masked.
pub const MAX_BODY: usize = 16 * 1024;

/// The most of a body that is not JSON that is kept (when nothing in it looks secret).
const MAX_OPAQUE: usize = 512;

/// The most of a path (with its query) that is kept.
pub const MAX_PATH: usize = 2048;

/// Words that make a name (compared without case or punctuation) look like a secret's.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "signingkey",
    "authorization",
    "cookie",
];

/// Secret values shorter than this are not searched for in an error's detail: a one-letter
/// "password" would mask every such letter.
const MIN_SCRUBBED: usize = 4;

fn folded(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Does this attribute name (or PATCH path, or query parameter) look like it holds a secret?
/// Case and punctuation do not matter: `password`, `clientSecret`, `API_KEY`,
/// `urn:...:User:privateKey` all do.
pub fn is_secret_name(name: &str) -> bool {
    let f = folded(name);
    SECRET_WORDS.iter().any(|w| f.contains(w))
}

/// A value that is a credential whatever its name: an Authorization value, or a string
/// shaped like a scimd token.
fn is_secret_value(s: &str) -> bool {
    let t = s.trim();
    let lower = t.get(..7).unwrap_or("").to_ascii_lowercase();
    lower.starts_with("bearer ") || lower.starts_with("basic ") || contains_token_shape(t)
}

/// Is there a scimd token (`scimd_` and 43 letters or digits) anywhere in `s`?
fn contains_token_shape(s: &str) -> bool {
    token_spans(s).next().is_some()
}

/// Where scimd tokens sit in `s`.
fn token_spans(s: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    s.match_indices(crate::token::TOKEN_PREFIX).filter_map(move |(at, p)| {
        let end = at + p.len();
        let run = s[end..].bytes().take_while(u8::is_ascii_alphanumeric).count();
        (run >= 40).then_some((at, end + run))
    })
}

/// A body as the log keeps it, and the secret values that were taken out of it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Masked {
    pub text: Option<String>,
    pub secrets: Vec<String>,
}

/// Mask a failed request's body (see the module's description).
pub fn body(bytes: &[u8]) -> Masked {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Masked::default();
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(bytes) else {
        return Masked {
            text: Some(opaque(bytes)),
            secrets: Vec::new(),
        };
    };
    let mut secrets = Vec::new();
    mask_value(&mut v, &mut secrets);
    Masked {
        text: Some(cut(v.to_string(), MAX_BODY)),
        secrets,
    }
}

/// A body that is not JSON: its first bytes when nothing in it looks like a secret, else
/// only its length.
fn opaque(bytes: &[u8]) -> String {
    let all = String::from_utf8_lossy(bytes);
    let f = folded(&all);
    let secretive = SECRET_WORDS.iter().any(|w| f.contains(w))
        || f.contains("bearer")
        || f.contains("basic")
        || contains_token_shape(&all);
    if secretive {
        return format!("[not JSON, {} bytes; not kept, as it may hold a secret]", bytes.len());
    }
    let start = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_OPAQUE)]);
    let more = if bytes.len() > MAX_OPAQUE { "…" } else { "" };
    format!("[not JSON, {} bytes] {start}{more}", bytes.len())
}

/// Every string inside `v`, for the detail's scrubbing.
fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Object(map) => map.values().for_each(|i| strings_in(i, out)),
        Value::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}

fn hide(v: &mut Value, secrets: &mut Vec<String>) {
    strings_in(v, secrets);
    *v = Value::String(MASK.to_owned());
}

fn mask_value(v: &mut Value, secrets: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            // A PATCH operation on a secret: {"op": "replace", "path": "password", "value": ...}.
            let secret_path = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, p)| p.as_str())
                .is_some_and(is_secret_name);
            for (k, item) in map.iter_mut() {
                if is_secret_name(k) || (secret_path && k.eq_ignore_ascii_case("value")) {
                    hide(item, secrets);
                } else {
                    mask_value(item, secrets);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask_value(i, secrets)),
        Value::String(s) if is_secret_value(s) => hide(v, secrets),
        _ => {}
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), saying how long it was.
pub fn cut(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let note = format!("… [cut: {} bytes in all]", text.len());
    let mut end = max.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &text[..end])
}

/// A path with its query as the log keeps it: the value of every query parameter whose
/// name or value looks secret masked (`?access_token=...`, a filter on a password), and
/// the values taken out.
pub fn path(p: &str) -> (String, Vec<String>) {
    let Some((path, query)) = p.split_once('?') else {
        return (cut(p.to_owned(), MAX_PATH), Vec::new());
    };
    let mut secrets = Vec::new();
    let mut out = String::with_capacity(p.len());
    out.push_str(path);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = crate::input::form_decode(value);
        if !value.is_empty() && (is_secret_name(name) || is_secret_name(&decoded) || is_secret_value(&decoded)) {
            secrets.push(decoded);
            out.push_str(name);
            out.push('=');
            out.push_str(MASK);
        } else {
            out.push_str(pair);
        }
    }
    (cut(out, MAX_PATH), secrets)
}

/// `text` (an error's detail) with every one of `secrets` and every token-shaped string
/// masked.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.chars().count() >= MIN_SCRUBBED) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    let spans: Vec<(usize, usize)> = token_spans(&out).collect();
    for (start, end) in spans.into_iter().rev() {
        out.replace_range(start..end, MASK);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masked(v: Value) -> (Value, Vec<String>) {
        let m = body(v.to_string().as_bytes());
        let text = m.text.unwrap_or_default();
        (serde_json::from_str(&text).unwrap_or(Value::Null), m.secrets)
    }

    #[test]
    fn names_that_look_secret_are_recognised_in_any_spelling() {
        for name in [
            "password",
            "Password",
            "clientSecret",
            "client_secret",
            "API_KEY",
            "apiKey",
            "x-api-key",
            "privateKey",
            "refresh_token",
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User:accessKey",
            "credentials",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["userName", "displayName", "emails", "active", "keywords", "title"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn secrets_are_masked_at_any_depth_and_in_patch_and_bulk_operations() {
        let (v, secrets) = masked(json!({
            "userName": "ada",
            "password": "hunter2-long",
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"apiKey": {"value": "k-123456"}},
            "Operations": [
                {"op": "replace", "path": "password", "value": "patched-pw"},
                {"op": "Replace", "Path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "Value": "other-pw"},
                {"op": "add", "value": {"password": "nested-pw", "displayName": "Ada"}},
                {"method": "POST", "path": "/Users", "data": {"userName": "b", "password": "bulk-pw"}},
                {"op": "replace", "path": "title", "value": "scimd_0123456789012345678901234567890123456789012"}
            ]
        }));
        let text = v.to_string();
        for s in [
            "hunter2-long",
            "k-123456",
            "patched-pw",
            "other-pw",
            "nested-pw",
            "bulk-pw",
            "scimd_0123",
        ] {
            assert!(!text.contains(s), "{s} in {text}");
        }
        assert_eq!(v["userName"], "ada");
        assert_eq!(v["Operations"][2]["value"]["displayName"], "Ada");
        assert_eq!(v["Operations"][3]["data"]["userName"], "b");
        assert_eq!(v["password"], MASK);
        assert!(secrets.contains(&"patched-pw".to_owned()) && secrets.contains(&"k-123456".to_owned()));
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_only_without_anything_secret_looking() {
        let plain = body(b"{\"userName\": \"ada\", \"active\": tru")
            .text
            .unwrap_or_default();
        assert!(plain.starts_with("[not JSON, 33 bytes] {\"userName\""), "{plain}");
        for secretive in [
            &b"{\"userName\": \"ada\", \"password\": \"hunter2\""[..],
            b"userName=ada&pwd=hunter2",
            b"Authorization: Bearer abc",
        ] {
            let kept = body(secretive).text.unwrap_or_default();
            assert!(kept.contains("not kept") && !kept.contains("hunter2"), "{kept}");
        }
        assert_eq!(body(b"  ").text, None);
    }

    #[test]
    fn long_bodies_are_cut_to_the_limit_after_masking() {
        let long = "x".repeat(40_000);
        let m = body(
            json!({"password": long.clone(), "description": long})
                .to_string()
                .as_bytes(),
        );
        let text = m.text.unwrap_or_default();
        assert!(text.len() <= MAX_BODY, "{}", text.len());
        assert!(text.starts_with("{\"password\":\"********\""), "{}", &text[..40]);
        assert!(text.ends_with("bytes in all]"));
        let cut_short = cut("é".repeat(100), 50);
        assert!(cut_short.len() <= 50 && cut_short.starts_with("éé"), "{cut_short}");
    }

    #[test]
    fn query_parameters_that_look_secret_are_masked() {
        let (p, secrets) = path("/Users?filter=userName%20eq%20%22ada%22&access_token=abcdefgh");
        assert_eq!(p, "/Users?filter=userName%20eq%20%22ada%22&access_token=********");
        assert_eq!(secrets, vec!["abcdefgh".to_owned()]);
        let (p, _) = path("/Users?filter=password+eq+%22hunter2%22");
        assert_eq!(p, "/Users?filter=********");
        assert_eq!(path("/Users/1").0, "/Users/1");
    }

    #[test]
    fn details_lose_the_secrets_of_their_body_and_any_token() {
        let secrets = vec!["hunter2-long".to_owned(), "ab".to_owned()];
        let d = scrub(
            "value 'hunter2-long' is not a boolean; about scimd_0123456789012345678901234567890123456789012",
            &secrets,
        );
        assert_eq!(d, "value '********' is not a boolean; about ********");
    }
}
