//! The client-credentials grant from the client's side (RFC 6749 §4.4, §2.3.1, §5).

use std::time::Duration;

use base64::Engine;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic`, each part form-urlencoded first (RFC 6749 §2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub auth: ClientAuth,
    pub scope: Option<String>,
    /// Trust these roots instead of the web's (a private CA).
    pub ca: Option<crate::CaRoots>,
}

/// Every way a token request can fail, each worded for one line on a terminal.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("'{0}' is not an http(s) URL")]
    BadUrl(String),
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the token endpoint refused the request: {code}{}", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        status: u16,
        code: String,
        description: Option<String>,
    },
    #[error("the token endpoint answered HTTP {status} without an OAuth error: {snippet}")]
    Http { status: u16, snippet: String },
    #[error("the token endpoint's answer is not a token response: {0}")]
    NotJson(String),
}

/// RFC 6749 Appendix B: `application/x-www-form-urlencoded` encoding.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn snippet(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 160 {
        format!("{}...", one_line.chars().take(160).collect::<String>())
    } else if one_line.is_empty() {
        "(empty body)".into()
    } else {
        one_line
    }
}

/// Perform the grant; on success the whole JSON token response (it has `access_token`).
pub fn request_token(req: &TokenRequest) -> Result<Value, TokenError> {
    let url = req.token_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(TokenError::BadUrl(url.to_owned()));
    }
    let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    if let Some(scope) = &req.scope {
        form.push(("scope".into(), scope.clone()));
    }
    if req.auth == ClientAuth::Body {
        form.push(("client_id".into(), req.client_id.clone()));
        form.push(("client_secret".into(), req.client_secret.clone()));
    }
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(crate::tls::config(req.ca.as_ref()))
        .build()
        .into();
    let mut call = agent
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json");
    if req.auth == ClientAuth::Basic {
        let pair = format!("{}:{}", form_encode(&req.client_id), form_encode(&req.client_secret));
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        call = call.header("Authorization", &format!("Basic {encoded}"));
    }
    let mut resp = call.send(body.as_str()).map_err(|e| TokenError::Connect {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().map_err(|e| TokenError::Connect {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let json: Option<Value> = serde_json::from_str(&text).ok();
    match (status, json) {
        (200..=299, Some(v)) if v.get("access_token").and_then(Value::as_str).is_some() => Ok(v),
        (200..=299, _) => Err(TokenError::NotJson(snippet(&text))),
        (_, Some(v)) if v.get("error").and_then(Value::as_str).is_some() => Err(TokenError::OAuth {
            status,
            code: v["error"].as_str().unwrap_or_default().to_owned(),
            description: v.get("error_description").and_then(Value::as_str).map(str::to_owned),
        }),
        (_, _) => Err(TokenError::Http {
            status,
            snippet: snippet(&text),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_what_rfc_6749_appendix_b_says() {
        assert_eq!(form_encode("abc123"), "abc123");
        assert_eq!(form_encode("a b:c%"), "a+b%3Ac%25");
        assert_eq!(form_encode("é"), "%C3%A9");
    }

    #[test]
    fn a_token_url_must_be_http() {
        let req = TokenRequest {
            token_url: "ftp://x".into(),
            client_id: "a".into(),
            client_secret: "b".into(),
            auth: ClientAuth::Basic,
            scope: None,
            ca: None,
        };
        assert!(matches!(request_token(&req), Err(TokenError::BadUrl(_))));
    }
}
