//! Provisioned resources as the domain sees them: records, queries and changes. What a
//! resource looks like on the wire is the HTTP layer's business; what it may become is here.

use scim_proto::filter::Filter;
pub use scim_proto::list::SortOrder;
use scim_proto::patch::{MemberOp, NewMember};
use scim_proto::path::AttrPath;
use std::sync::Arc;

use scim_proto::schema::{ResourceKind, ResourceSchemas, Uniqueness};
pub use scim_proto::value::Kept;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::error::CoreError;
use crate::provider::{Population, ProviderId};

/// A stored user or group. `data` holds the client's attributes in canonical spelling,
/// without `id`, `meta`, `members` or `groups`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRecord {
    /// Internal, stable order of creation; also the cursor position.
    pub seq: i64,
    pub id: String,
    pub provider: ProviderId,
    pub population: Population,
    pub kind: ResourceKind,
    pub data: Value,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub version: i64,
    /// When a user's access ends (providers with an access lifetime); scimd's, never the
    /// identity provider's.
    pub access_end: Option<Timestamp>,
}

impl ResourceRecord {
    /// The weak entity tag of this version (RFC 7232 §2.3), also `meta.version`.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// Which resource a change is for: a provider sees only its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceKey {
    pub provider: ProviderId,
    pub kind: ResourceKind,
    pub id: String,
}

impl ResourceKey {
    pub fn new(provider: &ProviderId, kind: ResourceKind, id: &str) -> Self {
        ResourceKey {
            provider: provider.clone(),
            kind,
            id: id.to_owned(),
        }
    }
}

/// One end of a membership, as shown in a group's `members` or a user's `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub id: String,
    pub kind: ResourceKind,
    pub display: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewResource {
    pub id: String,
    pub provider: ProviderId,
    pub population: Population,
    pub kind: ResourceKind,
    pub data: Value,
    pub created: Timestamp,
    /// Members of a new group.
    pub members: Vec<NewMember>,
    /// The document's values of indexed extension attributes.
    pub index: Vec<IndexEntry>,
    /// What the document keeps that no schema declares (advertised as discovered).
    pub kept: Vec<Kept>,
    /// A user's access end date.
    pub access_end: Option<Timestamp>,
}

/// What an update turns a record into.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub data: Value,
    pub members: Vec<MemberOp>,
    /// Changed attribute names for the audit event.
    pub attributes: Vec<String>,
    /// The new document's values of indexed extension attributes; they replace the old
    /// values of the attributes in `indexed` (every attribute the schemas index).
    pub index: Vec<IndexEntry>,
    pub indexed: Vec<String>,
    pub kept: Vec<Kept>,
    /// A deactivation (a user's `active` turning `false`) counts against this mass-deletion
    /// guard: the provider's own change. `None` for an administrator's.
    pub guard: Option<crate::lifecycle::GuardSettings>,
}

/// One value of an indexed extension attribute (declared with `--index`, or with
/// `uniqueness: server`), as the store's index keeps it: folded unless `caseExact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// `urn:...:costCenter`.
    pub attr: String,
    pub value: String,
    /// Unique within the provider (`uniqueness: server`).
    pub unique: bool,
}

/// An attribute a provider sent that no schema declares, as first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub kind: ResourceKind,
    /// The extension URN; empty for a top-level attribute of the core schema.
    pub uri: String,
    pub name: String,
    /// The JSON type first seen: string, number, boolean, object, array.
    pub json_type: String,
    pub first_seen: Timestamp,
}

/// The attributes `schemas` index, URN-qualified.
pub fn indexed_attributes(schemas: &ResourceSchemas) -> Vec<String> {
    schemas
        .extensions()
        .iter()
        .flat_map(|ext| {
            ext.schema
                .attributes
                .iter()
                .filter(|a| ext.is_indexed(a))
                .map(|a| format!("{}:{}", ext.schema.id, a.name))
        })
        .collect()
}

/// The indexed values of `doc`.
pub fn index_entries(schemas: &ResourceSchemas, doc: &Value) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    for ext in schemas.extensions() {
        let Some(obj) = doc.get(&ext.schema.id).and_then(Value::as_object) else {
            continue;
        };
        for attr in ext.schema.attributes.iter().filter(|a| ext.is_indexed(a)) {
            let values: Vec<&str> = match obj.get(&attr.name) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for v in values {
                out.push(IndexEntry {
                    attr: format!("{}:{}", ext.schema.id, attr.name),
                    value: if attr.case_exact {
                        v.to_owned()
                    } else {
                        v.to_lowercase()
                    },
                    unique: attr.uniqueness != Uniqueness::None,
                });
            }
        }
    }
    out
}

/// Computes the change from the current record, inside the store's transaction, so a
/// read-modify-write can never lose a concurrent update.
pub type UpdateFn = Box<dyn FnOnce(&ResourceRecord) -> Result<Change, CoreError> + Send>;

/// Where a page starts: an offset (`startIndex`, 1-based) or after a cursor (RFC 9865).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    Index(u64),
    /// After the resource with this `seq`; 0 is the beginning.
    After(i64),
}

/// A page of a list as a client asks for it (filter, order, start, size).
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: Option<Filter>,
    pub sort: Option<(AttrPath, SortOrder)>,
    pub start: PageStart,
    pub count: u64,
}

/// A [`ListRequest`] with the schemas its filter and `sortBy` resolve against (the
/// provider's), as the store runs it.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub schemas: Arc<ResourceSchemas>,
    pub filter: Option<Filter>,
    pub sort: Option<(AttrPath, SortOrder)>,
    pub start: PageStart,
    pub count: u64,
}

impl ListQuery {
    pub fn new(schemas: ResourceSchemas, req: ListRequest) -> Self {
        ListQuery {
            schemas: Arc::new(schemas),
            filter: req.filter,
            sort: req.sort,
            start: req.start,
            count: req.count,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page {
    pub total: u64,
    pub items: Vec<ResourceRecord>,
    /// The `seq` to continue after when more resources follow (cursor pagination).
    pub more_after: Option<i64>,
}
