//! PATCH engine (RFC 7644 §3.5.2): any PatchOp message applied to a valid user and a valid
//! group either fails with a SCIM error, leaving the document untouched, or yields a
//! document that is still a valid resource. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_proto::patch::{apply_patch, parse_patch, split_members};
use scim_proto::schema::ResourceKind;
use scim_proto::value::normalize_resource;
use serde_json::Value;

fn apply(kind: ResourceKind, mut doc: Value, ops: &[scim_proto::patch::PatchOperation]) {
    let before = doc.clone();
    match apply_patch(kind, &mut doc, ops) {
        Ok(_) => {
            if let Err(e) = normalize_resource(kind, &doc) {
                panic!("patched {kind:?} no longer validates: {e}\n{doc:#}");
            }
        }
        Err(_) => assert_eq!(doc, before, "a failed PATCH changed the document"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = parse_patch(&body) else { return };
    apply(ResourceKind::User, scimd_fuzz::user(), &ops);
    if let Ok((doc_ops, _member_ops)) = split_members(ops) {
        apply(ResourceKind::Group, scimd_fuzz::group(), &doc_ops);
    }
});
