//! The provisioning log's background work in `scimd serve`: write what requests queued, a
//! second apart; after each write prune the providers written to (their budgets), and every
//! minute all of them (failures age out of idle providers too); at shutdown, write what is
//! left once the last request has been answered.

use std::sync::Arc;
use std::time::Duration;

use scimd_core::{Core, ProviderId};
use scimd_http::metrics::Metrics;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
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
    let mut pruned_all = tokio::time::Instant::now();
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(FLUSH_EVERY) => false,
            _ = stopped.changed() => true,
        };
        // Never interrupted: a flush holds the entries it took until they are written.
        let touched = flush(&core, &metrics).await;
        if stopping {
            return;
        }
        if pruned_all.elapsed() >= PRUNE_ALL_EVERY {
            pruned_all = tokio::time::Instant::now();
            prune(&core, None).await;
        } else if !touched.is_empty() {
            prune(&core, Some(&touched)).await;
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
