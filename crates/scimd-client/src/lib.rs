//! The client side of scimd: obtaining an activation token with the OAuth 2.0
//! client-credentials grant (RFC 6749 §4.4) from any authorization server, and the Postman
//! collection that carries a provider's values; and `scimd push`, a SCIM client that
//! provisions a directory into any SCIM 2.0 server; and the HTTP client that delivers change
//! events to receivers whose URLs administrators type in.

pub mod push;
pub mod receiver;
pub mod scim;
pub mod tls;
pub mod token;

pub use tls::CaRoots;
pub use token::{ClientAuth, TokenError, TokenRequest, request_token};
