//! scimd's domain: identity providers and their populations, client secrets, activation
//! tokens, provisioned resources and the audit trail. It knows neither HTTP nor SQL: storage
//! is a [`Store`] trait object and time comes from a [`Clock`].

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod browse;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod events;
pub mod extensions;
pub mod grants;
pub mod input;
pub mod lifecycle;
mod limiter;
pub mod net;
pub mod postman;
pub mod provider;
pub mod provisioning;
pub mod registry;
pub mod rekey;
pub mod request_log;
pub mod resource;
pub mod service;
pub mod setup;
pub mod store;
pub mod token;
mod token_cache;
pub mod views;

pub use audit::{Actor, AuditEvent};
pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use crypto::SecretBox;
pub use error::{CoreError, StoreError};
pub use net::Cidr;
pub use provider::{ClientId, NewProvider, Population, Provider, ProviderId};
pub use resource::{MemberRef, ResourceRecord};
pub use service::Core;
pub use store::{
    AdminStore, AuditLink, AuditQuery, EventStore, LifecycleStore, LogStore, MemberRow, PoolStats, PopulationPage,
    PopulationQuery, ProviderStore, ResourceStore, SetupStore, Store, StoredAuditEvent,
};
pub use token::{AccessToken, TokenRecord};
