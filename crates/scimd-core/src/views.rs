//! What administrators are shown, once for every front end: the console, the admin API and
//! the CLI's `--json` render providers, tokens, resources and audit events from these
//! shapes (and audit events as CSV), and derive a provider's four values — Base URL, Token
//! URL, Client ID, Client secret — from the server's public URL in one place.

use scim_proto::schema::{ENTERPRISE_USER_SCHEMA, ResourceKind};
use serde_json::{Map, Value, json};

use crate::browse::ResourceView;
use crate::clock::Timestamp;
use crate::grants::IssuedToken;
use crate::lifecycle::access::{ACCESS_SCHEMA, AccessState, access_extension};
use crate::lifecycle::{DeletedRecord, GuardRefusal, GuardState};
use crate::provider::{ExtensionDecl, Provider};
use crate::request_log::{LogEntry, LogHealth};
use crate::resource::Discovered;
use crate::resource::ResourceRecord;
use crate::store::{MemberRow, StoredAuditEvent};
use crate::token::{EXPIRY_WARNING_SECONDS, TokenRecord, latest_live_expiry};

/// The server's externally visible origin and the URLs derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    public: String,
}

impl Urls {
    pub fn new(public_url: &str) -> Self {
        Urls {
            public: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The origin, without a trailing slash.
    pub fn public(&self) -> &str {
        &self.public
    }

    /// A provider's SCIM Base URL.
    pub fn base(&self, provider: &str) -> String {
        format!("{}/scim/v2/{provider}", self.public)
    }

    /// The OAuth 2.0 token endpoint.
    pub fn token(&self) -> String {
        format!("{}/oauth2/token", self.public)
    }

    /// A setup link's page.
    pub fn setup(&self, code: &str) -> String {
        format!("{}/setup/{code}", self.public)
    }
}

/// Where a resource lives under its provider's Base URL.
pub fn location(base: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base}{}/{id}", kind.endpoint())
}

/// A stored record as the SCIM resource its provider's clients see (RFC 7643 §3.1), without
/// memberships: `schemas`, `id`, the client's attributes, a user's access extension (its
/// state at `now`), and `meta` with location and version.
pub fn scim_resource(base: &str, rec: &ResourceRecord, now: Timestamp) -> Value {
    let mut out = Map::new();
    let data = rec.data.as_object();
    let mut schemas = data
        .and_then(|d| d.get("schemas"))
        .cloned()
        .unwrap_or_else(|| json!([rec.kind.core_schema().id]));
    if rec.access_end.is_some()
        && let Some(list) = schemas.as_array_mut()
    {
        list.push(json!(ACCESS_SCHEMA));
    }
    out.insert("schemas".into(), schemas);
    out.insert("id".into(), json!(rec.id));
    if let Some(d) = data {
        for (k, v) in d {
            if k != "schemas" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    // The manager's `$ref` is the server's to state (RFC 7643 §4.3), from its id.
    if let Some(manager) = out.get_mut(ENTERPRISE_USER_SCHEMA).and_then(|e| e.get_mut("manager"))
        && let Some(id) = manager.get("value").and_then(Value::as_str).map(str::to_owned)
        && let Some(m) = manager.as_object_mut()
    {
        m.insert("$ref".into(), json!(location(base, ResourceKind::User, &id)));
    }
    if let Some(end) = rec.access_end {
        out.insert(ACCESS_SCHEMA.into(), access_extension(end, now));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": rec.kind.name(),
            "created": rec.created.to_rfc3339(),
            "lastModified": rec.modified.to_rfc3339(),
            "location": location(base, rec.kind, &rec.id),
            "version": rec.etag(),
        }),
    );
    Value::Object(out)
}

/// A provider's token status: when its last live token expires, and whether that is soon.
pub struct TokenStatus {
    pub expires: Option<Timestamp>,
    pub expiring_soon: bool,
}

impl TokenStatus {
    pub fn of(tokens: &[TokenRecord], now: Timestamp) -> TokenStatus {
        let expires = latest_live_expiry(tokens, now);
        TokenStatus {
            expiring_soon: expires.is_some_and(|e| e.seconds() - now.seconds() < EXPIRY_WARNING_SECONDS),
            expires,
        }
    }
}

/// A provider with its four values; the client secret only when given (just made, or
/// revealed), its token status when known.
pub fn provider_json(urls: &Urls, p: &Provider, status: Option<&TokenStatus>, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": p.id.as_str(),
        "name": p.name,
        "population": p.population.as_str(),
        "enabled": p.enabled,
        "description": p.description,
        "tags": p.tags,
        "base_url": urls.base(p.id.as_str()),
        "token_url": urls.token(),
        "client_id": p.client_id.as_str(),
        "token_ttl_seconds": p.token_ttl_seconds,
        "allowed_networks": p.allowed_networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "group_patch_response": p.settings.group_patch_response.as_str(),
        "undeclared": p.settings.undeclared.as_str(),
        "secret_lost": p.settings.secret_lost,
        "log_failure_retention_seconds": p.settings.log.failure_retention_seconds,
        "log_failure_max": p.settings.log.failure_max,
        "log_success_max": p.settings.log.success_max,
        "on_delete": p.settings.on_delete.as_str(),
        "retention_seconds": p.settings.retention_seconds,
        "access_ttl_seconds": p.settings.access_ttl_seconds,
        "guard": {
            "enabled": p.settings.guard.enabled,
            "share_percent": p.settings.guard.share_percent,
            "window_seconds": p.settings.guard.window_seconds,
            "min_users": p.settings.guard.min_users,
        },
        "extensions": p.settings.extensions.iter().map(|e| json!({
            "schema": e.schema.id,
            "resourceType": e.resource_type.name(),
            "required": e.required,
            "index": e.index,
        })).collect::<Vec<_>>(),
        "created": p.created.to_rfc3339(),
        "modified": p.modified.to_rfc3339(),
    });
    if let Some(s) = status {
        v["token_expires"] = json!(s.expires.map(|t| t.to_rfc3339()));
        v["token_expiring_soon"] = json!(s.expiring_soon);
    }
    if let Some(secret) = secret {
        v["client_secret"] = json!(secret);
    }
    v
}

/// What the provisioning log says of a provider's connection: requests refused before
/// authentication, and whether most of its latest requests failed.
pub fn log_health_json(h: &LogHealth) -> Value {
    json!({
        "unauthenticated": h.unauthenticated,
        "last_unauthenticated": h.last_unauthenticated,
        "recent_total": h.recent_total,
        "recent_failed": h.recent_failed,
        "failing": h.failing(),
        "warning": h.warning(),
    })
}

/// One entry of a provider's provisioning log.
pub fn log_entry_json(e: &LogEntry) -> Value {
    json!({
        "seq": e.seq,
        "time": e.time,
        "method": e.method,
        "path": e.path,
        "status": e.status,
        "failed": e.failed,
        "latency_ms": latency_ms(e.latency_us),
        "request_id": e.request_id,
        "client": e.client,
        "user_agent": e.user_agent,
        "scim_type": e.scim_type,
        "detail": e.detail,
        "body": e.body,
    })
}

/// A latency in microseconds as milliseconds with three decimals.
pub fn latency_ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// An issued token's record: `live`, `revoked` or `expired` by its state at `now`.
pub fn token_state(t: &TokenRecord, now: Timestamp) -> &'static str {
    match (t.revoked, t.is_live(now)) {
        (Some(_), _) => "revoked",
        (None, true) => "live",
        (None, false) => "expired",
    }
}

pub fn token_json(t: &TokenRecord, now: Timestamp) -> Value {
    json!({
        "id": t.id,
        "created": t.created.to_rfc3339(),
        "expires": t.expires.to_rfc3339(),
        "last_used": t.last_used.map(|x| x.to_rfc3339()),
        "revoked": t.revoked.map(|x| x.to_rfc3339()),
        "live": t.is_live(now),
        "setup_link": t.setup_link,
    })
}

/// A setup link as listed: never its code (which is not kept), with how many tokens were
/// made through it.
pub fn setup_link_json(l: &crate::setup::SetupLink, tokens: usize, now: Timestamp) -> Value {
    json!({
        "id": l.id,
        "provider": l.provider.as_str(),
        "state": l.state(now),
        "created": l.created.to_rfc3339(),
        "created_by": l.created_by,
        "expires": l.expires.to_rfc3339(),
        "revoked": l.revoked.map(|x| x.to_rfc3339()),
        "reveal_secret": l.reveal_secret,
        "secret_revealed": l.secret_revealed.map(|x| x.to_rfc3339()),
        "first_viewed": l.first_viewed.map(|x| x.to_rfc3339()),
        "tokens": tokens,
    })
}

/// A link just made: the one time its URL is shown.
pub fn created_setup_link_json(urls: &Urls, c: &crate::setup::CreatedLink) -> Value {
    json!({
        "id": c.link.id,
        "url": urls.setup(&c.code),
        "expires": c.link.expires.to_rfc3339(),
        "reveal_secret": c.link.reveal_secret,
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

/// A user or group as administrators see it: the SCIM resource with its provider and
/// population, a user's effective state (`access_state`: active, inactive or expired) and a
/// group's member count.
pub fn resource_json(urls: &Urls, v: &ResourceView, now: Timestamp) -> Value {
    let r = &v.record;
    let mut doc = scim_resource(&urls.base(r.provider.as_str()), r, now);
    doc["provider"] = json!(r.provider.as_str());
    doc["population"] = json!(r.population.as_str());
    match r.kind {
        ResourceKind::Group => doc["memberCount"] = json!(v.count),
        ResourceKind::User => doc["access_state"] = json!(AccessState::of(r, now).as_str()),
    }
    doc
}

/// A soft-deleted user or group: the resource as it was, who deleted it and when, and when
/// it is purged.
pub fn deleted_json(urls: &Urls, d: &DeletedRecord, now: Timestamp) -> Value {
    let r = &d.record;
    let mut doc = scim_resource(&urls.base(r.provider.as_str()), r, now);
    doc["provider"] = json!(r.provider.as_str());
    doc["population"] = json!(r.population.as_str());
    doc["deleted"] = json!(d.deleted.to_rfc3339());
    doc["deleted_by"] = json!(d.deleted_by);
    doc["purge_after"] = json!(d.purge_after.to_rfc3339());
    doc
}

/// A provider's mass-deletion guard: tripped (and why) or not, and the last release.
pub fn guard_json(g: &GuardState) -> Value {
    json!({
        "tripped": g.tripped.is_some(),
        "tripped_at": g.tripped.as_ref().map(|t| t.tripped_at.to_rfc3339()),
        "detail": g.tripped.as_ref().map(GuardRefusal::detail),
        "released_at": g.released.as_ref().map(|(at, _)| at.to_rfc3339()),
        "released_by": g.released.as_ref().map(|(_, by)| by),
    })
}

/// A declared extension schema: its URN, the resource type, whether it is required, the
/// indexed attributes, and the schema itself (RFC 7643 §7).
pub fn extension_json(e: &ExtensionDecl) -> Value {
    json!({
        "id": e.schema.id,
        "resourceType": e.resource_type.name(),
        "required": e.required,
        "index": crate::extensions::index_summary(e),
        "schema": e.schema.to_json(),
    })
}

/// An attribute a provider sent that no schema declares.
pub fn discovered_json(d: &Discovered) -> Value {
    json!({
        "resourceType": d.kind.name(),
        "schema": if d.uri.is_empty() { d.kind.core_schema().id.clone() } else { d.uri.clone() },
        "name": d.name,
        "type": d.json_type,
        "firstSeen": d.first_seen.to_rfc3339(),
    })
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

/// The header row of [`audit_csv_row`]s.
pub const AUDIT_CSV_HEADER: &str = "seq,time,actor,action,provider,resource,population,attributes\r\n";

/// One CSV row of an audit event (RFC 4180 quoting; cells that a spreadsheet would run as a
/// formula are prefixed with `'`).
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

/// The largest of days, hours and minutes that divides `secs` (else seconds): the count,
/// the unit as typed, the unit for people.
fn unit_of(secs: i64) -> (i64, &'static str, &'static str) {
    [(86_400, "d", "days"), (3600, "h", "hours"), (60, "m", "minutes")]
        .into_iter()
        .find(|(n, _, _)| secs % n == 0)
        .map_or((secs, "s", "seconds"), |(n, short, long)| (secs / n, short, long))
}

/// A duration as an administrator would type it back into a form: `30d`, `12h`, `10m`, `45s`.
pub fn typed_duration(secs: i64) -> String {
    let (n, unit, _) = unit_of(secs);
    format!("{n}{unit}")
}

/// A reading of a duration in seconds for people: `30 days`, `10 minutes`.
pub fn human_duration(secs: i64) -> String {
    let (n, _, unit) = unit_of(secs);
    format!("{n} {unit}")
}

/// A subscription as administrators see it (secrets never), with how far behind it is.
pub fn subscription_json(
    urls: &Urls,
    s: &crate::events::subscription::Subscription,
    lag: Option<&crate::events::service::Lag>,
) -> Value {
    let mut v = json!({
        "id": s.id,
        "format": s.format.as_str(),
        "url": s.url,
        "providers": s.providers,
        "population": s.population.map(|p| p.as_str()),
        "events": s.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "payload": s.payload.as_str(),
        "state": s.state.as_str(),
        "state_reason": s.state_reason,
        "created": s.created,
        "last_success": s.last_success,
        "last_error": s.last_error,
        "last_error_at": s.last_error_at,
        "secret_overlap_until": s.old_until,
    });
    if s.is_poll() {
        v["poll_url"] = json!(poll_url(urls, &s.id));
    }
    if let Some(lag) = lag {
        v["lag_events"] = json!(lag.events);
        v["lag_seconds"] = json!(lag.seconds);
    }
    v
}

/// Where an RFC 8936 receiver polls subscription `id`.
pub fn poll_url(urls: &Urls, id: &str) -> String {
    format!("{}/events/poll/{id}", urls.public())
}

/// A subscription just made, with the secret or poll token that is shown only this once.
pub fn created_subscription_json(urls: &Urls, c: &crate::events::service::CreatedSubscription) -> Value {
    let mut v = subscription_json(urls, &c.subscription, None);
    if let Some(secret) = &c.secret {
        v["secret"] = json!(secret);
    }
    if let Some(token) = &c.poll_token {
        v["poll_token"] = json!(token);
    }
    v
}

/// A change event as stored (the CLI's `events list` and `events tail`).
pub fn change_event_json(e: &crate::events::ChangeEvent) -> Value {
    json!({
        "id": e.id,
        "provider": e.provider,
        "population": e.population.as_str(),
        "position": e.position,
        "time": e.time,
        "type": e.event_type.as_str(),
        "resource_type": e.resource_kind.map(|k| k.name()),
        "resource_id": e.resource_id,
        "member_id": e.member_id,
        "attributes": e.attributes,
        "txn": e.txn,
    })
}

pub fn attempt_json(a: &crate::events::subscription::Attempt) -> Value {
    json!({
        "event_id": a.event_id,
        "provider": a.provider,
        "position": a.position,
        "time": a.time,
        "status": a.status,
        "latency_ms": a.latency_ms,
        "answer": a.answer,
    })
}

pub fn dead_letter_json(d: &crate::events::subscription::DeadLetter) -> Value {
    json!({
        "event_id": d.event_id,
        "provider": d.provider,
        "position": d.position,
        "time": d.time,
        "reason": d.reason,
    })
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
    fn durations_read_back_as_typed_and_for_people() {
        assert_eq!(typed_duration(30 * 86_400), "30d");
        assert_eq!(typed_duration(600), "10m");
        assert_eq!(typed_duration(7200), "2h");
        assert_eq!(typed_duration(2), "2s");
        assert_eq!(human_duration(600), "10 minutes");
    }

    #[test]
    fn urls_derive_from_the_public_origin() {
        let u = Urls::new("https://scimd.example.com/");
        assert_eq!(u.base("okta"), "https://scimd.example.com/scim/v2/okta");
        assert_eq!(u.token(), "https://scimd.example.com/oauth2/token");
        assert_eq!(
            location(&u.base("okta"), ResourceKind::User, "1"),
            "https://scimd.example.com/scim/v2/okta/Users/1"
        );
    }
}
