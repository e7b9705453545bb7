//! Key rotation: every value sealed under the key file (client secrets, webhook signing
//! secrets, the private halves of SET signing keys) opened with the keys in use and sealed
//! again under a new key, all in one transaction. Hashes (tokens, the secret's verifier) do
//! not depend on the key and stay as they are.

use crate::audit::{Actor, AuditEvent};
use crate::crypto::{KEY_LEN, SecretBox};
use crate::error::CoreError;
use crate::service::Core;

/// Where a sealed value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealed {
    /// `provider.secret_sealed` of this provider.
    ProviderSecret(String),
    /// `subscription.secret` of this subscription.
    WebhookSecret(String),
    /// `subscription.old_secret`: the secret still signing during a secret rotation.
    OldWebhookSecret(String),
    /// `signing_key.private_key` of this key id.
    SigningKey(String),
}

/// One value sealed again: the store writes `to` where it still finds `from`.
#[derive(Debug, Clone)]
pub struct Reseal {
    pub target: Sealed,
    pub from: Vec<u8>,
    pub to: Vec<u8>,
}

/// What a rotation re-sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resealed {
    pub client_secrets: usize,
    pub webhook_secrets: usize,
    pub signing_keys: usize,
    /// Providers whose secret was already lost (with an old key file): left to be rotated.
    pub lost: Vec<String>,
}

impl Core {
    /// Seal everything again under `new_key`. A value that does not open with the keys in
    /// use stops the rotation before anything is written (the key file is not the one they
    /// were sealed with); a concurrent change of a sealed value makes it fail as stale, to
    /// be run again.
    pub async fn reseal_under(&self, new_key: &[u8; KEY_LEN], actor: &Actor) -> Result<Resealed, CoreError> {
        let next = SecretBox::new(new_key);
        let mut changes = Vec::new();
        let mut report = Resealed::default();
        let mut again = |target: Sealed, sealed: &[u8], associated: &[u8]| -> Result<(), CoreError> {
            let plain = self.secrets.open(sealed, associated)?;
            changes.push(Reseal {
                target,
                from: sealed.to_vec(),
                to: next.seal(&plain, associated),
            });
            Ok(())
        };
        for p in self.store.providers().await? {
            if p.settings.secret_lost {
                report.lost.push(p.id.to_string());
                continue;
            }
            again(
                Sealed::ProviderSecret(p.id.to_string()),
                &p.secret_sealed,
                p.id.as_str().as_bytes(),
            )?;
            report.client_secrets += 1;
        }
        for s in self.store.subscriptions().await? {
            if let Some(sealed) = &s.secret {
                again(Sealed::WebhookSecret(s.id.clone()), sealed, s.id.as_bytes())?;
                report.webhook_secrets += 1;
            }
            if let Some(sealed) = &s.old_secret {
                again(Sealed::OldWebhookSecret(s.id.clone()), sealed, s.id.as_bytes())?;
            }
        }
        for k in self.store.signing_keys().await? {
            again(Sealed::SigningKey(k.kid.clone()), &k.sealed, k.kid.as_bytes())?;
            report.signing_keys += 1;
        }
        let event = AuditEvent::new(self.clock.now(), actor, "key.rotate").attributes(vec![
            format!("client_secrets={}", report.client_secrets),
            format!("webhook_secrets={}", report.webhook_secrets),
            format!("signing_keys={}", report.signing_keys),
        ]);
        self.store.reseal(&changes, &event).await?;
        Ok(report)
    }
}
