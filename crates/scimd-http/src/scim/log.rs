//! What the SCIM middleware hands to the provisioning log: the request as it arrived (taken
//! before the handler consumes it, nothing copied), then the answer's status and SCIM error
//! (from the answer's extensions, never by parsing its body back) and, for a failure, the
//! body the request carried. The core masks and queues it.

use std::net::IpAddr;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::Response;

use crate::AppState;
use crate::error::ErrorNote;
use crate::request_id::RequestId;

/// An authenticated request on its way to the log.
pub(super) struct Seen {
    started: Instant,
    provider: String,
    method: Method,
    uri: Uri,
    user_agent: Option<HeaderValue>,
    request_id: Option<RequestId>,
    client: IpAddr,
}

impl Seen {
    /// When the log is on: what the request says about itself. `uri` is the original URI
    /// (with `/scim/v2/{provider}`), `provider` the authenticated provider's id.
    pub(super) fn of(
        state: &AppState,
        req: &Request,
        uri: &Uri,
        provider: &str,
        client: IpAddr,
        started: Instant,
    ) -> Option<Seen> {
        state.core.logging_requests().then(|| Seen {
            started,
            provider: provider.to_owned(),
            method: req.method().clone(),
            uri: uri.clone(),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            request_id: req.extensions().get::<RequestId>().cloned(),
            client,
        })
    }

    /// The path under the Base URL, with the query.
    fn relative(&self) -> &str {
        let all = self.uri.path_and_query().map_or("", |p| p.as_str());
        let prefix = "/scim/v2/".len() + self.provider.len();
        match all.get(prefix..) {
            Some("") | None => "/",
            Some(rest) => rest,
        }
    }

    /// Record the answer `resp` to this request, which carried `body`.
    pub(super) fn record(&self, state: &AppState, resp: &Response, body: &[u8]) {
        let note = resp.extensions().get::<ErrorNote>();
        let status = resp.status().as_u16();
        let failed = status >= 400 || note.is_some_and(|n| n.partial);
        let ua = self.user_agent.as_ref().and_then(|v| v.to_str().ok());
        state.core.log_request(&scimd_core::request_log::ObservedRequest {
            provider: &self.provider,
            method: self.method.as_str(),
            path: self.relative(),
            status,
            failed,
            latency: self.started.elapsed(),
            request_id: self.request_id.as_ref().map_or("", |r| &r.0),
            client: self.client,
            user_agent: ua,
            scim_type: note.and_then(|n| n.scim_type),
            detail: note.map(|n| n.detail.as_str()),
            body,
        });
    }
}
