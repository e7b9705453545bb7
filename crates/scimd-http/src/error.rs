//! One mapping from domain errors to the wire: SCIM Error messages (RFC 7644 §3.12) on SCIM
//! routes, OAuth error JSON (RFC 6749 §5.2) on the token endpoints. A 500 says nothing about
//! internals; its cause is logged.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim_proto::error::{ScimError, ScimType};
use scimd_core::CoreError;
use serde_json::json;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// An error on a SCIM route.
#[derive(Debug)]
pub struct ApiError {
    pub error: ScimError,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

impl From<ScimError> for ApiError {
    fn from(error: ScimError) -> Self {
        ApiError {
            error,
            headers: Vec::new(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::from(scim_error(e))
    }
}

pub fn scim_error(e: CoreError) -> ScimError {
    match e {
        CoreError::NotFound(what) => ScimError::new(404, None, format!("{what} not found")),
        CoreError::Invalid(detail) => ScimError::new(400, Some(ScimType::InvalidValue), detail),
        CoreError::Conflict(detail) => ScimError::new(409, Some(ScimType::Uniqueness), detail),
        CoreError::PreconditionFailed(current) => ScimError::new(
            412,
            None,
            format!("the resource has changed; its current version is {current}"),
        ),
        CoreError::InvalidClient => ScimError::new(401, None, "authentication failed"),
        CoreError::Forbidden(detail) => ScimError::new(403, None, detail),
        CoreError::Scim(e) => e,
        CoreError::TooManyAttempts(secs) => {
            ScimError::new(429, None, format!("too many failed attempts; retry after {secs} s"))
        }
        CoreError::Store(e) => {
            tracing::error!(error = %e, "storage failure");
            ScimError::new(500, None, "internal server error")
        }
    }
}

pub fn scim_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = scim_json(status, &self.error.to_json());
        for (name, value) in self.headers {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

/// An error at the token, revocation or metadata endpoints (RFC 6749 §5.2, RFC 7009 §2.2.1).
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// Answer `WWW-Authenticate: Basic` (the client authenticated, or tried to, with Basic).
    pub basic_challenge: bool,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<i64>,
}

impl OAuthError {
    pub fn with_status(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self::with_status(StatusCode::BAD_REQUEST, code, description)
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    /// Unknown client and wrong secret read the same. With Basic credentials the answer is
    /// 401 with a Basic challenge (RFC 6749 §5.2).
    pub fn invalid_client(used_basic: bool) -> Self {
        let status = if used_basic {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        OAuthError {
            basic_challenge: used_basic,
            ..Self::with_status(status, "invalid_client", "client authentication failed")
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if self.basic_challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"scimd\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}

impl From<CoreError> for OAuthError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidClient => OAuthError::invalid_client(false),
            CoreError::Forbidden(detail) => OAuthError::new("unauthorized_client", detail),
            CoreError::Invalid(detail) => OAuthError::invalid_request(detail),
            // RFC 6749 has no code for this; the client's credentials are what is refused.
            CoreError::TooManyAttempts(secs) => OAuthError {
                retry_after: Some(secs),
                ..OAuthError::with_status(
                    StatusCode::TOO_MANY_REQUESTS,
                    "invalid_client",
                    format!("too many failed attempts; retry after {secs} s"),
                )
            },
            other => {
                tracing::error!(error = %other, "token endpoint failure");
                OAuthError::with_status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal server error",
                )
            }
        }
    }
}
