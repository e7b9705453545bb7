//! Identity providers: who may push, into which population, with which credentials.

use std::fmt;
use std::str::FromStr;

use std::sync::Arc;

use scim_proto::schema::{Extension, ResourceKind, ResourceSchemas, Schema, Undeclared};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::lifecycle::access::access_schema;
use crate::lifecycle::{DEFAULT_RETENTION_SECONDS, GuardSettings, OnDelete};
use crate::net::Cidr;

/// The segments a SCIM client appends to a Base URL (RFC 7644 §3.2, §3.4.3, §3.7, §3.11, §4).
const SCIM_ENDPOINTS: [&str; 8] = [
    "Users",
    "Groups",
    "Schemas",
    "ResourceTypes",
    "ServiceProviderConfig",
    "Bulk",
    "Me",
    ".search",
];

/// Is `segment`, in any case, one of the endpoints a SCIM client appends to a Base URL?
pub fn is_scim_endpoint(segment: &str) -> bool {
    SCIM_ENDPOINTS.iter().any(|e| e.eq_ignore_ascii_case(segment))
}

/// A provider's id: a lowercase slug of letters, digits and hyphens. It is a path segment of
/// the Base URL, and Okta refuses underscores there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderId(String);

impl ProviderId {
    pub const MAX_LEN: usize = 63;

    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(ProviderId(s.to_owned()))
        } else {
            Err(format!(
                "'{s}' is not a provider id: use 1-63 lowercase letters, digits and inner hyphens"
            ))
        }
    }

    /// The slug of a display name: "Okta Staff (EU)" -> "okta-staff-eu". Letters outside
    /// ASCII are dropped; a name with nothing usable becomes "provider".
    pub fn slug_of(name: &str) -> Self {
        let mut slug = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(Self::MAX_LEN - 4);
        let slug = slug.trim_end_matches('-');
        ProviderId(if slug.is_empty() {
            "provider".to_owned()
        } else {
            slug.to_owned()
        })
    }

    /// Would this id, as the segment after `/scim/v2/`, read as a SCIM endpoint? Then a
    /// Base URL missing its provider (`/scim/v2/Users`) could not be told from this one's.
    pub fn reads_as_scim_endpoint(&self) -> bool {
        is_scim_endpoint(&self.0)
    }

    /// The n-th alternative when the slug is taken: "okta-2", "okta-3", ...
    pub fn with_suffix(&self, n: u32) -> Self {
        ProviderId(format!("{}-{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ProviderId::parse(&s)
    }
}

impl From<ProviderId> for String {
    fn from(p: ProviderId) -> String {
        p.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a provider's users and groups land. Fixed at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Population {
    Internal,
    ThirdParty,
}

impl Population {
    pub fn as_str(self) -> &'static str {
        match self {
            Population::Internal => "internal",
            Population::ThirdParty => "third-party",
        }
    }
}

impl FromStr for Population {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "internal" => Ok(Population::Internal),
            "third-party" | "thirdparty" | "third_party" => Ok(Population::ThirdParty),
            _ => Err(format!("'{s}' is not a population: use internal or third-party")),
        }
    }
}

impl fmt::Display for Population {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth client id: letters and digits only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientId(String);

impl ClientId {
    pub const LEN: usize = 24;

    pub fn generate() -> Self {
        ClientId(crate::crypto::random_alphanumeric(Self::LEN))
    }

    /// Client ids are looked up, never trusted: anything printable and short is a candidate.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| ClientId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Client secrets: 48 letters and digits, about 285 bits.
pub const CLIENT_SECRET_LEN: usize = 48;

/// A provider as stored. The secret is only here sealed and hashed.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: ProviderId,
    pub name: String,
    pub population: Population,
    pub enabled: bool,
    pub description: String,
    pub tags: Vec<String>,
    pub token_ttl_seconds: i64,
    pub allowed_networks: Vec<Cidr>,
    pub client_id: ClientId,
    pub secret_sealed: Vec<u8>,
    pub secret_hash: [u8; 32],
    pub created: Timestamp,
    pub modified: Timestamp,
    pub settings: ProviderSettings,
}

impl Provider {
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.allowed_networks.is_empty() || self.allowed_networks.iter().any(|c| c.contains(ip))
    }
}

/// What an administrator supplies to register a provider.
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub name: String,
    pub population: Population,
    pub enabled: bool,
    pub description: String,
    pub tags: Vec<String>,
    pub token_ttl_seconds: i64,
    pub allowed_networks: Vec<Cidr>,
    pub settings: ProviderSettings,
}

/// How a provider's clients are answered where SCIM leaves the server a choice, and the
/// lifecycle of what it provisions. Stored as one JSON document, so a new setting needs no
/// schema change; a setting the document lacks takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    pub group_patch_response: GroupPatchResponse,
    /// What happens to attributes no schema declares: kept as sent, or refused.
    pub undeclared: UndeclaredPolicy,
    /// Extension schemas the provider's resources carry (RFC 7643 §7), declared by an
    /// administrator.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<ExtensionDecl>,
    /// The client secret was sealed with a key file that is gone (`serve --accept-new-key`):
    /// it cannot be revealed or checked until it is rotated.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret_lost: bool,
    /// The provisioning log's retention where it differs from the server's.
    #[serde(skip_serializing_if = "crate::request_log::LogOverrides::is_empty")]
    pub log: crate::request_log::LogOverrides,
    /// What a DELETE does: soft (kept, restorable, for `retention_seconds`) or hard.
    pub on_delete: OnDelete,
    /// How long soft-deleted resources are kept before they are purged.
    pub retention_seconds: i64,
    /// Users get an access end date this long after they are created; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_ttl_seconds: Option<i64>,
    /// The mass-deletion guard.
    pub guard: GuardSettings,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            group_patch_response: GroupPatchResponse::default(),
            undeclared: UndeclaredPolicy::default(),
            extensions: Vec::new(),
            secret_lost: false,
            on_delete: OnDelete::default(),
            retention_seconds: DEFAULT_RETENTION_SECONDS,
            access_ttl_seconds: None,
            guard: GuardSettings::default(),
            log: crate::request_log::LogOverrides::default(),
        }
    }
}

/// `--undeclared keep|reject`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UndeclaredPolicy {
    #[default]
    Keep,
    Reject,
}

impl UndeclaredPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            UndeclaredPolicy::Keep => "keep",
            UndeclaredPolicy::Reject => "reject",
        }
    }
}

impl FromStr for UndeclaredPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "keep" => Ok(UndeclaredPolicy::Keep),
            "reject" => Ok(UndeclaredPolicy::Reject),
            other => Err(format!(
                "'{other}' is not a rule for undeclared attributes: use keep or reject"
            )),
        }
    }
}

/// An extension schema a provider declared for one resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionDecl {
    pub resource_type: ResourceKind,
    pub schema: Arc<Schema>,
    /// Every resource of the type must carry it (`schemaExtensions[].required`).
    pub required: bool,
    /// String attributes kept in an index for fast equality lookups.
    pub index: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExtensionJson {
    resource_type: String,
    required: bool,
    #[serde(default)]
    index: Vec<String>,
    schema: serde_json::Value,
}

impl Serialize for ExtensionDecl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ExtensionJson {
            resource_type: self.resource_type.name().to_owned(),
            required: self.required,
            index: self.index.clone(),
            schema: self.schema.to_json(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExtensionDecl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = ExtensionJson::deserialize(d)?;
        let resource_type = parse_resource_type(&raw.resource_type).map_err(serde::de::Error::custom)?;
        let schema = Schema::parse_extension(&raw.schema).map_err(serde::de::Error::custom)?;
        Ok(ExtensionDecl {
            resource_type,
            schema: Arc::new(schema),
            required: raw.required,
            index: raw.index,
        })
    }
}

/// `User` or `Group` (any case).
pub fn parse_resource_type(s: &str) -> Result<ResourceKind, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "user" | "users" => Ok(ResourceKind::User),
        "group" | "groups" => Ok(ResourceKind::Group),
        other => Err(format!("'{other}' is not a resource type: use User or Group")),
    }
}

impl Provider {
    /// The schemas the provider's resources of `kind` are checked against.
    pub fn schemas(&self, kind: ResourceKind) -> ResourceSchemas {
        let mut declared = self
            .settings
            .extensions
            .iter()
            .filter(|e| e.resource_type == kind)
            .map(|e| Extension {
                schema: Arc::clone(&e.schema),
                required: e.required,
                indexed: e.index.clone(),
            })
            .collect::<Vec<_>>();
        // Users of a provider whose access ends carry scimd's read-only access extension.
        if kind == ResourceKind::User && self.settings.access_ttl_seconds.is_some() {
            declared.push(Extension {
                schema: access_schema(),
                required: false,
                indexed: Vec::new(),
            });
        }
        ResourceSchemas::new(kind, declared).with_undeclared(match self.settings.undeclared {
            UndeclaredPolicy::Keep => Undeclared::Keep,
            UndeclaredPolicy::Reject => Undeclared::Reject,
        })
    }
}

/// The answer to a group PATCH that names no `attributes` (RFC 7644 §3.5.2 allows `204 No
/// Content`, or `200` with the whole resource). A PATCH asking for `attributes` or
/// `excludedAttributes` always gets `200` with that projection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupPatchResponse {
    /// `204`: adding one member to a 100,000-member group answers in constant time.
    #[default]
    NoContent,
    /// `200` with the group and all its members, for a client that needs the body.
    Full,
}

impl GroupPatchResponse {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupPatchResponse::NoContent => "no-content",
            GroupPatchResponse::Full => "full",
        }
    }
}

impl FromStr for GroupPatchResponse {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "no-content" => Ok(GroupPatchResponse::NoContent),
            "full" => Ok(GroupPatchResponse::Full),
            other => Err(format!(
                "'{other}' is not a group PATCH response: use no-content or full"
            )),
        }
    }
}

/// Default token lifetime: a year, because Okta pastes a token once and never refreshes it.
pub const DEFAULT_TOKEN_TTL_SECONDS: i64 = 365 * 24 * 3600;

/// Parse a token lifetime such as `365d`, `12h`, `90m`, `3600s` or `3600` (seconds).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let secs = parse_seconds(s)?;
    if !(60..=10 * 365 * 86_400).contains(&secs) {
        return Err(format!(
            "token lifetime '{}' must be between 1 minute and 10 years",
            s.trim()
        ));
    }
    Ok(secs)
}

/// Parse any duration an administrator types (`365d`, `12h`, `90m`, `3600s`, `3600`) into
/// seconds; what range makes sense is the caller's to say.
pub fn parse_seconds(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("'{s}' is not a duration: use e.g. 365d, 12h, 30m or 3600s");
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_read_as_scim_endpoints_are_recognised_in_any_case() {
        for name in [
            "Users",
            "GROUPS",
            "schemas",
            "resourceTypes",
            "Service Provider Config ",
            "bulk",
            "ME",
        ] {
            let id = ProviderId::slug_of(name);
            assert_eq!(id.reads_as_scim_endpoint(), !name.contains(' '), "{name}");
        }
        assert!(is_scim_endpoint(".SEARCH"));
        assert!(!ProviderId::slug_of("Okta Users").reads_as_scim_endpoint());
    }

    #[test]
    fn slugs_are_lowercase_without_underscores() {
        assert_eq!(ProviderId::slug_of("Okta Staff (EU)").as_str(), "okta-staff-eu");
        assert_eq!(ProviderId::slug_of("entra_id__prod").as_str(), "entra-id-prod");
        assert_eq!(ProviderId::slug_of("ÄÖ").as_str(), "provider");
        assert_eq!(ProviderId::slug_of("okta").with_suffix(2).as_str(), "okta-2");
    }

    #[test]
    fn provider_ids_refuse_what_a_url_segment_should_not_hold() {
        assert!(ProviderId::parse("okta-staff").is_ok());
        assert!(ProviderId::parse("okta_staff").is_err());
        assert!(ProviderId::parse("Okta").is_err());
        assert!(ProviderId::parse("-x").is_err());
        assert!(ProviderId::parse("").is_err());
    }

    #[test]
    fn populations_parse_from_their_names() {
        assert_eq!("internal".parse::<Population>(), Ok(Population::Internal));
        assert_eq!("third-party".parse::<Population>(), Ok(Population::ThirdParty));
        assert!("vendors".parse::<Population>().is_err());
    }

    #[test]
    fn durations_take_units_and_bounds() {
        assert_eq!(parse_duration("365d"), Ok(365 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert!(parse_duration("5s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
