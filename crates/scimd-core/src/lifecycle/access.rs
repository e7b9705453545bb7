//! Access that ends: users of a provider with an access lifetime (`--access-ttl`) get an end
//! date when they are created, kept by scimd and moved only by an administrator's renewal.
//! The identity provider reads it, read-only, in the extension
//! `urn:scimd:params:scim:schemas:extension:access:2.0:User` (`accessEnd`, `state`); SCIM
//! `active` stays what the provider last set. The *effective* state — active and not
//! expired — is what administrators and change events see.

use std::sync::{Arc, LazyLock};

use scim_proto::filter::Filter;
use scim_proto::path::AttrPath;
use scim_proto::schema::{ResourceSchemas, Schema};
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::resource::ResourceRecord;

/// The access extension's URN.
pub const ACCESS_SCHEMA: &str = "urn:scimd:params:scim:schemas:extension:access:2.0:User";

/// Users whose access ends within this long are "expiring soon" (and announced once).
pub const EXPIRING_WARNING_SECONDS: i64 = 14 * 86_400;

/// The extension's definition, as `/Schemas` advertises it: both attributes read-only.
pub fn access_schema() -> Arc<Schema> {
    static SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| {
        let doc = json!({
            "id": ACCESS_SCHEMA,
            "name": "Access",
            "description": "When the user's access ends, set by scimd and renewed only by an administrator",
            "attributes": [
                {"name": "accessEnd", "type": "dateTime", "mutability": "readOnly", "returned": "default",
                 "description": "The end of the user's access"},
                {"name": "state", "type": "string", "mutability": "readOnly", "returned": "default",
                 "canonicalValues": ["active", "expired"], "caseExact": true,
                 "description": "expired once accessEnd has passed, active before"}
            ]
        });
        // The document above is scimd's own and parses; a failure would be a bug found by
        // the unit test below, so an empty schema of the same id stands in.
        Arc::new(Schema::parse_extension(&doc).unwrap_or_else(|_| Schema {
            id: ACCESS_SCHEMA.to_owned(),
            name: "Access".to_owned(),
            description: String::new(),
            attributes: Vec::new(),
        }))
    });
    Arc::clone(&SCHEMA)
}

/// A user's effective state: what the identity provider set (`active`), unless the access
/// has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessState {
    Active,
    Inactive,
    Expired,
}

impl AccessState {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessState::Active => "active",
            AccessState::Inactive => "inactive",
            AccessState::Expired => "expired",
        }
    }

    pub fn of(rec: &ResourceRecord, now: Timestamp) -> AccessState {
        if is_expired(rec.access_end, now) {
            AccessState::Expired
        } else if rec.data.get("active").and_then(Value::as_bool) == Some(false) {
            AccessState::Inactive
        } else {
            AccessState::Active
        }
    }

    /// The state a change event's resource shows (its access extension and `active`).
    pub fn of_view(resource: &Value) -> AccessState {
        let expired = resource
            .get(ACCESS_SCHEMA)
            .and_then(|a| a.get("state"))
            .and_then(Value::as_str)
            == Some("expired");
        if expired {
            AccessState::Expired
        } else if resource.get("active").and_then(Value::as_bool) == Some(false) {
            AccessState::Inactive
        } else {
            AccessState::Active
        }
    }
}

pub fn is_expired(end: Option<Timestamp>, now: Timestamp) -> bool {
    end.is_some_and(|e| e <= now)
}

/// The extension's value for an end date at `now`.
pub fn access_extension(end: Timestamp, now: Timestamp) -> Value {
    json!({
        "accessEnd": end.to_rfc3339(),
        "state": if is_expired(Some(end), now) { "expired" } else { "active" },
    })
}

/// Take the access extension out of what a client sent: it is scimd's to state, never the
/// identity provider's (RFC 7643 §2.2: read-only values sent are ignored).
pub fn strip_access(doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else { return };
    obj.retain(|k, _| !k.eq_ignore_ascii_case(ACCESS_SCHEMA));
    if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
        schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(ACCESS_SCHEMA)));
    }
}

/// An attribute of the extension as change events and audit records name it
/// (`urn:...:access:2.0:User:accessEnd`).
pub fn access_attribute(name: &str) -> String {
    format!("{ACCESS_SCHEMA}:{name}")
}

/// Does the filter (or `sortBy` path) name an attribute of the access extension? Its
/// values are stated at each read, not stored in the document the store filters, so a
/// filter on them would silently match nothing.
pub fn names_access(schemas: &ResourceSchemas, filter: Option<&Filter>, sort: Option<&AttrPath>) -> bool {
    fn path(schemas: &ResourceSchemas, p: &AttrPath) -> bool {
        p.uri.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(ACCESS_SCHEMA))
            || schemas
                .resolve(p)
                .is_some_and(|r| r.schema.id.eq_ignore_ascii_case(ACCESS_SCHEMA))
    }
    fn walk(schemas: &ResourceSchemas, f: &Filter) -> bool {
        match f {
            Filter::Compare { path: p, .. } | Filter::Present(p) => path(schemas, p),
            Filter::And(a, b) | Filter::Or(a, b) => walk(schemas, a) || walk(schemas, b),
            Filter::Not(a) => walk(schemas, a),
            Filter::ValuePath { attr, .. } => path(schemas, attr),
        }
    }
    filter.is_some_and(|f| walk(schemas, f)) || sort.is_some_and(|p| path(schemas, p))
}

/// What the expiry job has announced of a user's end date, as stored (`access_notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Notice {
    None = 0,
    Expiring = 1,
    Expired = 2,
}

impl Notice {
    pub fn from_stored(n: i64) -> Notice {
        match n {
            2 => Notice::Expired,
            1 => Notice::Expiring,
            _ => Notice::None,
        }
    }

    /// What should have been announced of `end` by `now`.
    pub fn due(end: Timestamp, now: Timestamp) -> Notice {
        if end <= now {
            Notice::Expired
        } else if end.0 - now.0 <= EXPIRING_WARNING_SECONDS * 1000 {
            Notice::Expiring
        } else {
            Notice::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_is_read_only_and_advertised_whole() {
        let s = access_schema();
        assert_eq!(s.id, ACCESS_SCHEMA);
        assert_eq!(s.attributes.len(), 2);
        assert!(
            s.attributes
                .iter()
                .all(|a| a.mutability == scim_proto::schema::Mutability::ReadOnly)
        );
    }

    #[test]
    fn what_a_client_sends_for_the_extension_is_dropped() {
        let mut doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ACCESS_SCHEMA],
            "userName": "a", ACCESS_SCHEMA: {"accessEnd": "2099-01-01T00:00:00Z"}});
        strip_access(&mut doc);
        assert_eq!(
            doc,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"})
        );
    }

    #[test]
    fn notices_fall_due_two_weeks_before_and_at_the_end() {
        let end = Timestamp(100 * 86_400_000);
        assert_eq!(Notice::due(end, Timestamp(end.0 - 15 * 86_400_000)), Notice::None);
        assert_eq!(Notice::due(end, Timestamp(end.0 - 14 * 86_400_000)), Notice::Expiring);
        assert_eq!(Notice::due(end, end), Notice::Expired);
        assert_eq!(
            access_extension(end, end)["state"],
            "expired",
            "the end date itself is past"
        );
    }
}
