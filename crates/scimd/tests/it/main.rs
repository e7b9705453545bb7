//! End-to-end tests: the real `scimd` binary on port 0 with its own database file, driven
//! over real HTTP and through its command line.

mod admin_api;
mod admin_console;
mod audit_chain;
mod backup;
mod cli;
mod durability;
mod events;
mod events_sets;
mod faults;
mod limits;
mod malformed;
mod metrics_families;
mod multi_instance;
mod oauth;
mod operations;
mod postgres_tls;
mod push;
mod races;
mod scim_auth;
mod scim_bulk;
mod scim_clients;
mod scim_discovery;
mod scim_extensions;
mod scim_groups;
mod scim_paging;
mod scim_query;
mod scim_search;
mod scim_users;
mod secrets_in_logs;
mod subscriptions;
mod subscriptions_console;
mod support;
mod tls;
mod trusted_proxies;
mod wire;
