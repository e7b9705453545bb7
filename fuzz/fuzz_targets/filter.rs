//! Filter parser (RFC 7644 §3.4.2.2): any text either fails with a SCIM error or parses to
//! an AST that prints to text parsing back to the same AST; evaluation never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_proto::filter::{Filter, MAX_FILTER_LEN};
use scim_proto::schema::ResourceKind;

fn round_trip(text: &str, f: &Filter, parse: fn(&str) -> Result<Filter, scim_proto::error::ScimError>) {
    let printed = f.to_string();
    // The length limit is on the request; printing may add spaces and parentheses.
    if printed.len() > MAX_FILTER_LEN {
        return;
    }
    match parse(&printed) {
        Ok(again) => assert_eq!(&again, f, "{text:?} printed as {printed:?} parses differently"),
        Err(e) => panic!("{text:?} printed as {printed:?} does not parse: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(f) = Filter::parse(text) {
        round_trip(text, &f, Filter::parse);
        let (user, group) = (scimd_fuzz::user(), scimd_fuzz::group());
        let _ = f.matches(ResourceKind::User, &user);
        let _ = f.matches(ResourceKind::Group, &group);
    }
    if let Ok(f) = Filter::parse_relative(text) {
        round_trip(text, &f, Filter::parse_relative);
    }
});
