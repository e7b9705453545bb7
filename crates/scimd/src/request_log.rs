//! The provisioning log's background work in `scimd serve`: write what requests queued, at
//! least every second, and sooner once a thousand entries wait (a busy server writes
//! smaller batches more often: each holds SQLite's writer, or a PostgreSQL connection, for
//! less time); then, at most every 5 seconds, prune the providers written to (their
//! budgets), and every minute all of them (failures age out of idle providers too); at
//! shutdown, write what is left once the last request has been answered.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use scimd_core::{Core, ProviderId};
use scimd_http::metrics::Metrics;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Entries that make a batch worth writing before the second is up.
const FLUSH_AT: usize = 1000;
/// How often the queue's length is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(100);
/// Pruning walks each budget's length of the index to find its edge: a few seconds past a
/// budget cost nothing, a walk a second on a busy server does.
const PRUNE_EVERY: Duration = Duration::from_secs(5);
const PRUNE_ALL_EVERY: Duration = Duration::from_secs(60);

/// The running writer: stop it with [`Writer::finish`], which writes what is left.
pub struct Writer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

pub fn start(core: Arc<Core>, metrics: Arc<Metrics>) -> Writer {
    let (stop, stopped) = watch::channel(false);
    Writer {
        stop,
        task: tokio::spawn(run(core, metrics, stopped)),
    }
}

impl Writer {
    /// Write what the last requests queued, and stop.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(core: Arc<Core>, metrics: Arc<Metrics>, mut stopped: watch::Receiver<bool>) {
    let (mut flushed, mut pruned, mut pruned_all) = (Instant::now(), Instant::now(), Instant::now());
    let mut touched: BTreeSet<ProviderId> = BTreeSet::new();
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(LOOK_EVERY) => false,
            _ = stopped.changed() => true,
        };
        if !stopping && flushed.elapsed() < FLUSH_EVERY && core.log_queued() < FLUSH_AT {
            continue;
        }
        flushed = Instant::now();
        // Never interrupted: a flush holds the entries it took until they are written.
        touched.extend(flush(&core, &metrics).await);
        if stopping {
            return;
        }
        if pruned_all.elapsed() >= PRUNE_ALL_EVERY {
            (pruned_all, pruned) = (Instant::now(), Instant::now());
            touched.clear();
            prune(&core, None).await;
        } else if pruned.elapsed() >= PRUNE_EVERY && !touched.is_empty() {
            pruned = Instant::now();
            let these: Vec<ProviderId> = std::mem::take(&mut touched).into_iter().collect();
            prune(&core, Some(&these)).await;
        }
    }
}

/// Write the queue; the providers that got entries.
async fn flush(core: &Core, metrics: &Metrics) -> Vec<ProviderId> {
    match core.flush_log().await {
        Ok(r) => {
            metrics.log_flushed(r.written, r.dropped, &r.unauthenticated);
            if r.dropped > 0 {
                tracing::warn!(dropped = r.dropped, "provisioning log entries were dropped");
            }
            r.touched
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot write the provisioning log; its entries of the last second are lost");
            Vec::new()
        }
    }
}

async fn prune(core: &Core, only: Option<&[ProviderId]>) {
    match core.prune_log(only).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(entries = n, "pruned the provisioning log"),
        Err(e) => tracing::warn!(error = %e, "cannot prune the provisioning log"),
    }
}
