//! Activation tokens: the client-credentials grant (RFC 6749 §4.4) for an authenticated
//! client or on its behalf by an administrator, bearer tokens checked on every SCIM request
//! (RFC 6750), and revocation by the client (RFC 7009).

use std::net::IpAddr;
use std::sync::Arc;

use crate::audit::{Actor, AuditEvent};
use crate::crypto;
use crate::error::CoreError;
use crate::events;
use crate::limiter;
use crate::provider::{ClientId, Provider};
use crate::service::Core;
use crate::token::{self, AccessToken, TokenRecord};

/// Why a bearer token was not accepted. Deliberately coarse: a caller learns that a live
/// token belongs to another provider, never which one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Malformed, unknown, expired, revoked, or the provider is disabled.
    InvalidToken,
    /// A live token of another provider than the one in the path (or of any provider when
    /// the path left the provider out): a Base URL copied wrong, not a bad token.
    OtherProvider,
    /// A valid token used from outside the provider's allowed networks.
    NetworkNotAllowed,
    /// The token could not be checked (the database failed): no verdict on the token.
    Unavailable,
}

/// How often a token's `last used` time is written: reads must not turn into writes.
const TOUCH_INTERVAL_MS: i64 = 60_000;

pub struct IssuedToken {
    pub token: AccessToken,
    pub record: TokenRecord,
    pub provider: Provider,
}

impl Core {
    /// Authenticate a client by id and secret and verify it may be served from `ip`.
    /// Unknown client and wrong secret are the same failure, and cost the same time.
    pub async fn authenticate_client(&self, client_id: &str, secret: &str, ip: IpAddr) -> Result<Provider, CoreError> {
        let now = self.clock.now();
        let (client_key, address_key) = (format!("client:{client_id}"), format!("address:{ip}"));
        self.failures
            .check(&client_key, limiter::MAX_FAILURES_PER_CLIENT, now)
            .and_then(|()| {
                self.failures
                    .check(&address_key, limiter::MAX_FAILURES_PER_ADDRESS, now)
            })
            .map_err(CoreError::TooManyAttempts)?;
        let presented = crypto::sha256(secret.as_bytes());
        let provider = match ClientId::parse(client_id) {
            Some(cid) => self.store.provider_by_client_id(&cid).await?,
            None => None,
        };
        let verified = provider.filter(|p| crypto::constant_time_eq(&presented, &p.secret_hash));
        let Some(p) = verified else {
            self.failures.failed(&client_key, now);
            self.failures.failed(&address_key, now);
            return Err(CoreError::InvalidClient);
        };
        if !p.enabled {
            return Err(CoreError::Forbidden(format!("provider '{}' is disabled", p.id)));
        }
        if !p.allows(ip) {
            return Err(CoreError::Forbidden(format!(
                "requests from {ip} are not allowed for this client"
            )));
        }
        Ok(p)
    }

    /// The client-credentials grant: a durable token for an authenticated client.
    pub async fn issue_token(&self, client_id: &str, secret: &str, ip: IpAddr) -> Result<IssuedToken, CoreError> {
        let provider = self.authenticate_client(client_id, secret, ip).await?;
        let actor = Actor::Provider(provider.id.to_string());
        self.mint_token(provider, &actor, None).await
    }

    /// An administrator runs the grant on the provider's behalf (the console's "Generate
    /// activation token"): the same token, recorded with the administrator as actor.
    pub async fn issue_token_as_admin(&self, id: &str, actor: &Actor) -> Result<IssuedToken, CoreError> {
        let provider = self.provider(id).await?;
        if !provider.enabled {
            return Err(CoreError::Forbidden(format!("provider '{}' is disabled", provider.id)));
        }
        self.mint_token(provider, actor, None).await
    }

    /// A token for `provider`, made by `actor`; `via` is the setup link it was made through.
    pub(crate) async fn mint_token(
        &self,
        provider: Provider,
        actor: &Actor,
        via: Option<&str>,
    ) -> Result<IssuedToken, CoreError> {
        let now = self.clock.now();
        let token = AccessToken::generate();
        let record = TokenRecord {
            id: TokenRecord::new_id(),
            provider: provider.id.clone(),
            hash: token.digest(),
            created: now,
            expires: now.plus_seconds(provider.token_ttl_seconds),
            last_used: None,
            revoked: None,
            setup_link: via.map(str::to_owned),
        };
        let event = AuditEvent::new(now, actor, "token.issue")
            .provider(provider.id.as_str())
            .resource(format!("Token/{}", record.id))
            .population(provider.population);
        self.store.create_token(&record, &event).await?;
        Ok(IssuedToken {
            token,
            record,
            provider,
        })
    }

    /// RFC 7009: an authenticated client revokes one of its own tokens. Unknown tokens and
    /// other clients' tokens are answered the same way (success) and change nothing.
    pub async fn revoke_presented(&self, provider: &Provider, presented: &str) -> Result<(), CoreError> {
        if !token::looks_like_token(presented) {
            return Ok(());
        }
        let hash = token::digest(presented);
        if let Some((rec, _)) = self.store.token_by_hash(&hash).await?
            && rec.provider == provider.id
        {
            let event = AuditEvent::new(
                self.clock.now(),
                &Actor::Provider(provider.id.to_string()),
                "token.revoke",
            )
            .provider(provider.id.as_str())
            .resource(format!("Token/{}", rec.id))
            .population(provider.population)
            .with_change(|e| events::token_revoked(e, Some(&rec.id)));
            self.store.revoke_token_by_hash(&hash, self.clock.now(), &event).await?;
            self.tokens.clear();
            self.announce();
        }
        Ok(())
    }

    /// Resolve a bearer token presented at `/scim/v2/{provider}`.
    pub async fn authenticate_bearer(
        &self,
        presented: &str,
        path_provider: &str,
        ip: IpAddr,
    ) -> Result<Arc<Provider>, AuthFailure> {
        if !token::looks_like_token(presented) {
            return Err(AuthFailure::InvalidToken);
        }
        let hash = token::digest(presented);
        let now = self.clock.now();
        let (rec, provider) = match self.tokens.get(&hash, now) {
            Some(hit) => hit,
            None => {
                let generation = self.tokens.generation();
                let found = self.store.token_by_hash(&hash).await.map_err(|e| {
                    tracing::error!(error = %e, "token lookup failed");
                    AuthFailure::Unavailable
                })?;
                let Some((rec, provider)) = found else {
                    return Err(AuthFailure::InvalidToken);
                };
                let provider = Arc::new(provider);
                self.tokens
                    .put(generation, hash, rec.clone(), Arc::clone(&provider), now);
                (rec, provider)
            }
        };
        if !rec.is_live(now) || !provider.enabled {
            return Err(AuthFailure::InvalidToken);
        }
        if provider.id.as_str() != path_provider {
            return Err(AuthFailure::OtherProvider);
        }
        if !provider.allows(ip) {
            return Err(AuthFailure::NetworkNotAllowed);
        }
        if rec
            .last_used
            .is_none_or(|t| now.millis() - t.millis() >= TOUCH_INTERVAL_MS)
        {
            self.tokens.touched(&hash, now);
            if let Err(e) = self.store.touch_token(&rec.id, now).await {
                tracing::warn!(error = %e, "could not record token use");
            }
        }
        Ok(provider)
    }
}
