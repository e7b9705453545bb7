//! Change events: every committed provisioning change, appended to its provider's stream in
//! the change's own transaction, then delivered to subscriptions as Standard Webhooks or as
//! RFC 9967 Security Event Tokens (pushed per RFC 8935 or polled per RFC 8936).

pub mod set;
pub mod webhook;

use std::fmt;
use std::str::FromStr;

use scim_proto::schema::ResourceKind;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::provider::Population;

/// What happened. The names are the webhook `type`s; subscriptions filter on them for either
/// format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
    ProviderUpdated,
    TokenRevoked,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeactivated,
        EventType::UserReactivated,
        EventType::UserDeleted,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::GroupMemberAdded,
        EventType::GroupMemberRemoved,
        EventType::ProviderUpdated,
        EventType::TokenRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
            EventType::GroupMemberAdded => "group.member_added",
            EventType::GroupMemberRemoved => "group.member_removed",
            EventType::ProviderUpdated => "provider.updated",
            EventType::TokenRevoked => "token.revoked",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown event type '{s}' (one of: {})", names.join(", "))
            })
    }
}

/// How a resource changed, for RFC 9967's `prov:put` versus `prov:patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Put,
    Patch,
    Delete,
    /// Not a SCIM request (provider settings, a token revoked).
    Other,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Put => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Verb> {
        [Verb::Create, Verb::Put, Verb::Patch, Verb::Delete, Verb::Other]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One event of a provider's stream, as stored and as delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// Unique (a UUID): the webhook `webhook-id` and the SET `jti`, the same on every retry.
    pub id: String,
    pub provider: String,
    pub population: Population,
    /// Monotonic within the provider, in its commit order; 1 is the first.
    pub position: i64,
    pub time: Timestamp,
    /// The same for all events of one change (RFC 8417 `txn`).
    pub txn: String,
    pub event_type: EventType,
    pub verb: Verb,
    /// The resource the event is about: a user or a group (absent for provider and token events).
    pub resource_kind: Option<ResourceKind>,
    /// The resource's id: a user, a group, a token id, or the provider id.
    pub resource_id: String,
    /// For membership events, the member's id.
    pub member_id: Option<String>,
    /// Names of changed attributes, never their values.
    pub attributes: Vec<String>,
    /// The resource after the change, as a SCIM client would read it, without `members`;
    /// absent for deletes, membership, provider and token events.
    pub resource: Option<Value>,
}

/// How much of a change a subscription receives: everything, or only ids and changed
/// attribute names (never attribute values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Full,
    Notice,
}

impl Payload {
    pub fn as_str(self) -> &'static str {
        match self {
            Payload::Full => "full",
            Payload::Notice => "notice",
        }
    }
}
