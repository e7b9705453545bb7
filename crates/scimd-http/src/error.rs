//! One table from domain errors to the wire ([`problem`]): its status, SCIM `scimType`,
//! detail and `Retry-After` serve SCIM Error messages (RFC 7644 §3.12) on SCIM routes, the
//! admin API's JSON and the console's pages; OAuth error JSON (RFC 6749 §5.2) on the token
//! endpoints has its own codes. A 500 says nothing about internals; its cause is logged.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim_proto::error::{ScimError, ScimType};
use scimd_core::{CoreError, StoreError};
use serde_json::json;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// What a domain error is on the wire, whichever surface answers it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<i64>,
}

impl Problem {
    fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Problem {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// `resp` with the `Retry-After` this problem asks for (RFC 6585 §4, RFC 9110 §10.2.3).
    pub fn with_retry_after(&self, mut resp: Response) -> Response {
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Seconds a client is asked to wait when the database is unavailable.
pub const UNAVAILABLE_RETRY_AFTER: i64 = 5;

/// Seconds a client is asked to wait when the storage is full: space returns when someone
/// frees it, not in a moment.
pub const FULL_RETRY_AFTER: i64 = 30;

/// The one table.
pub fn problem(e: &CoreError) -> Problem {
    match e {
        CoreError::NotFound(what) => Problem::new(StatusCode::NOT_FOUND, None, format!("{what} not found")),
        CoreError::Invalid(detail) => Problem::new(StatusCode::BAD_REQUEST, Some(ScimType::InvalidValue), detail),
        CoreError::Conflict(detail) => Problem::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail),
        CoreError::PreconditionFailed(current) => Problem::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!("the resource has changed; its current version is {current}"),
        ),
        CoreError::InvalidClient => Problem::new(StatusCode::UNAUTHORIZED, None, "wrong name or password"),
        CoreError::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, None, detail),
        CoreError::Scim(e) => Problem::new(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.scim_type,
            e.detail.clone(),
        ),
        CoreError::TooManyAttempts(secs) => Problem {
            retry_after: Some(*secs),
            ..Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                format!("too many failed attempts; try again in {secs} s"),
            )
        },
        CoreError::Store(StoreError::Full(_)) => Problem {
            retry_after: Some(FULL_RETRY_AFTER),
            ..Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the server's storage is full: nothing was changed; retry later",
            )
        },
        // Not a storage outage: the provider's own removals tripped its guard. 503 with
        // Retry-After makes identity providers retry later, by when an administrator may
        // have released it; the detail names the guard.
        CoreError::Guarded(refusal) => Problem {
            retry_after: Some(scimd_core::lifecycle::guard::GUARD_RETRY_AFTER),
            ..Problem::new(StatusCode::SERVICE_UNAVAILABLE, None, refusal.detail())
        },
        CoreError::Store(StoreError::Unavailable(why)) => {
            tracing::warn!(error = %why, "database unavailable");
            Problem {
                retry_after: Some(UNAVAILABLE_RETRY_AFTER),
                ..Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "the database is unavailable; retry in a few seconds",
                )
            }
        }
        CoreError::Store(e) => {
            tracing::error!(error = %e, "storage failure");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal server error")
        }
    }
}

/// An error on a SCIM route: a SCIM Error message.
#[derive(Debug)]
pub struct ScimFailure {
    pub error: ScimError,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ScimFailure {
    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

impl From<ScimError> for ScimFailure {
    fn from(error: ScimError) -> Self {
        ScimFailure {
            error,
            headers: Vec::new(),
        }
    }
}

impl From<CoreError> for ScimFailure {
    fn from(e: CoreError) -> Self {
        let p = problem(&e);
        let mut failure = ScimFailure::from(scim_error(e));
        if let Some(secs) = p.retry_after {
            failure = failure.with_header(header::RETRY_AFTER, &secs.to_string());
        }
        failure
    }
}

/// A domain error as a SCIM Error message (a SCIM error passes through as it is).
pub fn scim_error(e: CoreError) -> ScimError {
    match e {
        CoreError::Scim(e) => e,
        other => {
            let p = problem(&other);
            ScimError::new(p.status.as_u16(), p.scim_type, p.detail)
        }
    }
}

pub fn scim_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    resp
}

/// The SCIM error an answer carries, in its extensions: the provisioning log reads it
/// there instead of parsing the body back.
#[derive(Debug, Clone)]
pub struct ErrorNote {
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// A Bulk request answered `200` some of whose operations failed: a failure all the same.
    pub partial: bool,
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = scim_json(status, &self.error.to_json());
        for (name, value) in self.headers {
            resp.headers_mut().insert(name, value);
        }
        resp.extensions_mut().insert(ErrorNote {
            scim_type: self.error.scim_type.map(|t| t.as_str()),
            detail: self.error.detail,
            partial: false,
        });
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
            CoreError::Store(StoreError::Full(_)) => OAuthError {
                retry_after: Some(FULL_RETRY_AFTER),
                ..OAuthError::with_status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the server's storage is full; retry later",
                )
            },
            CoreError::Store(StoreError::Unavailable(why)) => {
                tracing::warn!(error = %why, "database unavailable at the token endpoint");
                OAuthError {
                    retry_after: Some(UNAVAILABLE_RETRY_AFTER),
                    ..OAuthError::with_status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "the database is unavailable; retry in a few seconds",
                    )
                }
            }
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
