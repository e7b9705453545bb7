//! Administrators: accounts with Argon2id password hashes, browser sessions, CSRF tokens
//! bound to a session, and API tokens for automation. Shared by the console and the admin
//! API, which differ only in how a request proves who sends it.

use std::net::IpAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::audit::{Actor, AuditEvent};
use crate::clock::Timestamp;
use crate::crypto;
use crate::error::{CoreError, StoreError};
use crate::limiter::WINDOW_MS;
use crate::service::Core;
use crate::store::AuditQuery;

/// How long a console session lasts, whatever happens in it.
pub const SESSION_TTL_SECONDS: i64 = 12 * 3600;
/// A console session left unused this long ends: each use pushes its end this far ahead
/// (never past [`SESSION_TTL_SECONDS`] after sign-in).
pub const SESSION_IDLE_SECONDS: i64 = 30 * 60;
/// A use moves a session's end only when it would move by more than this: one write a
/// minute at most, not one per page.
const SESSION_EXTEND_STEP_SECONDS: i64 = 60;
/// Failed sign-ins allowed per account, and per source address, in one limiter window.
pub const MAX_SIGNIN_FAILURES_PER_ACCOUNT: u32 = 5;
pub const MAX_SIGNIN_FAILURES_PER_ADDRESS: u32 = 20;
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Admin API tokens: a prefix of their own, so they are never mistaken for activation tokens.
pub const API_TOKEN_PREFIX: &str = "scimdadm_";
const RANDOM_LEN: usize = 43; // ~256 bits of letters and digits

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
fn csrf_for(session_id: &str) -> String {
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

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Verified against when the account does not exist, so an unknown name costs as much as a
/// wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not a real password, never matches").unwrap_or_default());

fn shaped(presented: &str, prefix: &str) -> bool {
    presented
        .strip_prefix(prefix)
        .is_some_and(|r| r.len() == RANDOM_LEN && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Core {
    /// `scimd admin add`: a new administrator with an Argon2id password hash.
    pub async fn add_admin(&self, name: &str, password: &str, actor: &Actor) -> Result<AdminRecord, CoreError> {
        let name = AdminName::parse(name)?;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(CoreError::Invalid(format!(
                "the password needs at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        let admin = AdminRecord {
            name: name.as_str().to_owned(),
            password_hash: hash_password(password)?,
            created: self.now(),
        };
        let event = AuditEvent::new(self.now(), actor, "admin.create").resource(format!("Admin/{}", admin.name));
        match self.store().create_admin(&admin, &event).await {
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict(format!(
                "an administrator named '{}' already exists",
                admin.name
            ))),
            other => other.map(|()| admin).map_err(Into::into),
        }
    }

    /// Check a name and password and open a session; returns the session id (the cookie's
    /// value, shown nowhere else) and the session. Failures are counted per address (by this
    /// process) and per account (by all instances, from the audit log); past either limit
    /// the password is not even checked.
    pub async fn sign_in(&self, name: &str, password: &str, ip: IpAddr) -> Result<(String, AdminSession), CoreError> {
        let now = self.now();
        let address_key = format!("admin-address:{ip}");
        self.failures
            .check(&address_key, MAX_SIGNIN_FAILURES_PER_ADDRESS, now)
            .map_err(CoreError::TooManyAttempts)?;
        let name = AdminName::parse(name).ok();
        let found = match &name {
            Some(n) => {
                self.account_signin_limit(n, now).await?;
                self.store().admin(n.as_str()).await?
            }
            None => None,
        };
        let hash = found.as_ref().map_or(DUMMY_HASH.as_str(), |a| a.password_hash.as_str());
        let verified = verify_password(password, hash) && found.is_some();
        let Some(admin) = found.filter(|_| verified) else {
            self.failures.failed(&address_key, now);
            // The name is recorded only if it is a well-formed one: no attacker-chosen text.
            let who = name.map_or_else(|| "?".to_owned(), |n| n.as_str().to_owned());
            let event = AuditEvent::new(now, &Actor::Admin(who.clone()), "admin.signin.failure")
                .resource(format!("Admin/{who}"));
            self.store().record(&event).await?;
            return Err(CoreError::InvalidClient);
        };
        let id = crypto::random_alphanumeric(RANDOM_LEN);
        let record = SessionRecord {
            hash: crypto::sha256(id.as_bytes()),
            admin: admin.name.clone(),
            created: now,
            expires: now.plus_seconds(SESSION_IDLE_SECONDS),
        };
        let actor = Actor::Admin(admin.name.clone());
        let event = AuditEvent::new(now, &actor, "admin.signin").resource(format!("Admin/{}", admin.name));
        self.store().create_session(&record, &event).await?;
        let session = AdminSession {
            admin: admin.name,
            csrf: csrf_for(&id),
            expires: record.expires,
        };
        Ok((id, session))
    }

    /// The per-account limit, across every instance on the database: the account's failure
    /// events of the last window, read from the audit log, so guesses spread over the
    /// instances behind a load balancer count together.
    async fn account_signin_limit(&self, name: &AdminName, now: Timestamp) -> Result<(), CoreError> {
        let recent = self
            .store()
            .audit_events(&AuditQuery {
                action: Some("admin.signin.failure".into()),
                resource: Some(format!("Admin/{}", name.as_str())),
                since: Some(Timestamp(now.millis() - WINDOW_MS)),
                limit: MAX_SIGNIN_FAILURES_PER_ACCOUNT,
                ..AuditQuery::default()
            })
            .await?;
        match recent.last() {
            // Newest first: the last is the oldest failure that counts; it leaves the window first.
            Some(oldest) if recent.len() as u64 >= u64::from(MAX_SIGNIN_FAILURES_PER_ACCOUNT) => {
                let left_ms = oldest.time.millis() + WINDOW_MS - now.millis();
                Err(CoreError::TooManyAttempts(((left_ms + 999) / 1000).max(1)))
            }
            _ => Ok(()),
        }
    }

    /// The live session a cookie names, if any; using it keeps it alive for another
    /// [`SESSION_IDLE_SECONDS`], up to [`SESSION_TTL_SECONDS`] after sign-in.
    pub async fn session(&self, id: &str) -> Result<Option<AdminSession>, CoreError> {
        if id.len() != RANDOM_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let now = self.now();
        let Some(mut s) = self
            .store()
            .session(&crypto::sha256(id.as_bytes()))
            .await?
            .filter(|s| now < s.expires)
        else {
            return Ok(None);
        };
        let extended = now
            .plus_seconds(SESSION_IDLE_SECONDS)
            .min(s.created.plus_seconds(SESSION_TTL_SECONDS));
        if extended > s.expires.plus_seconds(SESSION_EXTEND_STEP_SECONDS) {
            self.store().extend_session(&s.hash, extended).await?;
            s.expires = extended;
        }
        Ok(Some(AdminSession {
            admin: s.admin,
            csrf: csrf_for(id),
            expires: s.expires,
        }))
    }

    pub async fn sign_out(&self, id: &str, session: &AdminSession) -> Result<(), CoreError> {
        let event =
            AuditEvent::new(self.now(), &session.actor(), "admin.signout").resource(format!("Admin/{}", session.admin));
        self.store()
            .delete_session(&crypto::sha256(id.as_bytes()), &event)
            .await?;
        Ok(())
    }

    /// `scimd admin token create NAME`: an API token, in clear only in the answer.
    pub async fn create_api_token(&self, name: &str, actor: &Actor) -> Result<(String, ApiTokenRecord), CoreError> {
        let name = AdminName::parse(name)?;
        let token = format!("{API_TOKEN_PREFIX}{}", crypto::random_alphanumeric(RANDOM_LEN));
        let record = ApiTokenRecord {
            id: crypto::random_alphanumeric(12),
            name: name.as_str().to_owned(),
            hash: crypto::sha256(token.as_bytes()),
            created: self.now(),
            revoked: None,
        };
        let event =
            AuditEvent::new(self.now(), actor, "admin.token.create").resource(format!("AdminToken/{}", record.id));
        match self.store().create_api_token(&record, &event).await {
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict(format!(
                "an API token named '{}' already exists",
                record.name
            ))),
            other => other.map(|()| (token, record)).map_err(Into::into),
        }
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, CoreError> {
        Ok(self.store().api_tokens().await?)
    }

    pub async fn revoke_api_token(&self, name: &str, actor: &Actor) -> Result<(), CoreError> {
        let event = AuditEvent::new(self.now(), actor, "admin.token.revoke").resource(format!("AdminToken/{name}"));
        if self.store().revoke_api_token(name, self.now(), &event).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("live API token '{name}'")))
        }
    }

    /// The live API token presented as a bearer, if it is one.
    pub async fn authenticate_api_token(&self, presented: &str) -> Result<Option<ApiTokenRecord>, CoreError> {
        if !shaped(presented, API_TOKEN_PREFIX) {
            return Ok(None);
        }
        let record = self.store().api_token(&crypto::sha256(presented.as_bytes())).await?;
        Ok(record.filter(|t| t.revoked.is_none()))
    }
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
