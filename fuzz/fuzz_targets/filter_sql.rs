//! Filter to SQL (scimd-store): every filter that parses either is refused as the schema
//! check refuses it, or becomes a fragment for both databases with one parameter per
//! placeholder. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_proto::filter::Filter;
use scim_proto::schema::ResourceKind;
use scimd_store::filter::{Dialect, filter_sql};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(f) = Filter::parse(text) else { return };
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let valid = f.validate(kind).is_ok();
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            match filter_sql(d, kind, &f) {
                Ok(frag) => {
                    assert!(valid, "{text:?} is translated for {kind:?} but does not validate");
                    assert_eq!(
                        frag.sql.matches('?').count(),
                        frag.params.len(),
                        "{text:?} on {d:?}: {}",
                        frag.sql
                    );
                }
                Err(e) => assert!(e.status == 400, "{text:?}: {e}"),
            }
        }
    }
});
