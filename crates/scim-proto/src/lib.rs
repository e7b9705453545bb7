//! SCIM 2.0 vocabulary (RFC 7643, RFC 7644): schemas, attribute paths, filters, PATCH,
//! projection and protocol messages. Pure logic over `serde_json` values; no I/O.

// Tests may unwrap: a panic there is the failure report (clippy.toml at the workspace root
// allows it in tests; library code may not).

pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod projection;
pub mod schema;
pub mod value;

mod json;
