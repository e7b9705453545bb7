//! Activation tokens (RFC 6750 bearer tokens): opaque, random, recognisable by their prefix
//! so secret scanners find leaked ones, and stored only as SHA-256 digests.

use crate::clock::Timestamp;
use crate::crypto;
use crate::provider::ProviderId;

pub const TOKEN_PREFIX: &str = "scimd_";
const TOKEN_RANDOM_LEN: usize = 43; // ~256 bits of letters and digits

/// A freshly minted token, in clear. It exists only on its way to the client.
pub struct AccessToken(String);

impl AccessToken {
    pub fn generate() -> Self {
        AccessToken(format!(
            "{TOKEN_PREFIX}{}",
            crypto::random_alphanumeric(TOKEN_RANDOM_LEN)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn digest(&self) -> [u8; 32] {
        digest(&self.0)
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

/// The digest under which a presented token is looked up.
pub fn digest(presented: &str) -> [u8; 32] {
    crypto::sha256(presented.as_bytes())
}

/// A token's shape is checked before any lookup, so garbage never reaches the database.
pub fn looks_like_token(s: &str) -> bool {
    s.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|rest| rest.len() == TOKEN_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public handle for listing and revoking; not secret.
    pub id: String,
    pub provider: ProviderId,
    pub hash: [u8; 32],
    pub created: Timestamp,
    pub expires: Timestamp,
    pub last_used: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
    /// The setup link it was made through, if any.
    pub setup_link: Option<String>,
}

impl TokenRecord {
    pub fn new_id() -> String {
        crypto::random_alphanumeric(12)
    }

    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked.is_none() && now < self.expires
    }
}

/// When the provider's longest-lived live token expires; `None` when none is live.
pub fn latest_live_expiry(tokens: &[TokenRecord], now: Timestamp) -> Option<Timestamp> {
    tokens.iter().filter(|t| t.is_live(now)).map(|t| t.expires).max()
}

/// Warn this long before the last live token expires: Okta never refreshes a pasted token.
pub const EXPIRY_WARNING_SECONDS: i64 = 14 * 86_400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_prefix_and_the_expected_shape() {
        let t = AccessToken::generate();
        assert!(t.as_str().starts_with("scimd_"));
        assert!(looks_like_token(t.as_str()));
        assert!(!looks_like_token("scimd_short"));
        assert!(!looks_like_token("Bearer abc"));
        assert_eq!(t.digest(), digest(t.as_str()));
    }
}
