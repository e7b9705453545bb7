//! The provider registry: registering an identity provider, revealing and rotating its
//! client secret (audited), its settings, enabling, disabling and deleting it, and the
//! tokens issued to it.

use crate::audit::{Actor, AuditEvent};
use crate::crypto;
use crate::error::{CoreError, StoreError};
use crate::events;
use crate::lifecycle::{GuardSettings, OnDelete};
use crate::provider::{
    CLIENT_SECRET_LEN, ClientId, GroupPatchResponse, NewProvider, Provider, ProviderId, UndeclaredPolicy,
};
use crate::service::Core;
use crate::token::TokenRecord;

/// Settings an administrator may change after registration; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct ProviderUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub token_ttl_seconds: Option<i64>,
    pub allowed_networks: Option<Vec<crate::net::Cidr>>,
    pub group_patch_response: Option<GroupPatchResponse>,
    pub undeclared: Option<UndeclaredPolicy>,
    /// The provisioning log's retention: `Some(None)` hands a setting back to the server's.
    pub log_failure_retention_seconds: Option<Option<i64>>,
    pub log_failure_max: Option<Option<u64>>,
    pub log_success_max: Option<Option<u64>>,
    pub on_delete: Option<OnDelete>,
    pub retention_seconds: Option<i64>,
    /// `Some(None)` removes the access lifetime (users keep the end dates they have).
    pub access_ttl_seconds: Option<Option<i64>>,
    pub guard: GuardUpdate,
}

/// A provider's own setting given in an update (`Some(None)`: the server's again), named in
/// the audit event when it changes.
fn set_override<T: PartialEq>(slot: &mut Option<T>, given: Option<Option<T>>, name: &str, changed: &mut Vec<String>) {
    if let Some(v) = given
        && *slot != v
    {
        *slot = v;
        changed.push(name.to_owned());
    }
}

/// Changes to the mass-deletion guard; `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardUpdate {
    pub enabled: Option<bool>,
    pub share_percent: Option<u32>,
    pub window_seconds: Option<i64>,
    pub min_users: Option<u64>,
}

impl GuardUpdate {
    pub fn is_empty(&self) -> bool {
        *self == GuardUpdate::default()
    }

    /// `settings` with these changes.
    pub fn apply(&self, settings: GuardSettings) -> GuardSettings {
        GuardSettings {
            enabled: self.enabled.unwrap_or(settings.enabled),
            share_percent: self.share_percent.unwrap_or(settings.share_percent),
            window_seconds: self.window_seconds.unwrap_or(settings.window_seconds),
            min_users: self.min_users.unwrap_or(settings.min_users),
        }
    }
}

impl Core {
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
        if slug.reads_as_scim_endpoint() {
            return Err(CoreError::Invalid(format!(
                "the name '{name}' would make the provider id '{slug}', which reads as a SCIM endpoint \
                 in a Base URL (/scim/v2/{slug}); choose another name, e.g. '{name} IdP'"
            )));
        }
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
                settings: new.settings.clone(),
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

    /// The provider a client id belongs to, if any (to label refused token requests).
    pub async fn provider_of_client(&self, client_id: &str) -> Option<ProviderId> {
        let id = ClientId::parse(client_id)?;
        self.store.provider_by_client_id(&id).await.ok().flatten().map(|p| p.id)
    }

    pub async fn providers(&self) -> Result<Vec<Provider>, CoreError> {
        Ok(self.store.providers().await?)
    }

    /// The client secret in clear. Every reveal is an audit event.
    pub async fn reveal_secret(&self, id: &str, actor: &Actor) -> Result<String, CoreError> {
        let p = self.provider(id).await?;
        let secret = self.open_secret(&p)?;
        let event = self.provider_event(actor, "provider.secret.reveal", &p);
        self.store.record(&event).await?;
        Ok(secret)
    }

    /// The provider's client secret in clear; the caller records the reveal.
    pub(crate) fn open_secret(&self, p: &Provider) -> Result<String, CoreError> {
        let plain = self.secrets.open(&p.secret_sealed, p.id.as_str().as_bytes())?;
        String::from_utf8(plain).map_err(|_| CoreError::Invalid("the stored secret is not text".into()))
    }

    /// A new secret replaces the old one at once. Tokens already issued stay valid: a token
    /// pasted into Okta must not die because someone rotated the secret; revoke them apart.
    pub async fn rotate_secret(&self, id: &str, actor: &Actor) -> Result<String, CoreError> {
        let mut p = self.provider(id).await?;
        let secret = crypto::random_alphanumeric(CLIENT_SECRET_LEN);
        p.secret_sealed = self.secrets.seal(secret.as_bytes(), p.id.as_str().as_bytes());
        p.secret_hash = crypto::sha256(secret.as_bytes());
        p.settings.secret_lost = false;
        p.modified = self.clock.now();
        let event = self.provider_event(actor, "provider.secret.rotate", &p);
        self.store.update_provider(&p, &event).await?;
        Ok(secret)
    }

    /// After a new key replaced a lost one: mark every provider's secret as lost (audited),
    /// so that the console and `provider list` say to rotate it. Returns how many.
    pub async fn mark_secrets_lost(&self, actor: &Actor) -> Result<usize, CoreError> {
        let all = self.store.providers().await?;
        for mut p in all.iter().cloned() {
            p.settings.secret_lost = true;
            p.modified = self.clock.now();
            let event = self.provider_event(actor, "provider.secret.lost", &p);
            self.store.update_provider(&p, &event).await?;
        }
        self.tokens.clear();
        Ok(all.len())
    }

    pub async fn set_enabled(&self, id: &str, enabled: bool, actor: &Actor) -> Result<Provider, CoreError> {
        let mut p = self.provider(id).await?;
        p.enabled = enabled;
        p.modified = self.clock.now();
        let action = if enabled { "provider.enable" } else { "provider.disable" };
        let event = self
            .provider_event(actor, action, &p)
            .attributes(vec!["enabled".into()])
            .with_change(|e| events::provider_changed(e, p.id.as_str(), false));
        self.store.update_provider(&p, &event).await?;
        self.tokens.clear();
        self.announce();
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
        if let Some(r) = update.group_patch_response {
            p.settings.group_patch_response = r;
            changed.push("group_patch_response".to_owned());
        }
        if let Some(u) = update.undeclared {
            p.settings.undeclared = u;
            changed.push("undeclared".to_owned());
        }
        let log = &mut p.settings.log;
        set_override(
            &mut log.failure_retention_seconds,
            update.log_failure_retention_seconds,
            "log_failure_retention",
            &mut changed,
        );
        set_override(
            &mut log.failure_max,
            update.log_failure_max,
            "log_failure_max",
            &mut changed,
        );
        set_override(
            &mut log.success_max,
            update.log_success_max,
            "log_success_max",
            &mut changed,
        );
        if let Some(d) = update.on_delete {
            p.settings.on_delete = d;
            changed.push("on_delete".to_owned());
        }
        if let Some(r) = update.retention_seconds {
            p.settings.retention_seconds = r;
            changed.push("retention_seconds".to_owned());
        }
        if let Some(t) = update.access_ttl_seconds {
            p.settings.access_ttl_seconds = t;
            changed.push("access_ttl_seconds".to_owned());
        }
        if !update.guard.is_empty() {
            p.settings.guard = update.guard.apply(p.settings.guard);
            changed.push("guard".to_owned());
        }
        p.modified = self.clock.now();
        let event = self
            .provider_event(actor, "provider.update", &p)
            .attributes(changed)
            .with_change(|e| events::provider_changed(e, p.id.as_str(), false));
        self.store.update_provider(&p, &event).await?;
        self.tokens.clear();
        self.announce();
        Ok(p)
    }

    pub async fn delete_provider(&self, id: &str, actor: &Actor) -> Result<(), CoreError> {
        let p = self.provider(id).await?;
        let event = self
            .provider_event(actor, "provider.delete", &p)
            .with_change(|e| events::provider_changed(e, p.id.as_str(), true));
        let deleted = self.store.delete_provider(&p.id, &event).await?;
        self.tokens.clear();
        self.announce();
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
        let mut event = self.provider_event(actor, "token.revoke", &p);
        if let Some(t) = token_id {
            event = event.resource(format!("Token/{t}"));
        }
        event = event.with_change(|e| events::token_revoked(e, token_id));
        let n = self
            .store
            .revoke_tokens(&p.id, token_id, self.clock.now(), &event)
            .await?;
        self.tokens.clear();
        self.announce();
        match (token_id, n) {
            (Some(t), 0) => Err(CoreError::NotFound(format!("live token '{t}' of provider '{id}'"))),
            _ => Ok(n),
        }
    }

    pub(crate) fn provider_event(&self, actor: &Actor, action: &str, p: &Provider) -> AuditEvent {
        AuditEvent::new(self.clock.now(), actor, action)
            .provider(p.id.as_str())
            .resource(format!("Provider/{}", p.id))
            .population(p.population)
    }
}
