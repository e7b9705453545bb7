//! RFC 9967 Security Event Tokens: claims of a change event, signed as a JWS (RFC 8417/7515),
//! and the JSON Web Key Set that verifies them.
//!
//! The claims follow RFC 9967 §2 (`sub_id` in its `scim` format, §2.1; `txn`, `version`,
//! `data` and `attributes`, §2.2; the provisioning events, §2.4) over the RFC 8417 §2.2 claims.
//! A SET is a compact JWS signed ES256 (RFC 7518 §3.4: P-256, the signature `R || S`) with the
//! `typ` RFC 8417 §2.3 recommends; the key is published as an RFC 7517 JWK whose `kid` is its
//! RFC 7638 thumbprint.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use scim_proto::schema::ResourceKind;
use serde_json::{Map, Value, json};

use super::{ChangeEvent, EventType, Payload, Verb};

pub const CREATE_FULL: &str = "urn:ietf:params:scim:event:prov:create:full";
pub const CREATE_NOTICE: &str = "urn:ietf:params:scim:event:prov:create:notice";
pub const PATCH_FULL: &str = "urn:ietf:params:scim:event:prov:patch:full";
pub const PATCH_NOTICE: &str = "urn:ietf:params:scim:event:prov:patch:notice";
pub const PUT_FULL: &str = "urn:ietf:params:scim:event:prov:put:full";
pub const PUT_NOTICE: &str = "urn:ietf:params:scim:event:prov:put:notice";
pub const DELETE: &str = "urn:ietf:params:scim:event:prov:delete";
pub const ACTIVATE: &str = "urn:ietf:params:scim:event:prov:activate";
pub const DEACTIVATE: &str = "urn:ietf:params:scim:event:prov:deactivate";

/// Every event URI this server issues, for `securityEvents.eventUris` in the service
/// provider configuration (RFC 9967 §4).
pub const EVENT_URIS: [&str; 9] = [
    CREATE_FULL,
    CREATE_NOTICE,
    PATCH_FULL,
    PATCH_NOTICE,
    PUT_FULL,
    PUT_NOTICE,
    DELETE,
    ACTIVATE,
    DEACTIVATE,
];

const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The `reason` claim of a deactivation because the user's access ended.
pub const ACCESS_EXPIRED: &str = "access_expired";
/// The `reason` claim of an activation because an administrator renewed expired access.
pub const ACCESS_RENEWED: &str = "access_renewed";

/// Did this renewal bring an expired user back to active (its access state changed, and
/// the user is active now)?
fn renewal_activates(event: &ChangeEvent) -> bool {
    let state = format!("{}:state", crate::lifecycle::ACCESS_SCHEMA);
    event.attributes.iter().any(|a| a.eq_ignore_ascii_case(&state))
        && event
            .resource
            .as_ref()
            .is_some_and(|r| crate::lifecycle::AccessState::of_view(r) == crate::lifecycle::AccessState::Active)
}

/// The server's ES256 key for signing SETs, named by its `kid`.
pub struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
}

/// The `kid` only: the private key stays out of logs.
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new P-256 key and its PKCS#8 document to keep (sealed) at rest. Its `kid` is the
    /// RFC 7638 thumbprint of its public key: derived, so it needs no storage of its own and
    /// any receiver can recompute it, and it differs between keys without a registry of names.
    pub fn generate() -> (SigningKey, Vec<u8>) {
        let rng = SystemRandom::new();
        // Generating fails only when the system RNG does, as in `crypto::random_bytes`;
        // parsing the document ring has just made cannot fail.
        #[allow(clippy::expect_used)]
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("the operating system's random number generator failed");
        #[allow(clippy::expect_used)]
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("a P-256 PKCS#8 document ring generated");
        let kid = thumbprint(&pair);
        (SigningKey { kid, pair }, pkcs8.as_ref().to_vec())
    }

    /// A kept key: its `kid` as first published (receivers look keys up by it) and its
    /// PKCS#8 document.
    pub fn from_pkcs8(kid: &str, pkcs8: &[u8]) -> Result<SigningKey, String> {
        if kid.is_empty() {
            return Err("a signing key needs a kid".into());
        }
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &SystemRandom::new())
            .map_err(|e| format!("not a P-256 private key in PKCS#8: {e}"))?;
        Ok(SigningKey {
            kid: kid.to_owned(),
            pair,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 7517 §4, RFC 7518 §6.2.1), for the JWKS receivers fetch.
    pub fn public_jwk(&self) -> Value {
        let (x, y) = coordinates(&self.pair);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": x,
            "y": y,
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    /// `claims` as a compact JWS (RFC 7515 §7.1): header, claims and signature, each
    /// base64url without padding.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "secevent+jwt", "kid": self.kid});
        let mut jws = format!("{}.{}", encode_json(&header), encode_json(claims));
        // ECDSA signing fails only when the system RNG does, as in `crypto::random_bytes`.
        #[allow(clippy::expect_used)]
        let signature = self
            .pair
            .sign(&SystemRandom::new(), jws.as_bytes())
            .expect("the operating system's random number generator failed");
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        jws
    }
}

/// The JSON Web Key Set (RFC 7517 §5) of the given public keys: the current one and any
/// retired ones whose SETs may still be verified.
pub fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}

/// The SET claims of `event` for one subscription, or `None` when RFC 9967 defines no event
/// for it: provider settings and token revocations are not SCIM resource changes (its only
/// `misc` event, `asyncresp`, answers asynchronous requests), so SET subscriptions do not
/// receive them; webhooks do.
pub fn claims(event: &ChangeEvent, issuer: &str, audience: &[String], payload: Payload) -> Option<Value> {
    let kind = kind_of(event.event_type)?;
    let (uri, body) = event_member(event, payload)?;
    let mut claims = Map::new();
    claims.insert("jti".into(), json!(event.id));
    claims.insert("iss".into(), json!(issuer));
    claims.insert("iat".into(), json!(event.time.seconds()));
    match audience {
        [] => {}
        [one] => {
            claims.insert("aud".into(), json!(one));
        }
        many => {
            claims.insert("aud".into(), json!(many));
        }
    }
    claims.insert("txn".into(), json!(event.txn));
    claims.insert("sub_id".into(), subject(event, kind));
    let mut events = Map::new();
    events.insert(uri.into(), body);
    claims.insert("events".into(), Value::Object(events));
    Some(Value::Object(claims))
}

/// The resource type an event is about; `None` for events that are not about one.
fn kind_of(event_type: EventType) -> Option<ResourceKind> {
    use EventType::*;
    match event_type {
        UserCreated | UserUpdated | UserDeactivated | UserReactivated | UserDeleted | UserRestored
        | UserAccessExpiring | UserAccessExpired | UserAccessRenewed => Some(ResourceKind::User),
        GroupCreated | GroupUpdated | GroupDeleted | GroupRestored | GroupMemberAdded | GroupMemberRemoved => {
            Some(ResourceKind::Group)
        }
        ProviderUpdated | ProviderDeleted | TokenRevoked => None,
    }
}

/// RFC 9967 §2.1: the `scim` subject format, with the resource's path (required), its `id`
/// and, when known, its `externalId`. These identify the subject and are present in notice
/// mode too, as in the RFC's notice examples (Figures 5 and 7).
fn subject(event: &ChangeEvent, kind: ResourceKind) -> Value {
    let mut sub = Map::new();
    sub.insert("format".into(), json!("scim"));
    sub.insert(
        "uri".into(),
        json!(format!("{}/{}", kind.endpoint(), event.resource_id)),
    );
    sub.insert("id".into(), json!(event.resource_id));
    if let Some(external) = event.resource.as_ref().and_then(|r| r.get("externalId")) {
        sub.insert("externalId".into(), external.clone());
    }
    Value::Object(sub)
}

/// What a `full` event's `data` is made of.
#[derive(Clone, Copy)]
enum FullData {
    /// The resource after the change (§2.4.1, §2.4.3).
    Resource,
    /// The PATCH request equivalent to an update (§2.4.2, Figure 6).
    UpdatePatch,
    /// The PATCH request that adds or removes a member (Figure 6).
    MembershipPatch,
}

/// The one member of the `events` claim: its URI and its payload.
fn event_member(event: &ChangeEvent, payload: Payload) -> Option<(&'static str, Value)> {
    use EventType::*;
    let (shape, full, notice) = match event.event_type {
        // A restored resource exists again under its id, as if created (RFC 9967 has no
        // restore event).
        UserCreated | GroupCreated | UserRestored | GroupRestored => (FullData::Resource, CREATE_FULL, CREATE_NOTICE),
        UserUpdated | GroupUpdated if event.verb == Verb::Put => (FullData::Resource, PUT_FULL, PUT_NOTICE),
        UserUpdated | GroupUpdated => (FullData::UpdatePatch, PATCH_FULL, PATCH_NOTICE),
        GroupMemberAdded | GroupMemberRemoved => (FullData::MembershipPatch, PATCH_FULL, PATCH_NOTICE),
        // §2.4.4-2.4.6: these events carry no payload attributes.
        UserDeleted | GroupDeleted => return Some((DELETE, json!({}))),
        UserDeactivated => return Some((DEACTIVATE, json!({}))),
        UserReactivated => return Some((ACTIVATE, json!({}))),
        // The access ended: the user is deactivated for the receiver, with the reason as an
        // event claim (the SCIM `active` the identity provider set has not changed).
        UserAccessExpired => return Some((DEACTIVATE, json!({"reason": ACCESS_EXPIRED}))),
        // A renewal that ended an expiry activates the user again; any other renewal (or an
        // announcement) changes nothing a SET receiver acts on.
        UserAccessRenewed if renewal_activates(event) => {
            return Some((ACTIVATE, json!({"reason": ACCESS_RENEWED})));
        }
        UserAccessRenewed | UserAccessExpiring => return None,
        ProviderUpdated | ProviderDeleted | TokenRevoked => return None,
    };
    let mut body = Map::new();
    // The resource's ETag (§2.2 `version`): metadata, not an attribute value, so notices
    // carry it too, as the RFC's notice examples do (Figures 7 and 9).
    if let Some(version) = event.resource.as_ref().and_then(|r| r.pointer("/meta/version")) {
        body.insert("version".into(), version.clone());
    }
    let data = match (payload, shape) {
        (Payload::Notice, _) => None,
        (Payload::Full, FullData::Resource) => event.resource.clone(),
        (Payload::Full, FullData::UpdatePatch) => {
            event.resource.as_ref().and_then(|r| update_patch(r, &event.attributes))
        }
        (Payload::Full, FullData::MembershipPatch) => membership_patch(event),
    };
    // §2.4: exactly one of `data` (the URI ends in `full`) or `attributes` (`notice`). A full
    // subscription gets a notice when there is no data to send.
    let uri = match data {
        Some(data) => {
            body.insert("data".into(), data);
            full
        }
        None => {
            let attributes = match shape {
                FullData::MembershipPatch => vec!["members".to_owned()],
                _ => event.attributes.clone(),
            };
            body.insert("attributes".into(), json!(attributes));
            notice
        }
    };
    Some((uri, Value::Object(body)))
}

/// A member added or removed, as the PATCH request that does it (RFC 9967 Figure 6;
/// RFC 7644 §3.5.2.1 and the value-filtered remove of §3.5.2.2). The member's `$ref` is
/// left out: the event does not say whether the member is a user or a group.
fn membership_patch(event: &ChangeEvent) -> Option<Value> {
    let member = event.member_id.as_deref()?;
    let operation = match event.event_type {
        EventType::GroupMemberAdded => json!({"op": "add", "path": "members", "value": [{"value": member}]}),
        // A filter's value is a JSON string literal (RFC 7644 §3.4.2.2), quoted as JSON is.
        _ => json!({"op": "remove", "path": format!("members[value eq {}]", json!(member))}),
    };
    Some(json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [operation]}))
}

/// A PATCH request equivalent to the change (RFC 9967 §2.2 `data`, Figure 6): each changed
/// attribute set to its value in `resource` after the change, or removed when it has none.
/// A complex attribute is removed and added rather than replaced, because RFC 7644 §3.5.2.3
/// keeps sub-attributes a replace does not name. `members` is left out: the resource comes
/// without them, and each membership change is an event of its own. `None` when nothing is
/// left, since a PATCH request holds at least one operation (RFC 7644 §3.5.2).
fn update_patch(resource: &Value, attributes: &[String]) -> Option<Value> {
    let mut operations = Vec::new();
    for path in attributes.iter().filter(|a| !a.eq_ignore_ascii_case("members")) {
        match attribute(resource, path) {
            None => operations.push(json!({"op": "remove", "path": path})),
            Some(value @ Value::Object(_)) => {
                operations.push(json!({"op": "remove", "path": path}));
                operations.push(json!({"op": "add", "path": path, "value": value}));
            }
            Some(value) => operations.push(json!({"op": "replace", "path": path, "value": value})),
        }
    }
    if operations.is_empty() {
        return None;
    }
    Some(json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations}))
}

/// An attribute by the name the change records: top-level, or `urn:…:name` inside its
/// extension's object; names compare case-insensitively (RFC 7643 §2.1).
fn attribute<'a>(resource: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(value) = member_ci(resource, name) {
        return Some(value);
    }
    let (urn, attr) = name.rsplit_once(':')?;
    member_ci(member_ci(resource, urn)?, attr)
}

fn member_ci<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    let object = object.as_object()?;
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The affine coordinates of the public key, base64url: ring gives the uncompressed SEC1
/// point `0x04 || X || Y`, each 32 bytes for P-256.
fn coordinates(pair: &EcdsaKeyPair) -> (String, String) {
    let xy = pair.public_key().as_ref().get(1..).unwrap_or_default();
    let (x, y) = xy.split_at(xy.len() / 2);
    (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y))
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(pair: &EcdsaKeyPair) -> String {
    let (x, y) = coordinates(pair);
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(crate::crypto::sha256(canonical.as_bytes()))
}

fn encode_json(value: &Value) -> String {
    // Serializing a `Value` cannot fail (string keys, finite numbers).
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests;
