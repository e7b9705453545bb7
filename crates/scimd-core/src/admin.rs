//! Administrators as records: accounts with Argon2id password hashes, browser sessions,
//! CSRF tokens bound to a session, and API tokens for automation. What the core does with
//! them is in `accounts`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::audit::Actor;
use crate::clock::Timestamp;
use crate::crypto;
use crate::error::CoreError;

/// How long a console session lasts, whatever happens in it.
pub const SESSION_TTL_SECONDS: i64 = 12 * 3600;
/// A console session left unused this long ends: each use pushes its end this far ahead
/// (never past [`SESSION_TTL_SECONDS`] after sign-in).
pub const SESSION_IDLE_SECONDS: i64 = 30 * 60;
/// A use moves a session's end only when it would move by more than this: one write a
/// minute at most, not one per page.
pub(crate) const SESSION_EXTEND_STEP_SECONDS: i64 = 60;
/// Failed sign-ins allowed per account, and per source address, in one limiter window.
pub const MAX_SIGNIN_FAILURES_PER_ACCOUNT: u32 = 5;
pub const MAX_SIGNIN_FAILURES_PER_ADDRESS: u32 = 20;
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Admin API tokens: a prefix of their own, so they are never mistaken for activation tokens.
pub const API_TOKEN_PREFIX: &str = "scimdadm_";
pub(crate) const RANDOM_LEN: usize = 43; // ~256 bits of letters and digits

/// An administrator's name: 1-64 letters, digits and `.-_@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminName(String);

impl AdminName {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@'));
        if ok {
            Ok(AdminName(s.to_owned()))
        } else {
            Err(CoreError::Invalid(format!(
                "'{s}' is not an administrator name: use 1-64 letters, digits and . - _ @"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRecord {
    pub name: String,
    /// PHC string of an Argon2id hash.
    pub password_hash: String,
    pub created: Timestamp,
}

/// A console session as stored: only the SHA-256 of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub hash: [u8; 32],
    pub admin: String,
    pub created: Timestamp,
    pub expires: Timestamp,
}

/// A live session, with the CSRF token every form of it must carry.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub admin: String,
    pub csrf: String,
    pub expires: Timestamp,
}

impl AdminSession {
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.admin.clone())
    }

    /// Does the presented CSRF token belong to this session? Constant time.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        crypto::constant_time_eq(self.csrf.as_bytes(), presented.as_bytes())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: String,
    pub name: String,
    pub hash: [u8; 32],
    pub created: Timestamp,
    pub revoked: Option<Timestamp>,
}

impl ApiTokenRecord {
    pub fn actor(&self) -> Actor {
        Actor::Admin(format!("api-token:{}", self.name))
    }
}

/// The CSRF token of a session: derived from its (secret) id, so it needs no storage and
/// cannot be guessed by a page that does not hold the session cookie.
pub(crate) fn csrf_for(session_id: &str) -> String {
    crypto::hex(&crypto::sha256(format!("scimd-csrf\0{session_id}").as_bytes()))
}

fn argon2() -> Argon2<'static> {
    // OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane (the crate's defaults).
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

pub fn hash_password(password: &str) -> Result<String, CoreError> {
    let mut salt = [0u8; 16];
    crypto::random_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| CoreError::Invalid(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Invalid(format!("cannot hash the password: {e}")))
}

pub(crate) fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Verified against when the account does not exist, so an unknown name costs as much as a
/// wrong password.
pub(crate) static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not a real password, never matches").unwrap_or_default());

pub(crate) fn shaped(presented: &str, prefix: &str) -> bool {
    presented
        .strip_prefix(prefix)
        .is_some_and(|r| r.len() == RANDOM_LEN && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_argon2id_hash_only() {
        let h = hash_password("correct horse battery").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        assert_eq!(csrf_for("a"), csrf_for("a"));
        assert_ne!(csrf_for("a"), csrf_for("b"));
    }

    #[test]
    fn admin_names_refuse_markup_and_spaces() {
        assert!(AdminName::parse("alice@example.com").is_ok());
        assert!(AdminName::parse("<b>").is_err());
        assert!(AdminName::parse("a b").is_err());
        assert!(AdminName::parse("").is_err());
    }
}
