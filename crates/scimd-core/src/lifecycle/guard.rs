//! The mass-deletion guard: when one provider deletes or deactivates more than a share of
//! its own live users (or deletes more than that share of its groups) within a window, its
//! further deletes and deactivations are refused until an administrator releases the guard.
//! A mis-scoped assignment in Okta or Entra must not be able to wipe a directory.
//!
//! The counts live in one small document per provider (`provider_guard.counts`): removals
//! per time bucket (a tenth of the window) and the live count each share is taken of, read
//! and written in the removal's own transaction. This module is the arithmetic; the store
//! holds the row lock and counts the live resources when a base has gone stale.

use scim_proto::schema::ResourceKind;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::views::human_duration;

/// `--guard`, `--guard-share`, `--guard-window`, `--guard-min-users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardSettings {
    pub enabled: bool,
    /// Removals allowed within the window, in percent of the live users (or groups).
    pub share_percent: u32,
    pub window_seconds: i64,
    /// Below this many live users (or groups) the guard does not count against them.
    pub min_users: u64,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            enabled: true,
            share_percent: 20,
            window_seconds: 600,
            min_users: 50,
        }
    }
}

/// Seconds an identity provider is asked to wait before retrying a refused removal.
pub const GUARD_RETRY_AFTER: i64 = 300;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Bucket {
    /// Start of the bucket, milliseconds.
    at: i64,
    users: u64,
    groups: u64,
}

/// A live count and when it was taken (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Base {
    count: u64,
    at: i64,
}

/// A provider's recent removals and the live counts they are measured against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuardCounts {
    buckets: Vec<Bucket>,
    users: Option<Base>,
    groups: Option<Base>,
}

/// Why a removal was refused: what the provider removed, of how many, within which window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardRefusal {
    pub provider: String,
    /// `User` or `Group`: the resources whose share was exceeded.
    pub kind: String,
    pub removed: u64,
    pub base: u64,
    pub share_percent: u32,
    pub window_seconds: i64,
    /// When the guard tripped (the first refusal); stored as milliseconds.
    #[serde(with = "millis")]
    pub tripped_at: Timestamp,
    /// This refusal tripped it (and should be recorded); later ones find it tripped.
    #[serde(skip)]
    pub newly: bool,
}

/// A time kept in the guard's row as milliseconds.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::clock::Timestamp;

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        i64::deserialize(d).map(Timestamp)
    }
}

impl GuardRefusal {
    /// The SCIM error detail: names the guard, says why and how it is lifted, so that it is
    /// never mistaken for a storage outage (whose detail speaks of the database).
    pub fn detail(&self) -> String {
        let what = if self.kind == "Group" { "groups" } else { "users" };
        format!(
            "mass-deletion guard: provider '{}' deleted or deactivated {} of its {} {what} within {}, and one more \
             would exceed its share of {}%; its deletes and deactivations are refused until an administrator \
             releases the guard (scimd provider guard release {}); retry later",
            self.provider,
            self.removed,
            self.base,
            human_duration(self.window_seconds),
            self.share_percent,
            self.provider
        )
    }
}

impl GuardCounts {
    fn bucket_ms(window_seconds: i64) -> i64 {
        (window_seconds.max(1) * 1000 / 10).max(1000)
    }

    /// Forget buckets that ended before the window.
    fn prune(&mut self, now: Timestamp, s: &GuardSettings) {
        let (window, width) = (s.window_seconds.max(1) * 1000, Self::bucket_ms(s.window_seconds));
        self.buckets.retain(|b| b.at + width > now.0 - window);
    }

    /// Removals of `kind` within the window.
    pub fn removed(&self, kind: ResourceKind) -> u64 {
        self.buckets
            .iter()
            .map(|b| match kind {
                ResourceKind::User => b.users,
                ResourceKind::Group => b.groups,
            })
            .sum()
    }

    fn base(&self, kind: ResourceKind) -> Option<Base> {
        match kind {
            ResourceKind::User => self.users,
            ResourceKind::Group => self.groups,
        }
    }

    /// Must the live count of `kind` be taken again (none yet, or older than the window)?
    pub fn needs_base(&self, kind: ResourceKind, now: Timestamp, s: &GuardSettings) -> bool {
        self.base(kind)
            .is_none_or(|b| now.0 - b.at >= s.window_seconds.max(1) * 1000)
    }

    /// Record the live count of `kind`: the share is of what the provider had at the
    /// window's start, so the removals still in the window are added back.
    pub fn set_base(&mut self, kind: ResourceKind, live: u64, now: Timestamp, s: &GuardSettings) {
        self.prune(now, s);
        let base = Some(Base {
            count: live + self.removed(kind),
            at: now.0,
        });
        match kind {
            ResourceKind::User => self.users = base,
            ResourceKind::Group => self.groups = base,
        }
    }

    /// Count one removal of `kind` at `now`, or refuse it when it would take the provider's
    /// removals within the window past its share (and the base is at least `min_users`).
    pub fn admit(
        &mut self,
        provider: &str,
        kind: ResourceKind,
        now: Timestamp,
        s: &GuardSettings,
    ) -> Result<(), GuardRefusal> {
        self.prune(now, s);
        let removed = self.removed(kind);
        let base = self.base(kind).map_or(0, |b| b.count);
        if s.enabled && base >= s.min_users && (removed + 1) * 100 > u64::from(s.share_percent) * base {
            return Err(GuardRefusal {
                provider: provider.to_owned(),
                kind: kind.name().to_owned(),
                removed,
                base,
                share_percent: s.share_percent,
                window_seconds: s.window_seconds,
                tripped_at: now,
                newly: true,
            });
        }
        let width = Self::bucket_ms(s.window_seconds);
        let at = now.0 - now.0.rem_euclid(width);
        let bucket = match self.buckets.iter_mut().find(|b| b.at == at) {
            Some(b) => b,
            None => {
                self.buckets.push(Bucket {
                    at,
                    ..Bucket::default()
                });
                let last = self.buckets.len() - 1;
                &mut self.buckets[last]
            }
        };
        match kind {
            ResourceKind::User => bucket.users += 1,
            ResourceKind::Group => bucket.groups += 1,
        }
        Ok(())
    }
}

/// A provider's guard as administrators see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardState {
    /// Tripped, and why: removals are refused until released.
    pub tripped: Option<GuardRefusal>,
    /// The last release, by whom.
    pub released: Option<(Timestamp, String)>,
}

/// A share as typed: `20%` or `20`, 1 to 100.
pub fn parse_share(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let n: u32 = t
        .strip_suffix('%')
        .unwrap_or(t)
        .trim()
        .parse()
        .map_err(|_| format!("'{t}' is not a share: use a percentage such as 20%"))?;
    if !(1..=100).contains(&n) {
        return Err(format!("the guard's share '{t}' must be between 1% and 100%"));
    }
    Ok(n)
}

/// `on` or `off`.
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("'{other}' is not a guard setting: use on or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GuardSettings {
        GuardSettings {
            enabled: true,
            share_percent: 20,
            window_seconds: 600,
            min_users: 50,
        }
    }

    #[test]
    fn removals_past_the_share_of_the_window_are_refused() {
        let (s, t0) = (settings(), Timestamp(1_000_000_000));
        let mut c = GuardCounts::default();
        assert!(c.needs_base(ResourceKind::User, t0, &s));
        c.set_base(ResourceKind::User, 60, t0, &s);
        for i in 0..12 {
            assert!(
                c.admit("okta", ResourceKind::User, Timestamp(t0.0 + i * 1000), &s)
                    .is_ok()
            );
        }
        let refusal = c.admit("okta", ResourceKind::User, Timestamp(t0.0 + 13_000), &s);
        let r = refusal.expect_err("the 13th of 60 is more than 20%");
        assert_eq!((r.removed, r.base, r.newly), (12, 60, true));
        assert!(
            r.detail().contains("mass-deletion guard") && r.detail().contains("okta"),
            "{}",
            r.detail()
        );
        // Groups are counted apart.
        c.set_base(ResourceKind::Group, 100, t0, &s);
        assert!(c.admit("okta", ResourceKind::Group, t0, &s).is_ok());
    }

    #[test]
    fn the_window_slides_and_small_directories_are_not_guarded() {
        let (s, t0) = (settings(), Timestamp(1_000_000_000));
        let mut c = GuardCounts::default();
        c.set_base(ResourceKind::User, 60, t0, &s);
        for _ in 0..12 {
            assert!(c.admit("okta", ResourceKind::User, t0, &s).is_ok());
        }
        // A bucket is a tenth of the window: past the window and one bucket, nothing counts.
        let later = Timestamp(t0.0 + 661_000);
        c.prune(later, &s);
        assert_eq!(c.removed(ResourceKind::User), 0);
        assert!(c.needs_base(ResourceKind::User, later, &s));
        let mut small = GuardCounts::default();
        small.set_base(ResourceKind::User, 49, t0, &s);
        for _ in 0..49 {
            assert!(small.admit("okta", ResourceKind::User, t0, &s).is_ok());
        }
        let off = GuardSettings { enabled: false, ..s };
        let mut c = GuardCounts::default();
        c.set_base(ResourceKind::User, 100, t0, &off);
        for _ in 0..100 {
            assert!(c.admit("okta", ResourceKind::User, t0, &off).is_ok());
        }
    }

    #[test]
    fn shares_and_switches_parse_as_typed() {
        assert_eq!(parse_share("20%"), Ok(20));
        assert_eq!(parse_share(" 5 "), Ok(5));
        assert!(parse_share("0%").is_err() && parse_share("101%").is_err() && parse_share("x").is_err());
        assert_eq!(parse_switch("off"), Ok(false));
        assert!(parse_switch("maybe").is_err());
    }
}
