//! Administrators' accounts, sessions and API tokens: adding an administrator, signing in
//! and out, and the tokens automation uses. Shared by the console and the admin API, which
//! differ only in how a request proves who sends it.

use std::net::IpAddr;

use crate::admin::*;
use crate::audit::{Actor, AuditEvent};
use crate::clock::Timestamp;
use crate::crypto;
use crate::error::{CoreError, StoreError};
use crate::limiter::WINDOW_MS;
use crate::service::Core;
use crate::store::AuditQuery;

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
