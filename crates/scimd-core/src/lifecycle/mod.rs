//! The lifecycle of provisioned resources (issue #16): deletes that can be undone (soft
//! delete, restore, purge past a retention, erasure on a data subject's request), the
//! mass-deletion guard, and access that ends on its own.

pub mod access;
pub mod guard;
mod service;

use std::fmt;
use std::str::FromStr;

use scim_proto::schema::ResourceKind;
use serde::{Deserialize, Serialize};

pub use self::access::{ACCESS_SCHEMA, AccessState, Notice};
pub use self::guard::{GuardCounts, GuardRefusal, GuardSettings, GuardState};
pub use self::service::{ExpiryRound, PurgeReport};
use crate::clock::Timestamp;
use crate::provider::{Population, parse_seconds};
use crate::resource::ResourceRecord;

/// `--on-delete soft|hard`: what a provider's DELETE does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    /// The resource leaves SCIM at once but is kept, restorable, for the retention.
    #[default]
    Soft,
    /// The resource is gone for good.
    Hard,
}

impl OnDelete {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDelete::Soft => "soft",
            OnDelete::Hard => "hard",
        }
    }
}

impl fmt::Display for OnDelete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OnDelete {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "soft" => Ok(OnDelete::Soft),
            "hard" => Ok(OnDelete::Hard),
            other => Err(format!("'{other}' is not a way to delete: use soft or hard")),
        }
    }
}

/// How long soft-deleted resources are kept when nothing else is said.
pub const DEFAULT_RETENTION_SECONDS: i64 = 30 * 86_400;

/// The longest any lifecycle duration may be: ten years.
pub const MAX_LIFECYCLE_SECONDS: i64 = 10 * 365 * 86_400;

/// A lifecycle duration as typed (`30d`, `12h`, `10m`, `2s`), from a second to ten years;
/// `what` names it in the refusal.
pub fn parse_lifecycle_duration(what: &str, s: &str) -> Result<i64, String> {
    let secs = parse_seconds(s).map_err(|e| format!("{what}: {e}"))?;
    if !(1..=MAX_LIFECYCLE_SECONDS).contains(&secs) {
        return Err(format!("{what} '{}' must be between 1 second and 10 years", s.trim()));
    }
    Ok(secs)
}

/// How the store carries out a delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removal {
    /// Soft: keep the resource, restorable, and purge it after this time. `None`: hard.
    pub keep_until: Option<Timestamp>,
    /// Count the delete against the provider's mass-deletion guard (a provider's own
    /// request); `None` for an administrator's.
    pub guard: Option<GuardSettings>,
}

impl Removal {
    /// Gone for good, unguarded.
    pub fn hard() -> Removal {
        Removal::default()
    }
}

/// A soft-deleted user or group, as kept until it is restored or purged.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletedRecord {
    /// The resource as it was when deleted (`seq` is 0: it holds no place in any list).
    pub record: ResourceRecord,
    pub deleted: Timestamp,
    /// Who deleted it (`provider:okta`, `admin:alice`, ...).
    pub deleted_by: String,
    /// When it is purged for good.
    pub purge_after: Timestamp,
}

/// A page of soft-deleted resources of one population, newest deletion first.
#[derive(Debug, Clone)]
pub struct DeletedQuery {
    pub population: Population,
    pub kind: ResourceKind,
    pub offset: u64,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_durations_take_units_down_to_seconds() {
        assert_eq!(parse_lifecycle_duration("retention", "2s"), Ok(2));
        assert_eq!(parse_lifecycle_duration("retention", "30d"), Ok(30 * 86_400));
        assert_eq!(parse_lifecycle_duration("retention", "10m"), Ok(600));
        let e = parse_lifecycle_duration("retention", "0s").unwrap_err();
        assert!(e.contains("retention") && e.contains("between"), "{e}");
        assert!(parse_lifecycle_duration("retention", "soon").is_err());
        assert_eq!("HARD".parse::<OnDelete>(), Ok(OnDelete::Hard));
        assert!("later".parse::<OnDelete>().is_err());
    }
}
