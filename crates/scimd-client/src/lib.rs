//! The client side of scimd: obtaining an activation token with the OAuth 2.0
//! client-credentials grant (RFC 6749 §4.4) from any authorization server, and the Postman
//! collection that carries a provider's values.

pub mod postman;
pub mod token;

pub use token::{ClientAuth, TokenError, TokenRequest, request_token};
