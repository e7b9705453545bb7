//! End-to-end tests: the real `scimd` binary on port 0 with its own database file, driven
//! over real HTTP and through its command line.

mod cli;
mod oauth;
mod scim_auth;
mod support;
