//! Audit events: who did what to which record, written in the same transaction as the change.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::events::ChangeEvent;
use crate::provider::Population;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Actor {
    /// An operator at the command line (the OS user, when known).
    Cli(String),
    /// An identity provider pushing over SCIM or asking for a token.
    Provider(String),
    /// A signed-in administrator.
    Admin(String),
    /// A setup link's page, acting for the identity provider's own administrator.
    Setup(String),
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Cli(n) => write!(f, "cli:{n}"),
            Actor::Provider(n) => write!(f, "provider:{n}"),
            Actor::Admin(n) => write!(f, "admin:{n}"),
            Actor::Setup(n) => write!(f, "setup:{n}"),
            Actor::System => f.write_str("system"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub time: Timestamp,
    pub actor: String,
    /// Dotted verb, e.g. `provider.create`, `provider.secret.reveal`, `user.patch`.
    pub action: String,
    /// The provider the event concerns, if any.
    pub provider: Option<String>,
    /// `User/<id>`, `Group/<id>`, `Token/<id>`, or the provider id.
    pub resource: Option<String>,
    pub population: Option<Population>,
    /// Names of changed attributes, never their values.
    pub attributes: Vec<String>,
    /// The change events this change appends to its provider's stream, in the same
    /// transaction (positions are the store's to assign). Not part of the audit record.
    #[serde(skip)]
    pub changes: Vec<ChangeEvent>,
}

impl AuditEvent {
    pub fn new(time: Timestamp, actor: &Actor, action: &str) -> Self {
        AuditEvent {
            time,
            actor: actor.to_string(),
            action: action.to_owned(),
            provider: None,
            resource: None,
            population: None,
            attributes: Vec::new(),
            changes: Vec::new(),
        }
    }

    pub fn provider(mut self, id: &str) -> Self {
        self.provider = Some(id.to_owned());
        self
    }

    pub fn resource(mut self, r: impl Into<String>) -> Self {
        self.resource = Some(r.into());
        self
    }

    pub fn population(mut self, p: Population) -> Self {
        self.population = Some(p);
        self
    }

    pub fn attributes(mut self, names: Vec<String>) -> Self {
        self.attributes = names;
        self
    }

    /// Append `change` to the provider's event stream with this record.
    pub fn with_change(mut self, change: impl FnOnce(&AuditEvent) -> ChangeEvent) -> Self {
        let change = change(&self);
        self.changes.push(change);
        self
    }
}

/// The hash before the first event of a chain.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields an audit event's hash covers, as stored.
pub struct ChainFields<'a> {
    pub time: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub provider: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub population: Option<&'a str>,
    pub attributes: &'a [String],
}

impl ChainFields<'_> {
    /// SHA-256 over a domain tag, the previous event's hash and an unambiguous encoding of
    /// the fields (each part length-prefixed, absent ones marked), so that no two different
    /// events, and no event after a different predecessor, hash alike.
    pub fn hash(&self, prev: &[u8]) -> [u8; 32] {
        let mut d = Encoder(ring::digest::Context::new(&ring::digest::SHA256));
        d.part(Some(b"scimd-audit-v1"));
        d.part(Some(prev));
        d.part(Some(&self.time.to_be_bytes()));
        d.part(Some(self.actor.as_bytes()));
        d.part(Some(self.action.as_bytes()));
        d.part(self.provider.map(str::as_bytes));
        d.part(self.resource.map(str::as_bytes));
        d.part(self.population.map(str::as_bytes));
        d.part(Some(&(self.attributes.len() as u64).to_be_bytes()));
        for a in self.attributes {
            d.part(Some(a.as_bytes()));
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(d.0.finish().as_ref());
        out
    }
}

struct Encoder(ring::digest::Context);

impl Encoder {
    fn part(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.0.update(&[0]),
            Some(b) => {
                self.0.update(&[1]);
                self.0.update(&(b.len() as u64).to_be_bytes());
                self.0.update(b);
            }
        }
    }
}

impl AuditEvent {
    /// This event's chain fields, with its attribute names.
    pub fn chain_fields(&self) -> ChainFields<'_> {
        ChainFields {
            time: self.time.0,
            actor: &self.actor,
            action: &self.action,
            provider: self.provider.as_deref(),
            resource: self.resource.as_deref(),
            population: self.population.map(|p| p.as_str()),
            attributes: &self.attributes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_every_field_and_on_the_predecessor() {
        let base = AuditEvent::new(Timestamp(1), &Actor::System, "user.create").resource("User/1");
        let h = base.chain_fields().hash(&GENESIS);
        assert_ne!(h, base.chain_fields().hash(&[1; 32]));
        let moved = base.clone().provider("User/1").resource("");
        assert_ne!(h, moved.chain_fields().hash(&GENESIS), "fields cannot trade places");
        let renamed = base.clone().attributes(vec!["name".into()]);
        assert_ne!(h, renamed.chain_fields().hash(&GENESIS));
        assert_eq!(h, base.chain_fields().hash(&GENESIS));
    }
}
