//! A stored record as the SCIM resource the client sees (RFC 7643 §3.1): `id`, `meta` with
//! location and version, the client's attributes, and memberships read only when the
//! projection asks for them.

use std::collections::HashMap;

use scim_proto::projection::Projection;
use scim_proto::schema::{ResourceKind, ResourceSchemas};
use scimd_core::views::{location, scim_resource};
use scimd_core::{Core, CoreError, MemberRef, ResourceRecord};
use serde_json::{Map, Value, json};

fn refs(base: &str, list: &[MemberRef], type_of: impl Fn(&MemberRef) -> &'static str) -> Value {
    Value::Array(
        list.iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("value".into(), json!(m.id));
                o.insert("$ref".into(), json!(location(base, m.kind, &m.id)));
                if let Some(d) = &m.display {
                    o.insert("display".into(), json!(d));
                }
                o.insert("type".into(), json!(type_of(m)));
                Value::Object(o)
            })
            .collect(),
    )
}

/// Render a page (or one) of records with the projection applied; memberships are read in
/// one pass, and only when they will be shown.
pub async fn resources(
    core: &Core,
    base: &str,
    schemas: &ResourceSchemas,
    records: &[ResourceRecord],
    projection: &Projection,
) -> Result<Vec<Value>, CoreError> {
    let kind = schemas.kind;
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    let (attr, links): (&str, HashMap<i64, Vec<MemberRef>>) = match kind {
        ResourceKind::Group if projection.includes(schemas, "members") => ("members", core.members_of(&seqs).await?),
        ResourceKind::User if projection.includes(schemas, "groups") => ("groups", core.groups_of(&seqs).await?),
        _ => ("", HashMap::new()),
    };
    let mut out = Vec::with_capacity(records.len());
    let now = core.now();
    for rec in records {
        let mut doc = scim_resource(base, rec, now);
        if let Some(list) = links.get(&rec.seq)
            && !list.is_empty()
            && let Some(o) = doc.as_object_mut()
        {
            let value = if attr == "members" {
                refs(base, list, |m| m.kind.name())
            } else {
                refs(base, list, |_| "direct")
            };
            // Memberships go before meta, where a reader expects them.
            let meta = o.remove("meta");
            o.insert(attr.into(), value);
            if let Some(meta) = meta {
                o.insert("meta".into(), meta);
            }
        }
        projection.apply(schemas, &mut doc);
        out.push(doc);
    }
    Ok(out)
}

#[derive(serde::Serialize)]
struct MemberOut<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A group with all its members as response text, written straight from the member rows:
/// a 100,000-member group never becomes a tree of JSON values in memory.
pub fn group_with_members(base: &str, doc: &Value, members: &[MemberRef]) -> Result<String, serde_json::Error> {
    let mut out = serde_json::to_vec(doc)?;
    if members.is_empty() || out.last() != Some(&b'}') {
        return String::from_utf8(out).map_err(serde::ser::Error::custom);
    }
    out.pop();
    out.reserve(members.len() * (base.len() + 110));
    out.extend_from_slice(b",\"members\":[");
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let item = MemberOut {
            value: &m.id,
            reference: location(base, m.kind, &m.id),
            display: m.display.as_deref(),
            kind: m.kind.name(),
        };
        serde_json::to_writer(&mut out, &item)?;
    }
    out.extend_from_slice(b"]}");
    String::from_utf8(out).map_err(serde::ser::Error::custom)
}
