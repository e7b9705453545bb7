//! Attribute paths (RFC 7644 §3.10) and PATCH paths (§3.5.2): any text either fails with a
//! SCIM error or parses to a path that prints to text parsing back to the same path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_proto::filter::MAX_FILTER_LEN;
use scim_proto::patch::PatchPath;
use scim_proto::path::AttrPath;
use scim_proto::schema::{ResourceKind, resolve};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = AttrPath::parse(text) {
        let printed = p.to_string();
        assert_eq!(
            AttrPath::parse(&printed).ok().as_ref(),
            Some(&p),
            "{text:?} printed as {printed:?}"
        );
        let _ = resolve(ResourceKind::User, &p);
        let _ = resolve(ResourceKind::Group, &p);
    }
    if let Ok(p) = PatchPath::parse(text) {
        // The length limit is on the request; printing may add spaces and parentheses.
        if p.filter.as_ref().is_some_and(|f| f.to_string().len() > MAX_FILTER_LEN) {
            return;
        }
        let printed = p.to_string();
        match PatchPath::parse(&printed) {
            Ok(again) => assert_eq!(again, p, "{text:?} printed as {printed:?} parses differently"),
            Err(e) => panic!("{text:?} printed as {printed:?} does not parse: {e}"),
        }
    }
});
