//! What both backends say the same way about resource rows: the columns read back, the
//! indexed columns extracted from a document, the record a creation yields, and the domain
//! errors for a missing row, a stale version and a violated uniqueness rule.

use scim_proto::error::{ScimError, ScimType};
use scim_proto::schema::ResourceKind;
use scimd_core::CoreError;
use scimd_core::resource::{NewResource, ResourceRecord};
use serde_json::Value;

use crate::filter::fold;

/// The columns every resource query reads, in the order `record_from_row` expects.
pub(crate) const COLUMNS: &str =
    "r.seq, r.id, r.provider_id, r.population, r.kind, r.data, r.created, r.modified, r.version, r.access_end";

/// A row of a member page (`MEMBER_PAGE`'s columns, read by either backend).
pub(crate) fn member_row(seq: i64, id: String, kind: &str, display: Option<String>) -> scimd_core::MemberRow {
    scimd_core::MemberRow {
        seq,
        member: scimd_core::resource::MemberRef {
            id,
            kind: parse_kind(kind).unwrap_or(ResourceKind::User),
            display,
        },
    }
}

pub(crate) fn parse_kind(s: &str) -> Option<ResourceKind> {
    match s {
        "User" => Some(ResourceKind::User),
        "Group" => Some(ResourceKind::Group),
        _ => None,
    }
}

/// A resource is read by its id alone, through the unique index on `id`, and only then
/// checked to be the provider's and of the kind asked for: naming the provider and kind in
/// the query as well invites a planner without fresh statistics (PostgreSQL right after a
/// bulk load) to walk a (provider, kind, ...) index instead, 26,000 rows read for one.
pub(crate) fn owned(rec: Option<ResourceRecord>, provider: &str, kind: ResourceKind) -> Option<ResourceRecord> {
    rec.filter(|r| r.provider.as_str() == provider && r.kind == kind)
}

/// The indexed columns extracted from a canonical document; the folded ones are what the
/// unique indexes and case-insensitive lookups use, folded in Rust for both backends.
pub(crate) struct Columns {
    pub user_name: Option<String>,
    pub user_name_folded: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub display_name_folded: Option<String>,
    pub active: Option<bool>,
}

impl Columns {
    pub(crate) fn of(kind: ResourceKind, data: &Value) -> Columns {
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
        let is_user = kind == ResourceKind::User;
        let user_name = if is_user { text("userName") } else { None };
        let display_name = text("displayName");
        Columns {
            user_name_folded: user_name.as_deref().map(fold),
            user_name,
            external_id: text("externalId"),
            display_name_folded: display_name.as_deref().map(fold),
            display_name,
            active: if is_user {
                data.get("active").and_then(Value::as_bool)
            } else {
                None
            },
        }
    }

    /// The 409 for a violated uniqueness index, in the domain's words.
    pub(crate) fn conflict(&self, violated: Unique) -> CoreError {
        let detail = match violated {
            Unique::UserName => format!(
                "userName '{}' is already taken in this population",
                self.user_name.as_deref().unwrap_or_default()
            ),
            Unique::GroupName => {
                format!(
                    "a group named '{}' already exists",
                    self.display_name.as_deref().unwrap_or_default()
                )
            }
        };
        CoreError::Scim(ScimError::new(409, Some(ScimType::Uniqueness), detail))
    }
}

/// The uniqueness rules the resource table enforces.
pub(crate) enum Unique {
    /// userName per population, case-insensitively.
    UserName,
    /// Group displayName per provider, case-insensitively.
    GroupName,
}

/// The record a successful insert of `new` at `seq` stands for.
pub(crate) fn created(new: NewResource, seq: i64) -> ResourceRecord {
    ResourceRecord {
        seq,
        id: new.id,
        provider: new.provider,
        population: new.population,
        kind: new.kind,
        data: new.data,
        created: new.created,
        modified: new.created,
        version: 1,
        access_end: new.access_end,
    }
}

pub(crate) fn not_found(kind: ResourceKind, id: &str) -> CoreError {
    CoreError::NotFound(format!("{} '{id}'", kind.name()))
}

/// `If-Match` named a version that is no longer the row's.
pub(crate) fn check_version(rec: &ResourceRecord, if_match: Option<i64>) -> Result<(), CoreError> {
    match if_match {
        Some(v) if v != rec.version => Err(CoreError::PreconditionFailed(rec.etag())),
        _ => Ok(()),
    }
}
