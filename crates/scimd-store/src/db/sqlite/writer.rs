//! Group commit: one thread owns the write connection and runs every write that is waiting
//! in one transaction, each in its own savepoint, with one fsync for all of them. A caller
//! hears back only after the commit is durable, and a failing job rolls back only itself.

use std::sync::mpsc;
use std::thread;

use scimd_core::StoreError;
use tokio::sync::oneshot;

use super::SqliteConn;

/// At most this many jobs share a transaction, so one commit never grows without bound.
const MAX_BATCH: usize = 512;

trait Job: Send {
    /// Run inside the open transaction; `true` if it succeeded and its work should stay.
    fn run(&mut self, conn: &mut SqliteConn) -> bool;
    /// Report the outcome once the transaction has committed (or failed to).
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Pending<F, T, E> {
    work: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Job for Pending<F, T, E>
where
    F: FnOnce(&mut SqliteConn) -> Result<T, E> + Send,
    T: Send,
    E: From<StoreError> + Send,
{
    fn run(&mut self, conn: &mut SqliteConn) -> bool {
        let outcome = match self.work.take() {
            Some(work) => work(conn),
            None => Err(StoreError::Backend("write job ran twice".into()).into()),
        };
        let ok = outcome.is_ok();
        self.result = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let this = *self;
        let outcome = match (this.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e.into()),
            (None, Ok(())) => Err(StoreError::Backend("write job did not run".into()).into()),
        };
        // The caller may have gone away (a dropped request); the change is committed anyway.
        let _ = this.reply.send(outcome);
    }
}

pub struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Writer {
    /// Let the writer finish what it was given and close its connection before the store
    /// is gone, so that whoever opens the file next (a restore replacing it) is alone.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Writer {
    pub fn start(conn: SqliteConn) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let thread = thread::Builder::new()
            .name("scimd-sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::Backend(format!("cannot start the database writer: {e}")))?;
        Ok(Writer {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Run `work` in a write transaction shared with whatever else is waiting. An error
    /// rolls back `work` alone.
    pub async fn write<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut SqliteConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            work: Some(work),
            result: None,
            reply,
        };
        self.jobs
            .as_ref()
            .ok_or_else(|| E::from(StoreError::Backend("the database writer has stopped".into())))?
            .send(Box::new(job))
            .map_err(|_| E::from(StoreError::Backend("the database writer has stopped".into())))?;
        answer
            .await
            .map_err(|_| E::from(StoreError::Backend("the database writer dropped a request".into())))?
    }
}

fn run(mut conn: SqliteConn, rx: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = run_batch(&mut conn, &mut batch);
        for job in batch {
            job.finish(commit.clone());
        }
    }
    // Every sender is gone: the store was dropped. The connection closes with this thread.
}

fn run_batch(conn: &mut SqliteConn, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let backend = super::backend;
    conn.raw().execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    for job in batch.iter_mut() {
        let step = conn.raw().execute_batch("SAVEPOINT job").and_then(|_| {
            let ok = job.run(conn);
            if ok {
                conn.raw().execute_batch("RELEASE job")
            } else {
                conn.raw().execute_batch("ROLLBACK TO job; RELEASE job")
            }
        });
        if let Err(e) = step {
            let _ = conn.raw().execute_batch("ROLLBACK");
            return Err(backend(e));
        }
    }
    if let Err(e) = conn.raw().execute_batch("COMMIT") {
        let _ = conn.raw().execute_batch("ROLLBACK");
        return Err(backend(e));
    }
    crate::db::storage_committed();
    Ok(())
}
