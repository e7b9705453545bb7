//! What administrators enter, read once for every front end: a provider's settings (from a
//! console form, an admin API body or CLI flags), lists typed as text, and the audit log's
//! filters. Bad input becomes [`CoreError::Invalid`] with a message that says what to type.

use serde::Deserialize;

use crate::clock::Timestamp;
use crate::error::CoreError;
use crate::lifecycle::guard::{parse_share, parse_switch};
use crate::lifecycle::parse_lifecycle_duration;
use crate::net::Cidr;
use crate::provider::{
    DEFAULT_TOKEN_TTL_SECONDS, NewProvider, Population, ProviderSettings, parse_duration, parse_seconds,
};
use crate::registry::{GuardUpdate, ProviderUpdate};
use crate::store::AuditQuery;

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Invalid(msg.into())
}

/// One of a setting's named values (`no-content`, `keep`, ...); blank means not given.
fn choice<T: std::str::FromStr<Err = String>>(given: Option<&str>) -> Result<Option<T>, CoreError> {
    given
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .transpose()
        .map_err(invalid)
}

fn clean(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Split a list typed as text (commas or lines) into its items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `application/x-www-form-urlencoded` decoding (a Basic credential part, a query
/// parameter): `+` is a space and `%XX` a byte. Malformed escapes stay as they are.
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A population named in a path or a flag.
pub fn parse_population(s: &str) -> Result<Population, CoreError> {
    s.parse().map_err(|_| CoreError::NotFound(format!("population '{s}'")))
}

/// A provider's settings as an administrator enters them; absent ones are left as they are
/// (or take their defaults when the provider is new).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub name: Option<String>,
    pub population: Option<String>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    /// A lifetime such as `365d`.
    pub token_ttl: Option<String>,
    /// Or the date tokens issued today should expire (`YYYY-MM-DD`).
    pub token_expiry_date: Option<String>,
    pub allowed_networks: Option<Vec<String>>,
    /// `no-content` or `full`.
    pub group_patch_response: Option<String>,
    /// `keep` or `reject`.
    pub undeclared: Option<String>,
    /// The provisioning log's failure retention (`30d`), or `default` (or blank) for the
    /// server's.
    pub log_failure_retention: Option<String>,
    /// Failures kept (a number), or `default` (or blank) for the server's.
    pub log_failure_max: Option<NumberOrText>,
    /// Successes kept (a number), or `default` (or blank) for the server's.
    pub log_success_max: Option<NumberOrText>,
    /// `soft` or `hard`.
    pub on_delete: Option<String>,
    /// How long soft-deleted resources are kept, e.g. `30d`.
    pub retention: Option<String>,
    /// Users' access lifetime, e.g. `90d`; `none` for none.
    pub access_ttl: Option<String>,
    /// The mass-deletion guard: `on` or `off`.
    pub guard: Option<String>,
    /// e.g. `20%`.
    pub guard_share: Option<String>,
    /// e.g. `10m`.
    pub guard_window: Option<String>,
    /// e.g. `50` (a number or its text).
    pub guard_min_users: Option<NumberOrText>,
}

/// Blank text is not given.
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A number sent as JSON, or typed as text (a form field, a flag).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(u64),
    Text(String),
}

impl NumberOrText {
    fn text(&self) -> String {
        match self {
            NumberOrText::Number(n) => n.to_string(),
            NumberOrText::Text(t) => t.clone(),
        }
    }
}

/// A provider's own log setting: absent leaves it as it is (`None`); blank or `default`
/// hands it back to the server's (`Some(None)`); anything else is parsed.
fn log_setting<T>(
    given: Option<String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Option<T>>, CoreError> {
    match given.as_deref().map(str::trim) {
        None => Ok(None),
        Some(t) if t.is_empty() || t.eq_ignore_ascii_case("default") => Ok(Some(None)),
        Some(t) => parse(t).map(|v| Some(Some(v))).map_err(invalid),
    }
}

/// The three log settings of a provider input: retention in seconds, failures, successes.
type LogSettings = (Option<Option<i64>>, Option<Option<u64>>, Option<Option<u64>>);

impl ProviderInput {
    fn ttl(&self, now: Timestamp) -> Result<Option<i64>, CoreError> {
        let ttl = self.token_ttl.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let date = self
            .token_expiry_date
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        match (ttl, date) {
            (Some(_), Some(_)) => Err(invalid("give a token lifetime or an expiry date, not both")),
            (Some(t), None) => parse_duration(t).map(Some).map_err(invalid),
            (None, Some(d)) => {
                let at = Timestamp::parse_rfc3339(&format!("{d}T00:00:00Z"))
                    .ok_or_else(|| invalid(format!("'{d}' is not a date (YYYY-MM-DD)")))?;
                let secs = at.seconds() - now.seconds();
                parse_duration(&secs.max(0).to_string()).map(Some).map_err(|_| {
                    invalid(format!(
                        "the expiry date {d} must be between tomorrow and 10 years from now"
                    ))
                })
            }
            (None, None) => Ok(None),
        }
    }

    fn networks(&self) -> Result<Option<Vec<Cidr>>, CoreError> {
        self.allowed_networks
            .as_ref()
            .map(|l| {
                clean(l)
                    .iter()
                    .map(|n| n.parse::<Cidr>())
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(invalid)
    }

    fn log_settings(&self) -> Result<LogSettings, CoreError> {
        use crate::request_log::{parse_max, parse_retention};
        Ok((
            log_setting(self.log_failure_retention.clone(), parse_retention)?,
            log_setting(self.log_failure_max.as_ref().map(NumberOrText::text), |t| {
                parse_max("the failures kept", t)
            })?,
            log_setting(self.log_success_max.as_ref().map(NumberOrText::text), |t| {
                parse_max("the successes kept", t)
            })?,
        ))
    }

    /// The lifecycle settings given, as changes.
    fn lifecycle(&self) -> Result<LifecycleInput, CoreError> {
        let duration = |what: &str, v: &Option<String>| {
            given(v)
                .map(|t| parse_lifecycle_duration(what, t))
                .transpose()
                .map_err(invalid)
        };
        let access_ttl = match given(&self.access_ttl) {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("off") => Some(None),
            Some(t) => Some(Some(
                parse_lifecycle_duration("the access lifetime", t).map_err(invalid)?,
            )),
        };
        let min_users = match &self.guard_min_users {
            None => None,
            Some(NumberOrText::Number(n)) => Some(*n),
            Some(NumberOrText::Text(t)) if t.trim().is_empty() => None,
            Some(NumberOrText::Text(t)) => Some(
                t.trim()
                    .parse::<u64>()
                    .map_err(|_| invalid(format!("the guard's minimum '{}' is not a number of users", t.trim())))?,
            ),
        };
        Ok(LifecycleInput {
            on_delete: choice(self.on_delete.as_deref())?,
            retention_seconds: duration("the retention", &self.retention)?,
            access_ttl_seconds: access_ttl,
            guard: GuardUpdate {
                enabled: given(&self.guard).map(parse_switch).transpose().map_err(invalid)?,
                share_percent: given(&self.guard_share).map(parse_share).transpose().map_err(invalid)?,
                window_seconds: duration("the guard's window", &self.guard_window)?,
                min_users,
            },
        })
    }

    pub fn into_new(self, now: Timestamp) -> Result<NewProvider, CoreError> {
        let population: Population = self
            .population
            .as_deref()
            .ok_or_else(|| invalid("choose a population: internal or third-party"))?
            .parse()
            .map_err(invalid)?;
        let group_patch_response = choice(self.group_patch_response.as_deref())?.unwrap_or_default();
        let undeclared = choice(self.undeclared.as_deref())?.unwrap_or_default();
        let (retention, failures, successes) = self.log_settings()?;
        let lifecycle = self.lifecycle()?;
        let defaults = ProviderSettings::default();
        Ok(NewProvider {
            token_ttl_seconds: self.ttl(now)?.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS),
            allowed_networks: self.networks()?.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            population,
            enabled: self.enabled.unwrap_or(true),
            description: self.description.unwrap_or_default().trim().to_owned(),
            tags: self.tags.as_deref().map(clean).unwrap_or_default(),
            settings: ProviderSettings {
                group_patch_response,
                undeclared,
                log: crate::request_log::LogOverrides {
                    failure_retention_seconds: retention.flatten(),
                    failure_max: failures.flatten(),
                    success_max: successes.flatten(),
                },
                on_delete: lifecycle.on_delete.unwrap_or(defaults.on_delete),
                retention_seconds: lifecycle.retention_seconds.unwrap_or(defaults.retention_seconds),
                access_ttl_seconds: lifecycle.access_ttl_seconds.flatten(),
                guard: lifecycle.guard.apply(defaults.guard),
                ..defaults
            },
        })
    }

    /// The changes to an existing provider, and whether to enable or disable it. The
    /// population may not change.
    pub fn into_update(self, now: Timestamp) -> Result<(ProviderUpdate, Option<bool>), CoreError> {
        if self.population.is_some() {
            return Err(invalid("a provider's population is fixed once saved"));
        }
        let (log_failure_retention_seconds, log_failure_max, log_success_max) = self.log_settings()?;
        let lifecycle = self.lifecycle()?;
        let update = ProviderUpdate {
            log_failure_retention_seconds,
            log_failure_max,
            log_success_max,
            on_delete: lifecycle.on_delete,
            retention_seconds: lifecycle.retention_seconds,
            access_ttl_seconds: lifecycle.access_ttl_seconds,
            guard: lifecycle.guard,
            token_ttl_seconds: self.ttl(now)?,
            allowed_networks: self.networks()?,
            group_patch_response: choice(self.group_patch_response.as_deref())?,
            undeclared: choice(self.undeclared.as_deref())?,
            name: self.name,
            description: self.description.map(|d| d.trim().to_owned()),
            tags: self.tags.as_deref().map(clean),
        };
        Ok((update, self.enabled))
    }
}

/// The lifecycle settings an administrator gave.
struct LifecycleInput {
    on_delete: Option<crate::lifecycle::OnDelete>,
    retention_seconds: Option<i64>,
    access_ttl_seconds: Option<Option<i64>>,
    guard: GuardUpdate,
}

/// A renewal's length as typed (`90d`).
pub fn renewal(text: &str) -> Result<i64, CoreError> {
    parse_lifecycle_duration("the renewal", text).map_err(invalid)
}

/// The audit log's filters as an administrator gives them (a query string, CLI flags).
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    pub provider: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    /// RFC 3339 time or `YYYY-MM-DD`.
    pub since: Option<String>,
    pub until: Option<String>,
    pub before: Option<i64>,
    pub count: Option<u32>,
}

pub(crate) fn time_param(name: &str, s: &Option<String>) -> Result<Option<Timestamp>, CoreError> {
    let Some(s) = s.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    Timestamp::parse_rfc3339(s)
        .or_else(|| Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")))
        .map(Some)
        .ok_or_else(|| invalid(format!("{name} '{s}' is not a time (RFC 3339 or YYYY-MM-DD)")))
}

impl AuditFilter {
    pub fn query(&self, default_count: u32) -> Result<AuditQuery, CoreError> {
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(AuditQuery {
            provider: text(&self.provider),
            action: text(&self.action),
            actor: text(&self.actor),
            resource: text(&self.resource),
            since: time_param("since", &self.since)?,
            until: time_param("until", &self.until)?,
            before_seq: self.before,
            limit: self.count.unwrap_or(default_count),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_and_lines() {
        assert_eq!(split_list(" a, b\nc ,, "), vec!["a", "b", "c"]);
    }

    #[test]
    fn a_new_provider_takes_defaults_and_refuses_bad_values() {
        let now = Timestamp(1_750_000_000_000);
        let new = ProviderInput {
            name: Some("Okta".into()),
            population: Some("internal".into()),
            tags: Some(vec![" a ".into(), "".into()]),
            ..ProviderInput::default()
        }
        .into_new(now)
        .ok();
        assert_eq!(
            new.as_ref().map(|n| n.token_ttl_seconds),
            Some(DEFAULT_TOKEN_TTL_SECONDS)
        );
        assert_eq!(new.map(|n| n.tags), Some(vec!["a".to_owned()]));
        let bad = ProviderInput {
            population: Some("internal".into()),
            allowed_networks: Some(vec!["10.0.0.0/33".into()]),
            ..ProviderInput::default()
        };
        assert!(bad.into_new(now).is_err());
        let both = ProviderInput {
            token_ttl: Some("30d".into()),
            token_expiry_date: Some("2030-01-01".into()),
            ..ProviderInput::default()
        };
        assert!(both.into_update(now).is_err());
    }

    #[test]
    fn a_secret_overlap_defaults_to_a_day_and_stays_within_thirty() {
        let secs = |t: Option<&str>| secret_overlap(t).map(|d| d.as_secs()).ok();
        assert_eq!(secs(None), Some(86_400));
        assert_eq!(secs(Some(" ")), Some(86_400));
        assert_eq!(secs(Some("2h")), Some(7200));
        assert_eq!(secs(Some("0")), Some(0));
        assert_eq!(secs(Some("30d")), Some(30 * 86_400));
        assert!(secs(Some("31d")).is_none());
        assert!(secs(Some("soon")).is_none());
    }
}

/// A subscription as an administrator asks for it (CLI flags, an admin API body, a console
/// form). Without a URL, a `set` subscription is polled (RFC 8936).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    pub format: Option<String>,
    pub url: Option<String>,
    #[serde(default)]
    pub providers: Vec<String>,
    pub population: Option<String>,
    /// Webhook type names (`user.created`, ...), for either format; all when empty.
    #[serde(default)]
    pub events: Vec<String>,
    pub payload: Option<String>,
}

impl SubscriptionInput {
    pub fn into_new(self) -> Result<crate::events::service::NewSubscription, CoreError> {
        use crate::events::subscription::Format;
        let format: Format =
            choice(self.format.as_deref())?.ok_or_else(|| invalid("a subscription needs a format: webhook or set"))?;
        let url = self.url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        let population = match self.population.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(
                p.parse::<Population>()
                    .map_err(|_| invalid(format!("unknown population '{p}' (internal or third-party)")))?,
            ),
            None => None,
        };
        let events = clean(&self.events)
            .iter()
            .map(|e| e.parse())
            .collect::<Result<Vec<_>, String>>()
            .map_err(invalid)?;
        Ok(crate::events::service::NewSubscription {
            format,
            url,
            providers: clean(&self.providers),
            population,
            events,
            payload: choice(self.payload.as_deref())?.unwrap_or(crate::events::Payload::Full),
        })
    }
}

/// How long a rotated webhook secret keeps signing alongside the new one, when not given.
pub const DEFAULT_SECRET_OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The overlap of a webhook secret rotation as typed (`24h`, `0` to cut over at once); blank
/// means the default. At most 30 days: an old secret valid longer is hardly rotated at all.
pub fn secret_overlap(text: Option<&str>) -> Result<std::time::Duration, CoreError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_SECRET_OVERLAP);
    };
    let secs = parse_seconds(t).map_err(invalid)?;
    if secs > 30 * 86_400 {
        return Err(invalid(format!("the overlap '{t}' is longer than 30 days")));
    }
    Ok(std::time::Duration::from_secs(secs.unsigned_abs()))
}

/// A setup link as the admin API asks for one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupLinkInput {
    /// How long it works, e.g. `72h` (the default) or `7d`; at most 30 days.
    pub expires: Option<String>,
    /// The page may show the client secret, once.
    #[serde(default)]
    pub reveal_secret: bool,
}

/// A setup link's lifetime as typed (`72h`, `7d`); blank means the default. The range is
/// the core's to check.
pub fn setup_link_ttl(text: Option<&str>) -> Result<Option<i64>, CoreError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => parse_seconds(t).map(Some).map_err(invalid),
    }
}
