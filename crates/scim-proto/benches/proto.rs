//! Micro-benchmarks of the SCIM vocabulary's hot paths: filter parsing and the PATCH engine.
//! Run with `cargo bench -p scim-proto`; they keep regressions visible, they assert nothing.

use criterion::{Criterion, criterion_group, criterion_main};
use scim_proto::filter::Filter;
use scim_proto::patch::{apply_patch, parse_patch, split_members};
use scim_proto::schema::ResourceKind;
use serde_json::json;
use std::hint::black_box;

fn filters(c: &mut Criterion) {
    let okta = r#"userName eq "jane.doe@example.com""#;
    let complex = r#"(emails[type eq "work" and value co "@example.com"] or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber sw "7") and not (active eq false) and meta.lastModified gt "2026-01-01T00:00:00Z""#;
    c.bench_function("filter parse: userName eq", |b| {
        b.iter(|| Filter::parse(black_box(okta)))
    });
    c.bench_function("filter parse: value path, and/or/not, dates", |b| {
        b.iter(|| Filter::parse(black_box(complex)))
    });
    let parsed = Filter::parse(complex).unwrap_or_else(|e| panic!("{e}"));
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "jane.doe@example.com",
        "active": true,
        "emails": [{"value": "jane.doe@example.com", "type": "work", "primary": true}],
        "meta": {"lastModified": "2026-05-01T00:00:00Z", "resourceType": "User"}
    });
    c.bench_function("filter evaluate in memory", |b| {
        b.iter(|| parsed.matches(ResourceKind::User.builtin(), black_box(&user)))
    });
}

fn patches(c: &mut Criterion) {
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jane@example.com",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"value": "jane@example.com", "type": "work", "primary": true}],
        "active": true
    });
    let entra = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "jane.doe@example.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Janet"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701984"}
    ]});
    c.bench_function("patch: Entra user (parse + apply)", |b| {
        b.iter(|| {
            let ops = parse_patch(black_box(&entra)).unwrap_or_default();
            let mut doc = user.clone();
            apply_patch(ResourceKind::User.builtin(), &mut doc, &ops)
        })
    });
    let okta_group = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "value": {"id": "g1", "displayName": "Ops"}},
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u2", "display": "jane@example.com"}]}
    ]});
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"});
    c.bench_function("patch: Okta group (parse + split members + apply)", |b| {
        b.iter(|| {
            let ops = parse_patch(black_box(&okta_group)).unwrap_or_default();
            let (doc_ops, members) = split_members(ops).unwrap_or_default();
            let mut doc = group.clone();
            (
                apply_patch(ResourceKind::Group.builtin(), &mut doc, &doc_ops),
                members.len(),
            )
        })
    });
}

criterion_group!(benches, filters, patches);
criterion_main!(benches);
