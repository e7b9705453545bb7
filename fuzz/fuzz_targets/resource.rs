//! Resource validation (RFC 7643 §2–§4): any JSON body validated as a User and as a Group
//! either fails with a SCIM error or yields a canonical document that validates again to
//! itself. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_proto::schema::ResourceKind;
use scim_proto::value::{check_immutable, normalize_resource, strip_never_returned};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let Ok(out) = normalize_resource(kind, &body) else {
            continue;
        };
        match normalize_resource(kind, &out) {
            Ok(again) => assert_eq!(again, out, "the canonical {kind:?} is not a fixed point"),
            Err(e) => panic!("the canonical {kind:?} does not validate: {e}\n{out:#}"),
        }
        assert!(check_immutable(kind, &out, &out).is_ok());
        let mut shown = out.clone();
        strip_never_returned(kind, &mut shown);
    }
});
