use base64::engine::general_purpose::STANDARD;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

use super::*;
use crate::clock::Timestamp;
use crate::provider::Population;

/// A P-256 key made for this test only by Python's `cryptography` (PKCS#8 DER, base64), with
/// its public coordinates and RFC 7638 thumbprint as `jwcrypto` 1.6.1 computes them from the
/// private key: answers from an implementation other than this one.
const TEST_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgq5zZPn948yIGH0pyNcDFRzLYFNat3uN3A44RphPPxeahRANCAARE8aJohVzir0gIKflGktkGhxdRLpVrdtEXcaHSiSAWFuoq47RkMV6jrRbNF+qOOd22KJTFqdn8Sjq/3BBCUAJg";
const TEST_X: &str = "RPGiaIVc4q9ICCn5RpLZBocXUS6Va3bRF3Gh0okgFhY";
const TEST_Y: &str = "6irjtGQxXqOtFs0X6o453bYolMWp2fxKOr_cEEJQAmA";
const TEST_THUMBPRINT: &str = "ATq3RwzU6j01LrxM20YxXAZZodls5cohY2HW_6LX2bI";

const ISSUER: &str = "https://scim.example.com";

fn user(event_type: EventType, verb: Verb) -> ChangeEvent {
    ChangeEvent {
        id: "4d3559ec-6750-4aab-a65d-40b0363faad8".into(),
        provider: "okta".into(),
        population: Population::Internal,
        position: 3,
        time: Timestamp::from_millis(1_458_496_404_250),
        txn: "b7b953f1-1cc6-489b-bfb8-7834747cc4c1".into(),
        event_type,
        verb,
        resource_kind: Some(ResourceKind::User),
        resource_id: "u-1".into(),
        member_id: None,
        attributes: vec!["userName".into(), "name".into(), "nickName".into()],
        resource: Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u-1",
            "externalId": "jdoe",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "meta": {"resourceType": "User", "version": "W/\"3\""},
        })),
    }
}

fn membership(event_type: EventType) -> ChangeEvent {
    ChangeEvent {
        event_type,
        verb: Verb::Patch,
        resource_kind: Some(ResourceKind::Group),
        resource_id: "g-1".into(),
        member_id: Some("u-1".into()),
        attributes: vec!["members".into()],
        resource: None,
        ..user(event_type, Verb::Patch)
    }
}

fn audience() -> Vec<String> {
    vec!["https://receiver.example.com/events".into()]
}

fn event_of(claims: &Value) -> (&str, &Value) {
    let events = claims["events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "one event per SET");
    let (uri, body) = events.iter().next().unwrap();
    (uri.as_str(), body)
}

fn decode(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).unwrap()
}

#[test]
fn a_kept_key_has_the_public_jwk_and_thumbprint_another_implementation_computes() {
    let key = SigningKey::from_pkcs8("k1", &STANDARD.decode(TEST_PKCS8).unwrap()).unwrap();
    assert_eq!(
        key.public_jwk(),
        json!({"kty": "EC", "crv": "P-256", "x": TEST_X, "y": TEST_Y, "kid": "k1", "alg": "ES256", "use": "sig"})
    );
    assert_eq!(thumbprint(&key.pair), TEST_THUMBPRINT);
}

#[test]
fn a_generated_key_is_named_by_its_thumbprint_and_reloads_from_its_pkcs8() {
    let (key, pkcs8) = SigningKey::generate();
    assert_eq!(key.kid(), thumbprint(&key.pair));
    assert_eq!(key.kid().len(), 43, "32 bytes in base64url without padding");
    let reloaded = SigningKey::from_pkcs8(key.kid(), &pkcs8).unwrap();
    assert_eq!(reloaded.public_jwk(), key.public_jwk());
    assert_ne!(SigningKey::generate().0.kid(), key.kid());
}

#[test]
fn loading_refuses_a_document_that_is_not_a_p256_key_or_a_missing_kid() {
    let pkcs8 = STANDARD.decode(TEST_PKCS8).unwrap();
    assert!(SigningKey::from_pkcs8("k1", b"not a key").is_err());
    assert!(SigningKey::from_pkcs8("", &pkcs8).is_err());
}

#[test]
fn debug_output_shows_the_kid_and_not_the_key() {
    let key = SigningKey::from_pkcs8("k1", &STANDARD.decode(TEST_PKCS8).unwrap()).unwrap();
    assert_eq!(format!("{key:?}"), r#"SigningKey { kid: "k1", .. }"#);
}

#[test]
fn a_signed_set_verifies_against_the_coordinates_of_its_published_jwk() {
    let (key, _) = SigningKey::generate();
    let claims = claims(
        &user(EventType::UserCreated, Verb::Create),
        ISSUER,
        &audience(),
        Payload::Full,
    )
    .unwrap();
    let jws = key.sign(&claims);
    assert!(!jws.contains(['=', '+', '/']), "base64url without padding: {jws}");
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3);

    let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    assert_eq!(header, json!({"alg": "ES256", "typ": "secevent+jwt", "kid": key.kid()}));
    let decoded: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(decoded, claims);

    let jwk = key.public_jwk();
    let mut point = vec![0x04];
    point.extend(decode(jwk["x"].as_str().unwrap()));
    point.extend(decode(jwk["y"].as_str().unwrap()));
    assert_eq!(point.len(), 65);
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point);
    let signature = decode(parts[2]);
    assert_eq!(signature.len(), 64, "R || S, RFC 7518 §3.4");
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(public.verify(signed.as_bytes(), &signature).is_ok());

    let tampered = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(br#"{"jti":"forged"}"#));
    assert!(public.verify(tampered.as_bytes(), &signature).is_err());
    let (other, _) = SigningKey::generate();
    let other_sig = decode(other.sign(&claims).rsplit('.').next().unwrap());
    assert!(public.verify(signed.as_bytes(), &other_sig).is_err());
}

#[test]
fn the_key_set_lists_the_keys_given() {
    let (a, b) = (SigningKey::generate().0, SigningKey::generate().0);
    assert_eq!(
        jwks(&[a.public_jwk(), b.public_jwk()]),
        json!({"keys": [a.public_jwk(), b.public_jwk()]})
    );
}

#[test]
fn a_full_create_carries_the_subject_and_the_created_resource() {
    let event = user(EventType::UserCreated, Verb::Create);
    let claims = claims(&event, ISSUER, &audience(), Payload::Full).unwrap();
    assert_eq!(
        claims,
        json!({
            "jti": "4d3559ec-6750-4aab-a65d-40b0363faad8",
            "iss": ISSUER,
            "iat": 1_458_496_404,
            "aud": "https://receiver.example.com/events",
            "txn": "b7b953f1-1cc6-489b-bfb8-7834747cc4c1",
            "sub_id": {"format": "scim", "uri": "/Users/u-1", "id": "u-1", "externalId": "jdoe"},
            "events": {CREATE_FULL: {"version": "W/\"3\"", "data": event.resource.unwrap()}},
        })
    );
}

#[test]
fn each_event_type_maps_to_its_rfc_9967_event() {
    use EventType::*;
    let cases = [
        (user(UserCreated, Verb::Create), CREATE_FULL, CREATE_NOTICE),
        (user(UserUpdated, Verb::Put), PUT_FULL, PUT_NOTICE),
        (user(UserUpdated, Verb::Patch), PATCH_FULL, PATCH_NOTICE),
        (user(UserDeactivated, Verb::Patch), DEACTIVATE, DEACTIVATE),
        (user(UserReactivated, Verb::Put), ACTIVATE, ACTIVATE),
        (user(UserDeleted, Verb::Delete), DELETE, DELETE),
        (membership(GroupMemberAdded), PATCH_FULL, PATCH_NOTICE),
        (membership(GroupMemberRemoved), PATCH_FULL, PATCH_NOTICE),
    ];
    for (event, full, notice) in cases {
        let as_full = claims(&event, ISSUER, &[], Payload::Full).unwrap();
        let as_notice = claims(&event, ISSUER, &[], Payload::Notice).unwrap();
        assert_eq!(event_of(&as_full).0, full, "{:?} full", event.event_type);
        assert_eq!(event_of(&as_notice).0, notice, "{:?} notice", event.event_type);
        assert!(EVENT_URIS.contains(&full) && EVENT_URIS.contains(&notice));
    }
    for (event_type, verb, full, notice) in [
        (GroupCreated, Verb::Create, CREATE_FULL, CREATE_NOTICE),
        (GroupUpdated, Verb::Put, PUT_FULL, PUT_NOTICE),
        (GroupUpdated, Verb::Patch, PATCH_FULL, PATCH_NOTICE),
        (GroupDeleted, Verb::Delete, DELETE, DELETE),
    ] {
        let event = ChangeEvent {
            resource_kind: Some(ResourceKind::Group),
            ..user(event_type, verb)
        };
        let as_full = claims(&event, ISSUER, &[], Payload::Full).unwrap();
        assert_eq!(event_of(&as_full).0, full);
        assert_eq!(as_full["sub_id"]["uri"], "/Groups/u-1");
        assert_eq!(
            event_of(&claims(&event, ISSUER, &[], Payload::Notice).unwrap()).0,
            notice
        );
    }
}

#[test]
fn provider_and_token_events_have_no_set() {
    for event_type in [EventType::ProviderUpdated, EventType::TokenRevoked] {
        let event = ChangeEvent {
            resource_kind: None,
            resource: None,
            ..user(event_type, Verb::Other)
        };
        assert_eq!(claims(&event, ISSUER, &audience(), Payload::Full), None);
    }
    let covered = EventType::ALL.iter().filter(|t| kind_of(**t).is_some()).count();
    assert_eq!(covered, 15, "every user and group event has a SET");
}

#[test]
fn a_notice_names_the_changed_attributes_and_carries_no_value() {
    for event_type in EventType::ALL {
        let Some(claims) = claims(&user(event_type, Verb::Patch), ISSUER, &audience(), Payload::Notice) else {
            continue;
        };
        let (uri, body) = event_of(&claims);
        assert!(body.get("data").is_none(), "{uri}");
        let text = claims.to_string();
        assert!(!text.contains("bjensen") && !text.contains("Barbara"), "{text}");
    }
    let claims = claims(&user(EventType::UserUpdated, Verb::Patch), ISSUER, &[], Payload::Notice).unwrap();
    assert_eq!(
        event_of(&claims).1,
        &json!({"version": "W/\"3\"", "attributes": ["userName", "name", "nickName"]})
    );
}

#[test]
fn a_patch_update_is_sent_as_the_equivalent_patch_request() {
    let mut event = user(EventType::UserUpdated, Verb::Patch);
    event.attributes = vec![
        "USERNAME".into(),
        "name".into(),
        "nickName".into(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber".into(),
    ];
    if let Some(resource) = event.resource.as_mut() {
        resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = json!({"employeeNumber": "701984"});
    }
    let claims = claims(&event, ISSUER, &[], Payload::Full).unwrap();
    assert_eq!(
        event_of(&claims).1["data"],
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "USERNAME", "value": "bjensen@example.com"},
                {"op": "remove", "path": "name"},
                {"op": "add", "path": "name", "value": {"givenName": "Barbara", "familyName": "Jensen"}},
                {"op": "remove", "path": "nickName"},
                {
                    "op": "replace",
                    "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                    "value": "701984",
                },
            ],
        })
    );
}

#[test]
fn a_put_update_carries_the_resource_and_a_patch_never_a_members_operation() {
    let put = user(EventType::UserUpdated, Verb::Put);
    let full = claims(&put, ISSUER, &[], Payload::Full).unwrap();
    assert_eq!(event_of(&full).1["data"], put.resource.clone().unwrap());

    let group = ChangeEvent {
        resource_kind: Some(ResourceKind::Group),
        attributes: vec!["displayName".into(), "members".into()],
        resource: Some(json!({"id": "u-1", "displayName": "Admins"})),
        ..user(EventType::GroupUpdated, Verb::Patch)
    };
    let patch = claims(&group, ISSUER, &[], Payload::Full).unwrap();
    assert_eq!(
        event_of(&patch).1["data"]["Operations"],
        json!([{"op": "replace", "path": "displayName", "value": "Admins"}])
    );

    let only_members = ChangeEvent {
        attributes: vec!["members".into()],
        ..group
    };
    let notice = claims(&only_members, ISSUER, &[], Payload::Full).unwrap();
    assert_eq!(event_of(&notice), (PATCH_NOTICE, &json!({"attributes": ["members"]})));
}

#[test]
fn a_member_added_or_removed_is_a_patch_of_the_group_members() {
    let added = claims(&membership(EventType::GroupMemberAdded), ISSUER, &[], Payload::Full).unwrap();
    assert_eq!(
        added["sub_id"],
        json!({"format": "scim", "uri": "/Groups/g-1", "id": "g-1"})
    );
    assert_eq!(
        event_of(&added).1,
        &json!({"data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "u-1"}]}],
        }})
    );

    let removed = claims(&membership(EventType::GroupMemberRemoved), ISSUER, &[], Payload::Full).unwrap();
    assert_eq!(
        event_of(&removed).1["data"]["Operations"],
        json!([{"op": "remove", "path": r#"members[value eq "u-1"]"#}])
    );

    let notice = claims(&membership(EventType::GroupMemberRemoved), ISSUER, &[], Payload::Notice).unwrap();
    assert_eq!(event_of(&notice).1, &json!({"attributes": ["members"]}));
}

#[test]
fn a_full_subscription_gets_a_notice_when_there_is_nothing_to_send() {
    let mut event = user(EventType::UserCreated, Verb::Create);
    event.resource = None;
    let claims = claims(&event, ISSUER, &[], Payload::Full).unwrap();
    assert_eq!(
        event_of(&claims),
        (CREATE_NOTICE, &json!({"attributes": ["userName", "name", "nickName"]}))
    );
    assert_eq!(
        claims["sub_id"],
        json!({"format": "scim", "uri": "/Users/u-1", "id": "u-1"})
    );
}

#[test]
fn removals_and_status_changes_carry_no_payload() {
    for event_type in [
        EventType::UserDeleted,
        EventType::UserDeactivated,
        EventType::UserReactivated,
    ] {
        let claims = claims(&user(event_type, Verb::Patch), ISSUER, &[], Payload::Full).unwrap();
        assert_eq!(event_of(&claims).1, &json!({}));
    }
}

#[test]
fn the_audience_is_a_string_for_one_an_array_for_several_and_absent_for_none() {
    let event = user(EventType::UserDeleted, Verb::Delete);
    let one = claims(&event, ISSUER, &audience(), Payload::Notice).unwrap();
    assert_eq!(one["aud"], "https://receiver.example.com/events");
    let two = vec!["a".to_owned(), "b".to_owned()];
    assert_eq!(
        claims(&event, ISSUER, &two, Payload::Notice).unwrap()["aud"],
        json!(["a", "b"])
    );
    assert!(
        claims(&event, ISSUER, &[], Payload::Notice)
            .unwrap()
            .get("aud")
            .is_none()
    );
}
