//! The subcommands that act on the database or talk to a server.

pub mod admin;
pub mod audit;
pub mod backup;
pub mod events;
pub mod key;
pub mod lifecycle;
pub mod log;
pub mod population;
pub mod provider;
pub mod push;
pub mod schema;
pub mod setup_link;
pub mod token;
