//! RFC 9967 Security Event Tokens: claims of a change event, signed as a JWS (RFC 8417/7515), and the JSON Web Key Set that verifies them.
