//! The provider registry and the activation-token flow (RFC 6749 §4.4 client credentials,
//! RFC 6750 bearer use, RFC 7009 revocation), independent of how requests arrive.

use std::net::IpAddr;
use std::sync::Arc;

use crate::audit::{Actor, AuditEvent};
use crate::clock::{Clock, Timestamp};
use crate::crypto::{self, SecretBox};
use crate::error::{CoreError, StoreError};
use crate::limiter::{self, FailureLimiter};
use crate::provider::{CLIENT_SECRET_LEN, ClientId, NewProvider, Provider, ProviderId};
use crate::store::Store;
use crate::token::{self, AccessToken, TokenRecord};
use crate::token_cache::TokenCache;

/// Why a bearer token was not accepted. Deliberately coarse: nothing here tells a caller
/// whether a token exists for another provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Malformed, unknown, expired, revoked, another provider's, or the provider is disabled.
    InvalidToken,
    /// A valid token used from outside the provider's allowed networks.
    NetworkNotAllowed,
}

/// How often a token's `last used` time is written: reads must not turn into writes.
const TOUCH_INTERVAL_MS: i64 = 60_000;

pub struct Core {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    secrets: SecretBox,
    tokens: TokenCache,
    pub(crate) failures: FailureLimiter,
}

/// Settings an administrator may change after registration; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct ProviderUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub token_ttl_seconds: Option<i64>,
    pub allowed_networks: Option<Vec<crate::net::Cidr>>,
}

pub struct IssuedToken {
    pub token: AccessToken,
    pub record: TokenRecord,
    pub provider: Provider,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, secrets: SecretBox) -> Self {
        Core {
            store,
            clock,
            secrets,
            tokens: TokenCache::default(),
            failures: FailureLimiter::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Register a provider; returns it with its client secret in clear (shown once here, and
    /// later only through an audited reveal).
    pub async fn register(&self, new: NewProvider, actor: &Actor) -> Result<(Provider, String), CoreError> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(CoreError::Invalid(
                "a provider needs a name of 1 to 200 characters".into(),
            ));
        }
        let now = self.clock.now();
        let slug = ProviderId::slug_of(name);
        let secret = crypto::random_alphanumeric(CLIENT_SECRET_LEN);
        // The slug may be taken: the unique index decides, and we try the next suffix.
        for n in 1..100u32 {
            let id = if n == 1 { slug.clone() } else { slug.with_suffix(n) };
            let provider = Provider {
                secret_sealed: self.secrets.seal(secret.as_bytes(), id.as_str().as_bytes()),
                secret_hash: crypto::sha256(secret.as_bytes()),
                id,
                name: name.to_owned(),
                population: new.population,
                enabled: new.enabled,
                description: new.description.clone(),
                tags: new.tags.clone(),
                token_ttl_seconds: new.token_ttl_seconds,
                allowed_networks: new.allowed_networks.clone(),
                client_id: ClientId::generate(),
                created: now,
                modified: now,
            };
            let event = AuditEvent::new(now, actor, "provider.create")
                .provider(provider.id.as_str())
                .resource(format!("Provider/{}", provider.id))
                .population(provider.population);
            match self.store.create_provider(&provider, &event).await {
                Ok(()) => return Ok((provider, secret)),
                Err(StoreError::Conflict(what)) if what == "provider id" => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict(format!(
            "too many providers are named like '{name}'"
        )))
    }

    pub async fn provider(&self, id: &str) -> Result<Provider, CoreError> {
        let not_found = || CoreError::NotFound(format!("provider '{id}'"));
        let id = ProviderId::parse(id).map_err(|_| not_found())?;
        self.store.provider(&id).await?.ok_or_else(not_found)
    }

    pub async fn providers(&self) -> Result<Vec<Provider>, CoreError> {
        Ok(self.store.providers().await?)
    }

    /// The client secret in clear. Every reveal is an audit event.
    pub async fn reveal_secret(&self, id: &str, actor: &Actor) -> Result<String, CoreError> {
        let p = self.provider(id).await?;
        let plain = self.secrets.open(&p.secret_sealed, p.id.as_str().as_bytes())?;
        let event = self.event(actor, "provider.secret.reveal", &p);
        self.store.record(&event).await?;
        String::from_utf8(plain).map_err(|_| CoreError::Invalid("the stored secret is not text".into()))
    }

    /// A new secret replaces the old one at once. Tokens already issued stay valid: a token
    /// pasted into Okta must not die because someone rotated the secret; revoke them apart.
    pub async fn rotate_secret(&self, id: &str, actor: &Actor) -> Result<String, CoreError> {
        let mut p = self.provider(id).await?;
        let secret = crypto::random_alphanumeric(CLIENT_SECRET_LEN);
        p.secret_sealed = self.secrets.seal(secret.as_bytes(), p.id.as_str().as_bytes());
        p.secret_hash = crypto::sha256(secret.as_bytes());
        p.modified = self.clock.now();
        let event = self.event(actor, "provider.secret.rotate", &p);
        self.store.update_provider(&p, &event).await?;
        Ok(secret)
    }

    pub async fn set_enabled(&self, id: &str, enabled: bool, actor: &Actor) -> Result<Provider, CoreError> {
        let mut p = self.provider(id).await?;
        p.enabled = enabled;
        p.modified = self.clock.now();
        let action = if enabled { "provider.enable" } else { "provider.disable" };
        let event = self.event(actor, action, &p);
        self.store.update_provider(&p, &event).await?;
        self.tokens.clear();
        Ok(p)
    }

    /// Change what may change after registration; the population may not.
    pub async fn update_provider(
        &self,
        id: &str,
        update: ProviderUpdate,
        actor: &Actor,
    ) -> Result<Provider, CoreError> {
        let mut p = self.provider(id).await?;
        let mut changed = Vec::new();
        if let Some(name) = update.name {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(CoreError::Invalid(
                    "a provider needs a name of 1 to 200 characters".into(),
                ));
            }
            p.name = name;
            changed.push("name".to_owned());
        }
        if let Some(d) = update.description {
            p.description = d;
            changed.push("description".to_owned());
        }
        if let Some(t) = update.tags {
            p.tags = t;
            changed.push("tags".to_owned());
        }
        if let Some(ttl) = update.token_ttl_seconds {
            p.token_ttl_seconds = ttl;
            changed.push("token_ttl_seconds".to_owned());
        }
        if let Some(n) = update.allowed_networks {
            p.allowed_networks = n;
            changed.push("allowed_networks".to_owned());
        }
        p.modified = self.clock.now();
        let event = self.event(actor, "provider.update", &p).attributes(changed);
        self.store.update_provider(&p, &event).await?;
        self.tokens.clear();
        Ok(p)
    }

    pub async fn delete_provider(&self, id: &str, actor: &Actor) -> Result<(), CoreError> {
        let p = self.provider(id).await?;
        let event = self.event(actor, "provider.delete", &p);
        let deleted = self.store.delete_provider(&p.id, &event).await?;
        self.tokens.clear();
        if deleted {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("provider '{id}'")))
        }
    }

    pub async fn tokens(&self, id: &str) -> Result<Vec<TokenRecord>, CoreError> {
        let p = self.provider(id).await?;
        Ok(self.store.tokens(&p.id).await?)
    }

    /// Revoke one token by its id, or every live token of the provider.
    pub async fn revoke(&self, id: &str, token_id: Option<&str>, actor: &Actor) -> Result<u64, CoreError> {
        let p = self.provider(id).await?;
        let mut event = self.event(actor, "token.revoke", &p);
        if let Some(t) = token_id {
            event = event.resource(format!("Token/{t}"));
        }
        let n = self
            .store
            .revoke_tokens(&p.id, token_id, self.clock.now(), &event)
            .await?;
        self.tokens.clear();
        match (token_id, n) {
            (Some(t), 0) => Err(CoreError::NotFound(format!("live token '{t}' of provider '{id}'"))),
            _ => Ok(n),
        }
    }

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
        self.mint_token(provider, &actor).await
    }

    /// An administrator runs the grant on the provider's behalf (the console's "Generate
    /// activation token"): the same token, recorded with the administrator as actor.
    pub async fn issue_token_as_admin(&self, id: &str, actor: &Actor) -> Result<IssuedToken, CoreError> {
        let provider = self.provider(id).await?;
        if !provider.enabled {
            return Err(CoreError::Forbidden(format!("provider '{}' is disabled", provider.id)));
        }
        self.mint_token(provider, actor).await
    }

    async fn mint_token(&self, provider: Provider, actor: &Actor) -> Result<IssuedToken, CoreError> {
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
            .population(provider.population);
            self.store.revoke_token_by_hash(&hash, self.clock.now(), &event).await?;
            self.tokens.clear();
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
                    AuthFailure::InvalidToken
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
        if !rec.is_live(now) || !provider.enabled || provider.id.as_str() != path_provider {
            return Err(AuthFailure::InvalidToken);
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

    fn event(&self, actor: &Actor, action: &str, p: &Provider) -> AuditEvent {
        AuditEvent::new(self.clock.now(), actor, action)
            .provider(p.id.as_str())
            .resource(format!("Provider/{}", p.id))
            .population(p.population)
    }
}
