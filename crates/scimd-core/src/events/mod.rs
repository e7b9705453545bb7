//! Change events: every committed provisioning change, appended to its provider's stream in
//! the change's own transaction, then delivered to subscriptions as Standard Webhooks or as
//! RFC 9967 Security Event Tokens (pushed per RFC 8935 or polled per RFC 8936).

pub mod service;
pub mod set;
pub mod subscription;
pub mod transport;
pub mod webhook;

use std::fmt;
use std::str::FromStr;

use scim_proto::schema::ResourceKind;
use serde_json::Value;

use crate::audit::AuditEvent;
use crate::clock::Timestamp;
use crate::crypto;
use crate::provider::Population;
use crate::resource::ResourceRecord;
use crate::views::scim_resource;

/// What happened. The names are the webhook `type`s; subscriptions filter on them for either
/// format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    UserRestored,
    UserAccessExpiring,
    UserAccessExpired,
    UserAccessRenewed,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupRestored,
    GroupMemberAdded,
    GroupMemberRemoved,
    ProviderUpdated,
    ProviderDeleted,
    TokenRevoked,
}

impl EventType {
    pub const ALL: [EventType; 18] = [
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeactivated,
        EventType::UserReactivated,
        EventType::UserDeleted,
        EventType::UserRestored,
        EventType::UserAccessExpiring,
        EventType::UserAccessExpired,
        EventType::UserAccessRenewed,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::GroupRestored,
        EventType::GroupMemberAdded,
        EventType::GroupMemberRemoved,
        EventType::ProviderUpdated,
        EventType::ProviderDeleted,
        EventType::TokenRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::UserRestored => "user.restored",
            EventType::UserAccessExpiring => "user.access_expiring",
            EventType::UserAccessExpired => "user.access_expired",
            EventType::UserAccessRenewed => "user.access_renewed",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
            EventType::GroupRestored => "group.restored",
            EventType::GroupMemberAdded => "group.member_added",
            EventType::GroupMemberRemoved => "group.member_removed",
            EventType::ProviderUpdated => "provider.updated",
            EventType::ProviderDeleted => "provider.deleted",
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
        EventType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
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

/// The events of changes, built where the change is made (the store, inside the change's
/// transaction, for resources; the services for providers and tokens). Positions are 0 until
/// the store appends them.
impl ChangeEvent {
    fn of(audit: &AuditEvent, event_type: EventType, verb: Verb, resource_id: &str) -> ChangeEvent {
        ChangeEvent {
            id: String::new(),
            provider: audit.provider.clone().unwrap_or_default(),
            population: audit.population.unwrap_or(Population::Internal),
            position: 0,
            time: audit.time,
            txn: String::new(),
            event_type,
            verb,
            resource_kind: None,
            resource_id: resource_id.to_owned(),
            member_id: None,
            attributes: Vec::new(),
            resource: None,
        }
    }

    fn about(mut self, kind: ResourceKind) -> Self {
        self.resource_kind = Some(kind);
        self
    }

    fn attributes(mut self, names: &[String]) -> Self {
        self.attributes = names.to_vec();
        self
    }

    fn showing(mut self, rec: &ResourceRecord) -> Self {
        // Relative location: the deliverer makes it absolute with the provider's base URL.
        // The access state is the one at the change's time.
        self.resource = Some(scim_resource("", rec, self.time));
        self
    }
}

/// `false` only when `active` is `false`: a user without the attribute is not disabled.
fn is_active(doc: &Value) -> bool {
    doc.get("active").and_then(Value::as_bool) != Some(false)
}

fn member_events(
    audit: &AuditEvent,
    group: &str,
    added: &[String],
    removed: &[String],
) -> impl Iterator<Item = ChangeEvent> {
    let one = move |t: EventType, member: &String| {
        let mut e = ChangeEvent::of(audit, t, Verb::Patch, group)
            .about(ResourceKind::Group)
            .attributes(&["members".to_owned()]);
        e.member_id = Some(member.clone());
        e
    };
    let added = added.iter().map(move |m| one(EventType::GroupMemberAdded, m));
    let removed = removed.iter().map(move |m| one(EventType::GroupMemberRemoved, m));
    added.chain(removed)
}

/// A user or group was created (with its initial members).
pub fn resource_created(audit: &AuditEvent, rec: &ResourceRecord, members: &[String]) -> Vec<ChangeEvent> {
    let created = match rec.kind {
        ResourceKind::User => EventType::UserCreated,
        ResourceKind::Group => EventType::GroupCreated,
    };
    let attributes: Vec<String> = audit.attributes.iter().filter(|a| *a != "members").cloned().collect();
    let first = ChangeEvent::of(audit, created, Verb::Create, &rec.id)
        .about(rec.kind)
        .attributes(&attributes)
        .showing(rec);
    identified(
        audit,
        std::iter::once(first).chain(member_events(audit, &rec.id, members, &[])),
    )
}

/// A user or group changed: by PUT or PATCH (`audit.action` says which), or by an
/// administrator's edit. A user whose `active` flipped is deactivated or reactivated; a
/// group's member changes are one event per member, and its own event (without members)
/// only when something else changed.
pub fn resource_updated(
    audit: &AuditEvent,
    before: &ResourceRecord,
    after: &ResourceRecord,
    added: &[String],
    removed: &[String],
) -> Vec<ChangeEvent> {
    let verb = if audit.action.ends_with(".replace") {
        Verb::Put
    } else {
        Verb::Patch
    };
    let attributes: Vec<String> = audit.attributes.iter().filter(|a| *a != "members").cloned().collect();
    let updated = match (after.kind, is_active(&before.data), is_active(&after.data)) {
        (ResourceKind::User, true, false) => Some(EventType::UserDeactivated),
        (ResourceKind::User, false, true) => Some(EventType::UserReactivated),
        (ResourceKind::User, _, _) => Some(EventType::UserUpdated),
        (ResourceKind::Group, _, _) if !attributes.is_empty() => Some(EventType::GroupUpdated),
        (ResourceKind::Group, _, _) => None,
    };
    let own = updated.map(|t| {
        ChangeEvent::of(audit, t, verb, &after.id)
            .about(after.kind)
            .attributes(&attributes)
            .showing(after)
    });
    identified(
        audit,
        own.into_iter().chain(member_events(audit, &after.id, added, removed)),
    )
}

/// A user or group was deleted; a user also leaves each group it was in.
pub fn resource_deleted(audit: &AuditEvent, kind: ResourceKind, id: &str, left: &[String]) -> Vec<ChangeEvent> {
    let deleted = match kind {
        ResourceKind::User => EventType::UserDeleted,
        ResourceKind::Group => EventType::GroupDeleted,
    };
    let own = ChangeEvent::of(audit, deleted, Verb::Delete, id).about(kind);
    let leaves = left.iter().map(|group| {
        let mut e = ChangeEvent::of(audit, EventType::GroupMemberRemoved, Verb::Patch, group)
            .about(ResourceKind::Group)
            .attributes(&["members".to_owned()]);
        e.member_id = Some(id.to_owned());
        e
    });
    identified(audit, std::iter::once(own).chain(leaves))
}

/// A soft-deleted user or group came back, and the memberships it got back: `members`
/// joined it (a group), it joined `groups`.
pub fn resource_restored(
    audit: &AuditEvent,
    rec: &ResourceRecord,
    members: &[String],
    groups: &[String],
) -> Vec<ChangeEvent> {
    let restored = match rec.kind {
        ResourceKind::User => EventType::UserRestored,
        ResourceKind::Group => EventType::GroupRestored,
    };
    let own = ChangeEvent::of(audit, restored, Verb::Create, &rec.id)
        .about(rec.kind)
        .showing(rec);
    let joined_groups = groups
        .iter()
        .flat_map(|g| member_events(audit, g, std::slice::from_ref(&rec.id), &[]));
    let joined_groups: Vec<ChangeEvent> = joined_groups.collect();
    identified(
        audit,
        std::iter::once(own)
            .chain(member_events(audit, &rec.id, members, &[]))
            .chain(joined_groups),
    )
}

/// A user's access is about to end, ended, or was renewed (`attributes` names the access
/// attributes that changed: the end date, and the state when it flipped).
pub fn access_changed(
    audit: &AuditEvent,
    event_type: EventType,
    rec: &ResourceRecord,
    attributes: &[String],
) -> Vec<ChangeEvent> {
    let e = ChangeEvent::of(audit, event_type, Verb::Other, &rec.id)
        .about(ResourceKind::User)
        .attributes(attributes)
        .showing(rec);
    identified(audit, std::iter::once(e))
}

/// A provider's settings changed, it was enabled or disabled (`attributes` names what), or
/// it was deleted (with everything it provisioned).
pub fn provider_changed(audit: &AuditEvent, provider: &str, deleted: bool) -> ChangeEvent {
    let (t, verb) = if deleted {
        (EventType::ProviderDeleted, Verb::Delete)
    } else {
        (EventType::ProviderUpdated, Verb::Other)
    };
    one(ChangeEvent::of(audit, t, verb, provider).attributes(&audit.attributes))
}

/// A token was revoked; `None` is every live token of the provider at once (`*`).
pub fn token_revoked(audit: &AuditEvent, token: Option<&str>) -> ChangeEvent {
    one(ChangeEvent::of(
        audit,
        EventType::TokenRevoked,
        Verb::Other,
        token.unwrap_or("*"),
    ))
}

/// Give the events of one change their ids and the change's `txn`: time-ordered UUIDs
/// (cheap to index), from one call to the random source.
fn identify(time: Timestamp, events: &mut [ChangeEvent]) {
    let mut ids = crypto::time_ordered_uuids(time.0, events.len() + 1).into_iter();
    let txn = ids.next().unwrap_or_default();
    for (e, id) in events.iter_mut().zip(ids) {
        e.id = id;
        e.txn = txn.clone();
    }
}

fn identified(audit: &AuditEvent, events: impl Iterator<Item = ChangeEvent>) -> Vec<ChangeEvent> {
    let mut events: Vec<ChangeEvent> = events.collect();
    identify(audit.time, &mut events);
    events
}

fn one(mut e: ChangeEvent) -> ChangeEvent {
    identify(e.time, std::slice::from_mut(&mut e));
    e
}
