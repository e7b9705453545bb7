//! Provisioned resources as the domain sees them: records, queries and changes. What a
//! resource looks like on the wire is the HTTP layer's business; what it may become is here.

use scim_proto::filter::Filter;
pub use scim_proto::list::SortOrder;
use scim_proto::patch::{MemberOp, NewMember};
use scim_proto::path::AttrPath;
use scim_proto::schema::ResourceKind;
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
}

/// What an update turns a record into.
#[derive(Debug, Clone)]
pub struct Change {
    pub data: Value,
    pub members: Vec<MemberOp>,
    /// Changed attribute names for the audit event.
    pub attributes: Vec<String>,
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

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort: Option<(AttrPath, SortOrder)>,
    pub start: PageStart,
    pub count: u64,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub total: u64,
    pub items: Vec<ResourceRecord>,
    /// The `seq` to continue after when more resources follow (cursor pagination).
    pub more_after: Option<i64>,
}
