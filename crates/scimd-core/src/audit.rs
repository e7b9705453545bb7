//! Audit events: who did what to which record, written in the same transaction as the change.

use serde::Serialize;

use crate::clock::Timestamp;
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
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Cli(n) => write!(f, "cli:{n}"),
            Actor::Provider(n) => write!(f, "provider:{n}"),
            Actor::Admin(n) => write!(f, "admin:{n}"),
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
}
