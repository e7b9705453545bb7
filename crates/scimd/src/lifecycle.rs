//! The lifecycle job of `scimd serve`: every few seconds, purge soft-deleted resources past
//! their retention and announce access that is about to end or has ended. Several instances
//! on one database take turns under a lease, so one of them does it.

use std::sync::Arc;
use std::time::Duration;

use scimd_core::Core;
use tokio::task::JoinHandle;

/// How often the job looks for work: well within the minute the documentation promises.
const TICK: Duration = Duration::from_secs(5);
/// The lease outlives a few ticks, so that a dead holder's job moves to another instance
/// within this long.
const LEASE: Duration = Duration::from_secs(30);
const JOB: &str = "lifecycle";

/// Start the job; it runs until the process ends.
pub fn start(core: Arc<Core>, holder: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match core.take_job_lease(JOB, &holder, LEASE).await {
                Ok(true) => round(&core).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot take the lifecycle job's lease"),
            }
            tokio::time::sleep(TICK).await;
        }
    })
}

async fn round(core: &Core) {
    match core.purge(false).await {
        Ok(r) if r.purged > 0 => tracing::info!(purged = r.purged, "purged soft-deleted resources past retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot purge soft-deleted resources"),
    }
    match core.expire_access().await {
        Ok(r) if r.expired + r.expiring > 0 => {
            tracing::info!(expired = r.expired, expiring = r.expiring, "announced access ending")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot announce access ending"),
    }
}
