//! Request bodies: JSON as `application/scim+json` or `application/json` (RFC 7644 §3.1,
//! §8.1), bounded in size, and answered with SCIM errors when they are not.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use scim_proto::error::{ScimError, ScimType};
use serde_json::Value;

use crate::error::ApiError;

/// A parsed JSON request body.
pub struct ScimJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let media = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media != "application/scim+json" && media != "application/json" {
            return Err(ScimError::new(
                415,
                None,
                format!("send the body as application/scim+json or application/json (got '{ctype}')"),
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(413, None, "the request body is larger than this server accepts")
            } else {
                ScimError::bad_request(ScimType::InvalidSyntax, "the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(ScimJson).map_err(ApiError::from)
    }
}

/// JSON parsing with a nesting limit, so a hostile body cannot exhaust the stack.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    const MAX_DEPTH: usize = 64;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidSyntax,
                        format!("the JSON body nests deeper than {MAX_DEPTH} levels"),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the request body is not valid JSON: {e}"),
        )
    })
}
