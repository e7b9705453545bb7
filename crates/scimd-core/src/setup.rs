//! Setup links: a time-limited URL through which an identity provider's own administrator
//! (a vendor's IT admin, who gets no console account) reads the provider's Base URL, Token
//! URL and client id, generates an activation token, and watches the first push arrive.
//!
//! A link is a code of 190 random bits, stored only as its SHA-256 digest. Expired, revoked
//! and unknown codes are one and the same failure ([`CoreError::NotFound`]), after the same
//! lookup; wrong codes are counted per address and refused past the limit. Every action
//! through a link, and its first view, is audited as `setup:<link id>`.

use std::net::IpAddr;

use crate::audit::Actor;
use crate::clock::Timestamp;
use crate::crypto;
use crate::error::CoreError;
use crate::grants::IssuedToken;
use crate::limiter;
use crate::provider::{Provider, ProviderId};
use crate::request_log::{LogEntry, LogFilter};
use crate::service::Core;

/// How long a link lives unless told otherwise: three days, time for a vendor to act.
pub const DEFAULT_TTL_SECONDS: i64 = 72 * 3600;
/// The longest a link may live.
pub const MAX_TTL_SECONDS: i64 = 30 * 86_400;
/// Letters and digits of a code: 32 of 62 symbols, about 190 bits.
const CODE_LEN: usize = 32;

/// A setup link as stored: everything but its code, which exists in clear only on its way
/// to the administrator who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLink {
    /// Public handle for listing, revoking and the audit log; not secret.
    pub id: String,
    pub provider: ProviderId,
    pub hash: [u8; 32],
    pub created: Timestamp,
    /// Who made it, as the audit log names actors.
    pub created_by: String,
    pub expires: Timestamp,
    pub revoked: Option<Timestamp>,
    /// The page may show the client secret, once.
    pub reveal_secret: bool,
    /// When the page showed the secret (then never again).
    pub secret_revealed: Option<Timestamp>,
    /// When someone first opened the page.
    pub first_viewed: Option<Timestamp>,
}

impl SetupLink {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked.is_none() && now < self.expires
    }

    pub fn state(&self, now: Timestamp) -> &'static str {
        match (self.revoked, now < self.expires) {
            (Some(_), _) => "revoked",
            (None, false) => "expired",
            (None, true) => "live",
        }
    }

    /// The secret may still be shown through this link.
    pub fn may_reveal_secret(&self) -> bool {
        self.reveal_secret && self.secret_revealed.is_none()
    }

    /// The actor its page acts as, in the audit log.
    pub fn actor(&self) -> Actor {
        Actor::Setup(self.id.clone())
    }
}

/// A link just made, with its code in clear: shown once.
pub struct CreatedLink {
    pub link: SetupLink,
    pub code: String,
}

impl std::fmt::Debug for CreatedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedLink")
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

/// An opened link: the link and its provider, both current.
#[derive(Debug, Clone)]
pub struct OpenLink {
    pub link: SetupLink,
    pub provider: Provider,
}

/// How many users and groups a provider holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    pub users: u64,
    pub groups: u64,
}

/// What a setup page's status panel shows.
#[derive(Debug, Clone, Default)]
pub struct SetupStatus {
    pub received: Received,
    /// The provider's last requests, newest first.
    pub requests: Vec<LogEntry>,
    /// Its latest failure, in full (its error and masked body), however long ago.
    pub last_error: Option<LogEntry>,
}

/// Requests the status panel lists.
const STATUS_REQUESTS: u32 = 50;

/// The value a setup page's forms carry to prove they came from the page (so that a link
/// scanner's or another site's request changes nothing): derived from the code, which only
/// holders of the page know.
pub fn form_token(code: &str) -> String {
    crypto::hex(&crypto::sha256(format!("scimd setup form\0{code}").as_bytes()))[..32].to_owned()
}

/// Does `code` have the shape of a setup code? Anything else is refused before any lookup.
pub fn looks_like_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Core {
    /// Make a setup link for a provider; `ttl_seconds` defaults to 72 hours, at most 30 days.
    pub async fn create_setup_link(
        &self,
        provider: &str,
        ttl_seconds: Option<i64>,
        reveal_secret: bool,
        actor: &Actor,
    ) -> Result<CreatedLink, CoreError> {
        let p = self.provider(provider).await?;
        let ttl = ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
        if !(60..=MAX_TTL_SECONDS).contains(&ttl) {
            return Err(CoreError::Invalid(
                "a setup link expires after 1 minute to 30 days (e.g. 72h, 7d)".into(),
            ));
        }
        if reveal_secret && p.settings.secret_lost {
            return Err(CoreError::Invalid(format!(
                "the client secret of '{}' was lost with the old key file: rotate it before a link may reveal it",
                p.id
            )));
        }
        let now = self.clock.now();
        let code = crypto::random_alphanumeric(CODE_LEN);
        let link = SetupLink {
            id: crypto::random_alphanumeric(12),
            provider: p.id.clone(),
            hash: crypto::sha256(code.as_bytes()),
            created: now,
            created_by: actor.to_string(),
            expires: now.plus_seconds(ttl),
            revoked: None,
            reveal_secret,
            secret_revealed: None,
            first_viewed: None,
        };
        let event = self
            .provider_event(actor, "setup_link.create", &p)
            .resource(format!("SetupLink/{}", link.id))
            .attributes(if reveal_secret {
                vec!["reveal_secret".into()]
            } else {
                Vec::new()
            });
        self.store.create_setup_link(&link, &event).await?;
        Ok(CreatedLink { link, code })
    }

    /// A provider's setup links, newest first.
    pub async fn setup_links(&self, provider: &str) -> Result<Vec<SetupLink>, CoreError> {
        let p = self.provider(provider).await?;
        Ok(self.store.setup_links(&p.id).await?)
    }

    /// Revoke a link (its page answers as for an unknown code from now on) and, with
    /// `revoke_tokens`, the tokens made through it. Revoking a link already revoked or
    /// expired only revokes its tokens. Returns how many tokens were revoked.
    pub async fn revoke_setup_link(
        &self,
        provider: &str,
        link_id: &str,
        revoke_tokens: bool,
        actor: &Actor,
    ) -> Result<u64, CoreError> {
        let p = self.provider(provider).await?;
        let links = self.store.setup_links(&p.id).await?;
        if !links.iter().any(|l| l.id == link_id) {
            return Err(CoreError::NotFound(format!(
                "setup link '{link_id}' of provider '{provider}'"
            )));
        }
        let now = self.clock.now();
        let doomed: Vec<String> = if revoke_tokens {
            let tokens = self.store.tokens(&p.id).await?;
            tokens
                .into_iter()
                .filter(|t| t.setup_link.as_deref() == Some(link_id) && t.is_live(now))
                .map(|t| t.id)
                .collect()
        } else {
            Vec::new()
        };
        let mut event = self
            .provider_event(actor, "setup_link.revoke", &p)
            .resource(format!("SetupLink/{link_id}"))
            .attributes(doomed.iter().map(|t| format!("Token/{t}")).collect());
        for t in &doomed {
            event = event.with_change(|e| crate::events::token_revoked(e, Some(t)));
        }
        let n = self
            .store
            .revoke_setup_link(&p.id, link_id, &doomed, now, &event)
            .await?;
        if n > 0 {
            self.tokens.clear();
            self.announce();
        }
        Ok(n)
    }

    /// Open a link by its code, from `ip`. Unknown, expired and revoked codes all answer
    /// `NotFound`, and count against the address; past the limit, `TooManyAttempts`. The
    /// first successful view is audited.
    pub async fn open_setup_link(&self, code: &str, ip: IpAddr) -> Result<OpenLink, CoreError> {
        let now = self.clock.now();
        let key = format!("setup:{ip}");
        self.failures
            .check(&key, limiter::MAX_FAILURES_PER_ADDRESS, now)
            .map_err(CoreError::TooManyAttempts)?;
        let digest = crypto::sha256(code.as_bytes());
        // The lookup runs for every code, well-formed or not, so that a malformed code costs
        // the same time as an unknown one.
        let found = self.store.setup_link_by_hash(&digest).await?;
        let open = found.filter(|(l, _)| looks_like_code(code) && l.is_live(now));
        let Some((link, provider)) = open else {
            self.failures.failed(&key, now);
            return Err(CoreError::NotFound("setup link".into()));
        };
        if link.first_viewed.is_none() {
            let event = self
                .provider_event(&link.actor(), "setup_link.view", &provider)
                .resource(format!("SetupLink/{}", link.id));
            self.store.mark_setup_link_viewed(&link.id, now, &event).await?;
        }
        Ok(OpenLink { link, provider })
    }

    /// "Generate activation token" on an opened link's page: the provider's token, made by
    /// the link.
    pub async fn setup_issue_token(&self, open: &OpenLink) -> Result<IssuedToken, CoreError> {
        if !open.provider.enabled {
            return Err(CoreError::Forbidden(format!(
                "provider '{}' is disabled: ask the administrator who sent this link to enable it",
                open.provider.id
            )));
        }
        self.mint_token(open.provider.clone(), &open.link.actor(), Some(&open.link.id))
            .await
    }

    /// The client secret, through a link made to reveal it, once (audited as a reveal).
    pub async fn setup_reveal_secret(&self, open: &OpenLink) -> Result<String, CoreError> {
        let gone = || {
            CoreError::Forbidden(
                "this link does not show the client secret, or already showed it once; ask the administrator \
                 who sent it"
                    .into(),
            )
        };
        if !open.link.may_reveal_secret() {
            return Err(gone());
        }
        let p = &open.provider;
        let secret = self.open_secret(p)?;
        let event = self
            .provider_event(&open.link.actor(), "provider.secret.reveal", p)
            .attributes(vec![format!("SetupLink/{}", open.link.id)]);
        // Only one request can claim the reveal, however many race for it.
        if !self
            .store
            .claim_setup_secret(&open.link.id, self.clock.now(), &event)
            .await?
        {
            return Err(gone());
        }
        Ok(secret)
    }

    /// The provider's Postman collection for a link's page: every value but the client
    /// secret, which the page shows apart (or the administrator gives). Audited.
    pub async fn setup_postman(
        &self,
        open: &OpenLink,
        urls: &crate::views::Urls,
    ) -> Result<serde_json::Value, CoreError> {
        let event = self
            .provider_event(&open.link.actor(), "setup_link.postman", &open.provider)
            .resource(format!("SetupLink/{}", open.link.id));
        self.store.record(&event).await?;
        Ok(crate::postman::collection_for(&open.provider, urls, ""))
    }

    /// The status panel of a link's page: users and groups received, the last 50 requests
    /// and the latest failure. Not audited (the panel refreshes every few seconds).
    pub async fn setup_status(&self, open: &OpenLink) -> Result<SetupStatus, CoreError> {
        // The provider is at hand: read its log directly, not through a lookup by id.
        let id = &open.provider.id;
        let latest = LogFilter {
            limit: STATUS_REQUESTS,
            ..LogFilter::default()
        };
        let failures = LogFilter {
            failed: true,
            limit: 1,
            ..LogFilter::default()
        };
        Ok(SetupStatus {
            received: self.store.received(id).await?,
            requests: self.store.log_entries(id, &latest).await?,
            last_error: self.store.log_entries(id, &failures).await?.into_iter().next(),
        })
    }
}
