//! Standard Webhooks: the body of a change event and its signature headers.
//!
//! Implements the symmetric scheme of the Standard Webhooks specification (v1.0.0,
//! standardwebhooks.com, "Signature scheme" and "Webhook headers"): the signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`, the signature HMAC-SHA256 in standard base64
//! prefixed `v1,`, and the secret shown to people as `whsec_` and the base64 of its bytes.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use serde_json::{Map, Value, json};

use super::{ChangeEvent, EventType, Payload};

const SECRET_PREFIX: &str = "whsec_";
/// The specification asks for at least 24 bytes (192 bits) and at most 64 (512 bits).
const SECRET_MIN_LEN: usize = 24;
const SECRET_MAX_LEN: usize = 64;
/// What [`WebhookSecret::generate`] makes: SHA-256's output size, past which a longer HMAC
/// key adds no strength.
const SECRET_GENERATED_LEN: usize = 32;

/// A subscription's HMAC key: the raw bytes, shown once to its owner as `whsec_…`. No
/// `PartialEq`: comparing keys with `==` would not be constant-time.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

/// Never the key: a secret printed in a log is a secret to rotate.
impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// A new random secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = vec![0u8; SECRET_GENERATED_LEN];
        crate::crypto::random_bytes(&mut key);
        WebhookSecret(key)
    }

    /// Bytes this server made and kept (opened from its sealed copy); they were checked when
    /// they were first made or parsed.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        WebhookSecret(bytes.to_vec())
    }

    /// A secret as people and the reference libraries write it: `whsec_` and standard base64.
    /// The prefix is required so a pasted value of another kind (a bearer token, a client
    /// secret) is refused rather than silently used as a key.
    pub fn parse(s: &str) -> Result<Self, String> {
        let encoded = s
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("a webhook secret starts with '{SECRET_PREFIX}'"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| format!("a webhook secret is '{SECRET_PREFIX}' followed by standard base64"))?;
        if !(SECRET_MIN_LEN..=SECRET_MAX_LEN).contains(&key.len()) {
            return Err(format!(
                "a webhook secret holds {SECRET_MIN_LEN} to {SECRET_MAX_LEN} bytes, this one {}",
                key.len()
            ));
        }
        Ok(WebhookSecret(key))
    }

    /// The form to show once and that every Standard Webhooks library accepts.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The raw key, for sealing at rest.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// `v1,` and the base64 HMAC-SHA256 of the signed content.
    fn sign(&self, content: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        format!("v1,{}", STANDARD.encode(hmac::sign(&key, content).as_ref()))
    }
}

/// The JSON body of `event` as delivered to a webhook: the Standard Webhooks envelope
/// (`type`, `timestamp`, `data`). With [`Payload::Notice`] it names the resource and the
/// changed attributes but carries no attribute value. The bytes are the bytes signed, so they
/// are made once here and sent as they are; serde_json keeps the members in this order.
pub fn body(event: &ChangeEvent, payload: Payload) -> Vec<u8> {
    let mut data = Map::new();
    // The event's id, as in `webhook-id`: a stored body stays self-describing.
    data.insert("id".into(), json!(event.id));
    data.insert("provider".into(), json!(event.provider));
    data.insert("population".into(), json!(event.population.as_str()));
    data.insert("position".into(), json!(event.position));
    data.insert("resource_type".into(), json!(event.resource_kind.map(|k| k.name())));
    data.insert("resource_id".into(), json!(event.resource_id));
    if matches!(
        event.event_type,
        EventType::GroupMemberAdded | EventType::GroupMemberRemoved
    ) {
        data.insert("member_id".into(), json!(event.member_id));
    }
    if payload == Payload::Full
        && let Some(resource) = &event.resource
    {
        data.insert("resource".into(), resource.clone());
        // The effective state (active and not expired) next to what the provider set.
        if event.resource_kind == Some(scim_proto::schema::ResourceKind::User) {
            let state = crate::lifecycle::AccessState::of_view(resource);
            data.insert("access_state".into(), json!(state.as_str()));
        }
    }
    data.insert("attributes".into(), json!(event.attributes));
    let envelope = json!({
        "type": event.event_type.as_str(),
        "timestamp": event.time.to_rfc3339(),
        "data": Value::Object(data),
    });
    // Serializing a `Value` cannot fail: its keys are strings and it holds no floats that
    // JSON cannot write (serde_json's `Number` is always finite).
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// The three Standard Webhooks headers for one delivery attempt. `msg_id` is the event's id
/// (the same on every retry, the receiver's idempotency key) and must not contain a `.`;
/// `timestamp_secs` is the attempt's time, which receivers check against replay. Each secret
/// signs: while a secret is being rotated the old and the new one both do, so receivers
/// holding either keep verifying.
pub fn signature_headers(
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
    secrets: &[&WebhookSecret],
) -> [(&'static str, String); 3] {
    let timestamp = timestamp_secs.to_string();
    let mut content = Vec::with_capacity(msg_id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(msg_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    let signatures: Vec<String> = secrets.iter().map(|s| s.sign(&content)).collect();
    [
        ("webhook-id", msg_id.to_owned()),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signatures.join(" ")),
    ]
}

#[cfg(test)]
mod tests {
    use scim_proto::schema::ResourceKind;

    use super::*;
    use crate::clock::Timestamp;
    use crate::events::Verb;
    use crate::provider::Population;

    fn user_created() -> ChangeEvent {
        ChangeEvent {
            id: "9b2f6f0e-2d0c-4a8e-8f5e-3f1d2c4b5a69".into(),
            provider: "okta".into(),
            population: Population::Internal,
            position: 7,
            time: Timestamp::from_millis(1_764_000_000_123),
            txn: "txn-1".into(),
            event_type: EventType::UserCreated,
            verb: Verb::Create,
            resource_kind: Some(ResourceKind::User),
            resource_id: "u-1".into(),
            member_id: None,
            attributes: vec!["userName".into(), "emails".into()],
            resource: Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "u-1",
                "userName": "bjensen@example.com",
                "emails": [{"value": "bjensen@example.com"}],
            })),
        }
    }

    fn parsed(body: &[u8]) -> Value {
        serde_json::from_slice(body).unwrap()
    }

    /// The published test vector of the Standard Webhooks reference libraries: Python's
    /// `test_sign_function` in standard-webhooks/standard-webhooks,
    /// libraries/python/tests/test_webhooks.py (the same one Svix documents).
    #[test]
    fn the_signature_matches_the_standard_webhooks_test_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let headers = signature_headers(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
            &[&secret],
        );
        assert_eq!(
            headers,
            [
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned()),
                ("webhook-timestamp", "1614265330".to_owned()),
                (
                    "webhook-signature",
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn while_rotating_every_secret_signs_in_the_order_given() {
        let old = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let new = WebhookSecret::generate();
        let body = br#"{"test": 2432232314}"#;
        let [_, _, (_, both)] = signature_headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body, &[&old, &new]);
        let [_, _, (_, only_new)] = signature_headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body, &[&new]);
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(parts[1], only_new);
    }

    #[test]
    fn the_signature_covers_id_timestamp_and_body() {
        let secret = WebhookSecret::generate();
        let sig = |id: &str, ts: i64, body: &[u8]| signature_headers(id, ts, body, &[&secret])[2].1.clone();
        let base = sig("msg_1", 1_700_000_000, b"{}");
        assert_ne!(base, sig("msg_2", 1_700_000_000, b"{}"));
        assert_ne!(base, sig("msg_1", 1_700_000_001, b"{}"));
        assert_ne!(base, sig("msg_1", 1_700_000_000, b"{ }"));
    }

    #[test]
    fn a_secret_round_trips_through_its_whsec_form() {
        let secret = WebhookSecret::generate();
        assert_eq!(secret.as_bytes().len(), 32);
        let shown = secret.to_whsec();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&shown).unwrap().as_bytes(), secret.as_bytes());
        assert_eq!(
            WebhookSecret::from_bytes(secret.as_bytes()).as_bytes(),
            secret.as_bytes()
        );
        assert_ne!(WebhookSecret::generate().as_bytes(), secret.as_bytes());
    }

    #[test]
    fn parsing_refuses_what_is_not_a_whsec_secret() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_not base64!").is_err());
        assert!(WebhookSecret::parse("whsec_").is_err());
        // 12 bytes: under the specification's minimum of 24.
        assert!(WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAA").is_err());
        let too_long = format!("whsec_{}", STANDARD.encode([1u8; 65]));
        assert!(WebhookSecret::parse(&too_long).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "WebhookSecret(..)");
        assert!(!shown.contains("MfKQ"));
    }

    #[test]
    fn a_full_body_carries_the_resource_in_a_standard_webhooks_envelope() {
        let body = body(&user_created(), Payload::Full);
        assert_eq!(
            parsed(&body),
            json!({
                "type": "user.created",
                "timestamp": "2025-11-24T16:00:00.123Z",
                "data": {
                    "id": "9b2f6f0e-2d0c-4a8e-8f5e-3f1d2c4b5a69",
                    "provider": "okta",
                    "population": "internal",
                    "position": 7,
                    "resource_type": "User",
                    "resource_id": "u-1",
                    "resource": {
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "id": "u-1",
                        "userName": "bjensen@example.com",
                        "emails": [{"value": "bjensen@example.com"}],
                    },
                    "access_state": "active",
                    "attributes": ["userName", "emails"],
                },
            })
        );
    }

    #[test]
    fn the_body_is_compact_and_always_the_same_bytes() {
        let event = user_created();
        let first = body(&event, Payload::Full);
        assert_eq!(first, body(&event, Payload::Full));
        let text = String::from_utf8(first).unwrap();
        assert!(text.starts_with(r#"{"type":"user.created","timestamp":"#), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn a_notice_body_names_attributes_but_carries_no_values() {
        let body = body(&user_created(), Payload::Notice);
        let value = parsed(&body);
        assert!(value["data"].get("resource").is_none());
        assert_eq!(value["data"]["attributes"], json!(["userName", "emails"]));
        assert!(!String::from_utf8(body).unwrap().contains("bjensen"));
    }

    #[test]
    fn membership_events_name_the_member_and_others_do_not() {
        let mut event = user_created();
        assert!(parsed(&body(&event, Payload::Full))["data"].get("member_id").is_none());
        event.event_type = EventType::GroupMemberAdded;
        event.verb = Verb::Patch;
        event.resource_kind = Some(ResourceKind::Group);
        event.resource_id = "g-1".into();
        event.member_id = Some("u-1".into());
        event.attributes = vec!["members".into()];
        event.resource = None;
        let data = parsed(&body(&event, Payload::Full))["data"].clone();
        assert_eq!(data["member_id"], "u-1");
        assert_eq!(data["resource_type"], "Group");
        assert!(data.get("resource").is_none());
    }

    #[test]
    fn provider_events_have_no_resource_type() {
        let mut event = user_created();
        event.event_type = EventType::ProviderUpdated;
        event.verb = Verb::Other;
        event.resource_kind = None;
        event.resource_id = "okta".into();
        event.resource = None;
        let value = parsed(&body(&event, Payload::Full));
        assert_eq!(value["type"], "provider.updated");
        assert_eq!(value["data"]["resource_type"], Value::Null);
    }
}
