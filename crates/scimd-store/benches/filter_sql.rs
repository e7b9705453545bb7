//! Micro-benchmark of the filter-to-SQL translation. `cargo bench -p scimd-store`.

use criterion::{Criterion, criterion_group, criterion_main};
use scim_proto::filter::Filter;
use scim_proto::schema::ResourceKind;
use scimd_store::filter::{Dialect, filter_sql};
use std::hint::black_box;

fn translate(c: &mut Criterion) {
    for (name, text, kind) in [
        ("userName eq", r#"userName eq "jane@example.com""#, ResourceKind::User),
        (
            "value path and extension",
            r#"emails[type eq "work" and value co "@example.com"] and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Ops""#,
            ResourceKind::User,
        ),
        (
            "Entra membership check",
            r#"id eq "2819c223-7f76-453a-919d-413861904646" and members eq "902c246b-6245-4190-8e05-00816be7344a""#,
            ResourceKind::Group,
        ),
    ] {
        let filter = Filter::parse(text).unwrap_or_else(|e| panic!("{e}"));
        c.bench_function(&format!("filter to SQL: {name}"), |b| {
            b.iter(|| filter_sql(Dialect::Sqlite, kind.builtin(), black_box(&filter)))
        });
    }
}

criterion_group!(benches, translate);
criterion_main!(benches);
