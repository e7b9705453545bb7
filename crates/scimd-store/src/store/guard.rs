//! The mass-deletion guard's row (`provider_guard`): counted in each removal's own
//! transaction (the row locked on PostgreSQL, so a provider's removals count in turn),
//! tripped and released by the core.

use scim_proto::schema::ResourceKind;
use scimd_core::lifecycle::{GuardCounts, GuardRefusal, GuardSettings, GuardState};
use scimd_core::store::StoreResult;
use scimd_core::{AuditEvent, CoreError, ProviderId, StoreError, Timestamp};

use super::SqlStore;
use crate::db::{Exec, Row, args};

fn refusal_of(text: Option<String>) -> StoreResult<Option<GuardRefusal>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Backend(format!("unreadable guard: {e}"))))
        .transpose()
}

fn encoding_failed(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("cannot encode the guard: {e}"))
}

/// Count one removal of `kind` by `provider` at `now` against its guard, or refuse it:
/// `CoreError::Guarded` while the guard is tripped, or when this removal would take the
/// provider past its share (`newly`: the core records the trip).
pub(crate) async fn admit(
    x: &mut dyn Exec,
    provider: &ProviderId,
    kind: ResourceKind,
    settings: &GuardSettings,
    now: Timestamp,
) -> Result<(), CoreError> {
    if !settings.enabled {
        return Ok(());
    }
    let row = if x.is_postgres() {
        // The row is locked for the rest of the transaction, so that a provider's removals
        // count in turn; the first one makes it (two first removals must not both read none).
        const LOCKED: &str = "SELECT counts, tripped FROM provider_guard WHERE provider_id = ? FOR UPDATE";
        match x.query_opt(LOCKED, args![provider.as_str()]).await? {
            Some(row) => Some(row),
            None => {
                x.execute(
                    "INSERT INTO provider_guard (provider_id) VALUES (?) ON CONFLICT (provider_id) DO NOTHING",
                    args![provider.as_str()],
                )
                .await?;
                x.query_opt(LOCKED, args![provider.as_str()]).await?
            }
        }
    } else {
        // SQLite's one writer already takes removals in turn.
        x.query_opt(
            "SELECT counts, tripped FROM provider_guard WHERE provider_id = ?",
            args![provider.as_str()],
        )
        .await?
    };
    let mut counts = match row {
        Some(mut r) => {
            if let Some(tripped) = refusal_of(r.take_opt_text(1)?)? {
                return Err(CoreError::Guarded(GuardRefusal {
                    newly: false,
                    ..tripped
                }));
            }
            serde_json::from_str::<GuardCounts>(&r.take_text(0)?).unwrap_or_default()
        }
        None => GuardCounts::default(),
    };
    if counts.needs_base(kind, now, settings) {
        let live = x
            .query_one(
                "SELECT count(*) FROM resource WHERE provider_id = ? AND kind = ?",
                args![provider.as_str(), kind.name()],
            )
            .await?
            .int(0)?;
        counts.set_base(kind, live.max(0) as u64, now, settings);
    }
    counts
        .admit(provider.as_str(), kind, now, settings)
        .map_err(CoreError::Guarded)?;
    x.execute(
        "INSERT INTO provider_guard (provider_id, counts) VALUES (?1, ?2) \
         ON CONFLICT (provider_id) DO UPDATE SET counts = ?2",
        args![
            provider.as_str(),
            &serde_json::to_string(&counts).map_err(encoding_failed)?
        ],
    )
    .await?;
    Ok(())
}

fn state_from_row(mut r: Row) -> StoreResult<GuardState> {
    let tripped = refusal_of(r.take_opt_text(0)?)?;
    let released = match (r.opt_int(1)?, r.take_opt_text(2)?) {
        (Some(at), Some(by)) => Some((Timestamp(at), by)),
        _ => None,
    };
    Ok(GuardState { tripped, released })
}

impl SqlStore {
    pub(crate) async fn guard_state_of(&self, provider: &ProviderId) -> StoreResult<GuardState> {
        let provider = provider.clone();
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let row = x
                        .query_opt(
                            "SELECT tripped, released_at, released_by FROM provider_guard WHERE provider_id = ?",
                            args![provider.as_str()],
                        )
                        .await?;
                    row.map(state_from_row).transpose().map(Option::unwrap_or_default)
                })
            })
            .await
    }

    pub(crate) async fn tripped_guard_list(&self) -> StoreResult<Vec<GuardRefusal>> {
        self.db
            .read_now(move |x| {
                Box::pin(async move {
                    let rows = x
                        .query(
                            "SELECT tripped FROM provider_guard WHERE tripped IS NOT NULL ORDER BY provider_id",
                            &[],
                        )
                        .await?;
                    let mut out = Vec::new();
                    for mut r in rows {
                        out.extend(refusal_of(r.take_opt_text(0)?)?);
                    }
                    Ok(out)
                })
            })
            .await
    }

    pub(crate) async fn trip(&self, refusal: &GuardRefusal, event: &AuditEvent) -> StoreResult<bool> {
        let (provider, at, text) = (
            refusal.provider.clone(),
            refusal.tripped_at.0,
            serde_json::to_string(refusal).map_err(encoding_failed)?,
        );
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    let n = x
                        .execute(
                            "INSERT INTO provider_guard (provider_id, tripped_at, tripped) VALUES (?1, ?2, ?3) \
                             ON CONFLICT (provider_id) DO UPDATE SET tripped_at = ?2, tripped = ?3 \
                             WHERE provider_guard.tripped IS NULL",
                            args![provider.as_str(), at, text.as_str()],
                        )
                        .await?;
                    Ok(n > 0)
                })
            },
            |tripped| *tripped,
        )
        .await
    }

    pub(crate) async fn release(&self, provider: &ProviderId, at: Timestamp, event: &AuditEvent) -> StoreResult<bool> {
        let (provider, by) = (provider.clone(), event.actor.clone());
        self.with_event(
            event,
            move |x| {
                Box::pin(async move {
                    // Counting starts afresh: the removals the guard refused go through when
                    // retried, measured against the directory as it is now.
                    let n = x
                        .execute(
                            "UPDATE provider_guard SET tripped = NULL, tripped_at = NULL, counts = '{}', \
                             released_at = ?, released_by = ? WHERE provider_id = ? AND tripped IS NOT NULL",
                            args![at.0, by.as_str(), provider.as_str()],
                        )
                        .await?;
                    Ok(n > 0)
                })
            },
            |released| *released,
        )
        .await
    }
}
