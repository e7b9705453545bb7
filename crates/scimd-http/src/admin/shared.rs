//! What the console and the admin API share: parsing an administrator's input into domain
//! values, the JSON shape of providers, tokens, resources and audit events, and the status
//! each domain error maps to. One piece of code per idea; the two surfaces only differ in
//! how they render.

use axum::http::StatusCode;
use scim_proto::schema::ResourceKind;
use scimd_core::browse::ResourceView;
use scimd_core::provider::{DEFAULT_TOKEN_TTL_SECONDS, parse_duration};
use scimd_core::service::{IssuedToken, ProviderUpdate};
use scimd_core::store::MemberRow;
use scimd_core::token::latest_live_expiry;
use scimd_core::{Cidr, CoreError, NewProvider, Population, Provider, StoredAuditEvent, Timestamp, TokenRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;

/// A provider's settings as an administrator enters them (a form or a JSON body).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub name: Option<String>,
    pub population: Option<String>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    /// A lifetime such as `365d`.
    pub token_ttl: Option<String>,
    /// Or the date tokens issued today should expire (`YYYY-MM-DD`).
    pub token_expiry_date: Option<String>,
    pub allowed_networks: Option<Vec<String>>,
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Invalid(msg.into())
}

fn clean(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

impl ProviderInput {
    fn ttl(&self, now: Timestamp) -> Result<Option<i64>, CoreError> {
        let ttl = self.token_ttl.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let date = self
            .token_expiry_date
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        match (ttl, date) {
            (Some(_), Some(_)) => Err(invalid("give a token lifetime or an expiry date, not both")),
            (Some(t), None) => parse_duration(t).map(Some).map_err(invalid),
            (None, Some(d)) => {
                let at = Timestamp::parse_rfc3339(&format!("{d}T00:00:00Z"))
                    .ok_or_else(|| invalid(format!("'{d}' is not a date (YYYY-MM-DD)")))?;
                let secs = at.seconds() - now.seconds();
                parse_duration(&secs.max(0).to_string()).map(Some).map_err(|_| {
                    invalid(format!(
                        "the expiry date {d} must be between tomorrow and 10 years from now"
                    ))
                })
            }
            (None, None) => Ok(None),
        }
    }

    fn networks(&self) -> Result<Option<Vec<Cidr>>, CoreError> {
        self.allowed_networks
            .as_ref()
            .map(|l| {
                clean(l)
                    .iter()
                    .map(|n| n.parse::<Cidr>())
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(invalid)
    }

    pub fn into_new(self, now: Timestamp) -> Result<NewProvider, CoreError> {
        let population: Population = self
            .population
            .as_deref()
            .ok_or_else(|| invalid("choose a population: internal or third-party"))?
            .parse()
            .map_err(invalid)?;
        Ok(NewProvider {
            token_ttl_seconds: self.ttl(now)?.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS),
            allowed_networks: self.networks()?.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            population,
            enabled: self.enabled.unwrap_or(true),
            description: self.description.unwrap_or_default().trim().to_owned(),
            tags: self.tags.as_deref().map(clean).unwrap_or_default(),
        })
    }

    /// The changes to an existing provider. The population may not change.
    pub fn into_update(self, now: Timestamp) -> Result<(ProviderUpdate, Option<bool>), CoreError> {
        if self.population.is_some() {
            return Err(invalid("a provider's population is fixed once saved"));
        }
        let update = ProviderUpdate {
            token_ttl_seconds: self.ttl(now)?,
            allowed_networks: self.networks()?,
            name: self.name,
            description: self.description.map(|d| d.trim().to_owned()),
            tags: self.tags.as_deref().map(clean),
        };
        Ok((update, self.enabled))
    }
}

/// Split a comma-separated form field into a list.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

pub fn parse_population(s: &str) -> Result<Population, CoreError> {
    s.parse().map_err(|_| CoreError::NotFound(format!("population '{s}'")))
}

/// A provider's token status: when its last live token expires, and whether that is soon.
pub struct TokenStatus {
    pub expires: Option<Timestamp>,
    pub expiring_soon: bool,
}

pub fn token_status(tokens: &[TokenRecord], now: Timestamp) -> TokenStatus {
    let expires = latest_live_expiry(tokens, now);
    TokenStatus {
        expiring_soon: expires.is_some_and(|e| e.seconds() - now.seconds() < scimd_core::token::EXPIRY_WARNING_SECONDS),
        expires,
    }
}

/// A provider as JSON (without its secret), for the admin API and `scimd provider --json`.
pub fn provider_json(public_url: &str, p: &Provider, status: Option<&TokenStatus>) -> Value {
    let mut v = json!({
        "id": p.id.as_str(),
        "name": p.name,
        "population": p.population.as_str(),
        "enabled": p.enabled,
        "description": p.description,
        "tags": p.tags,
        "base_url": crate::base_url(public_url, p.id.as_str()),
        "token_url": crate::token_url(public_url),
        "client_id": p.client_id.as_str(),
        "token_ttl_seconds": p.token_ttl_seconds,
        "allowed_networks": p.allowed_networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "created": p.created.to_rfc3339(),
        "modified": p.modified.to_rfc3339(),
    });
    if let Some(s) = status {
        v["token_expires"] = json!(s.expires.map(|t| t.to_rfc3339()));
        v["token_expiring_soon"] = json!(s.expiring_soon);
    }
    v
}

pub fn token_json(t: &TokenRecord, now: Timestamp) -> Value {
    json!({
        "id": t.id,
        "created": t.created.to_rfc3339(),
        "expires": t.expires.to_rfc3339(),
        "last_used": t.last_used.map(|x| x.to_rfc3339()),
        "revoked": t.revoked.map(|x| x.to_rfc3339()),
        "live": t.is_live(now),
    })
}

/// A freshly issued activation token: the one time it is shown.
pub fn issued_json(t: &IssuedToken) -> Value {
    json!({
        "access_token": t.token.as_str(),
        "token_type": "Bearer",
        "id": t.record.id,
        "expires": t.record.expires.to_rfc3339(),
        "expires_in": t.record.expires.seconds() - t.record.created.seconds(),
    })
}

pub fn resource_json(state: &AppState, v: &ResourceView) -> Value {
    let r = &v.record;
    let mut doc = crate::render_resource(&state.public_url, r);
    doc["provider"] = json!(r.provider.as_str());
    doc["population"] = json!(r.population.as_str());
    if r.kind == ResourceKind::Group {
        doc["memberCount"] = json!(v.count);
    }
    doc
}

pub fn member_json(m: &MemberRow) -> Value {
    json!({"value": m.member.id, "type": m.member.kind.name(), "display": m.member.display})
}

pub fn audit_json(e: &StoredAuditEvent) -> Value {
    json!({
        "seq": e.seq,
        "time": e.time.to_rfc3339(),
        "actor": e.actor,
        "action": e.action,
        "provider": e.provider,
        "resource": e.resource,
        "population": e.population,
        "attributes": e.attributes,
    })
}

/// The header row and one CSV row of an audit event (RFC 4180 quoting; cells that a
/// spreadsheet would run as a formula are prefixed with `'`).
pub const AUDIT_CSV_HEADER: &str = "seq,time,actor,action,provider,resource,population,attributes\r\n";

pub fn audit_csv_row(e: &StoredAuditEvent) -> String {
    let cells = [
        e.seq.to_string(),
        e.time.to_rfc3339(),
        e.actor.clone(),
        e.action.clone(),
        e.provider.clone().unwrap_or_default(),
        e.resource.clone().unwrap_or_default(),
        e.population.clone().unwrap_or_default(),
        e.attributes.join(" "),
    ];
    let mut row = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    row.push_str("\r\n");
    row
}

fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `resp` with a `Retry-After` header when `e` is a rate limit (RFC 6585 §4).
pub fn with_retry_after(e: &CoreError, mut resp: axum::response::Response) -> axum::response::Response {
    if let CoreError::TooManyAttempts(secs) = e
        && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    resp
}

/// The HTTP status and the message an administrator sees for a domain error. A storage
/// failure says nothing about internals; its cause is logged.
pub fn status_of(e: &CoreError) -> (StatusCode, String) {
    match e {
        CoreError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
        CoreError::Invalid(m) => (StatusCode::BAD_REQUEST, m.clone()),
        CoreError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
        CoreError::PreconditionFailed(_) => (StatusCode::PRECONDITION_FAILED, e.to_string()),
        CoreError::InvalidClient => (StatusCode::UNAUTHORIZED, "wrong name or password".into()),
        CoreError::TooManyAttempts(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed attempts; try again in {secs} s"),
        ),
        CoreError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
        CoreError::Scim(s) => (
            StatusCode::from_u16(s.status).unwrap_or(StatusCode::BAD_REQUEST),
            s.detail.clone(),
        ),
        CoreError::Store(s) => {
            tracing::error!(error = %s, "storage failure");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error".into())
        }
    }
}

/// The audit filters as both surfaces take them from a query string.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    pub provider: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD`.
    pub since: Option<String>,
    pub until: Option<String>,
    pub before: Option<i64>,
    pub count: Option<u32>,
}

fn time_param(name: &str, s: &Option<String>) -> Result<Option<Timestamp>, CoreError> {
    let Some(s) = s.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    Timestamp::parse_rfc3339(s)
        .or_else(|| Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")))
        .map(Some)
        .ok_or_else(|| invalid(format!("{name} '{s}' is not a time (RFC 3339 or YYYY-MM-DD)")))
}

impl AuditFilter {
    pub fn query(&self, default_count: u32) -> Result<scimd_core::AuditQuery, CoreError> {
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(scimd_core::AuditQuery {
            provider: text(&self.provider),
            action: text(&self.action),
            actor: text(&self.actor),
            resource: text(&self.resource),
            since: time_param("since", &self.since)?,
            until: time_param("until", &self.until)?,
            before_seq: self.before,
            limit: self.count.unwrap_or(default_count),
        })
    }
}

/// The provider's Postman collection (v2.1) as a download. It holds the client secret, so
/// building it is an audited reveal.
pub async fn postman(
    state: &AppState,
    id: &str,
    actor: &scimd_core::Actor,
) -> Result<axum::response::Response, CoreError> {
    use axum::response::IntoResponse;
    let p = state.core.provider(id).await?;
    let secret = state.core.reveal_secret(id, actor).await?;
    let collection = scimd_client::postman::collection(&scimd_client::postman::CollectionValues {
        provider_name: &p.name,
        server_url: &state.public_url,
        base_url: &state.base_url(p.id.as_str()),
        token_url: &state.token_url(),
        client_id: p.client_id.as_str(),
        client_secret: &secret,
    });
    let body = serde_json::to_string_pretty(&collection).unwrap_or_default();
    let disposition = format!("attachment; filename=\"{}.postman_collection.json\"", p.id);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/json".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
    }

    #[test]
    fn lists_split_on_commas_and_lines() {
        assert_eq!(split_list(" a, b\nc ,, "), vec!["a", "b", "c"]);
    }
}
