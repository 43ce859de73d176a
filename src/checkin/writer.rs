//! The group-committing writer: uploads queue here, and the writer stores as many as are waiting
//! in one transaction with one sync, then answers each. The queue is bounded: when it is full the
//! upload is refused at once (503 with `Retry-After`) instead of piling up.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Batch, Stored};
use crate::store::Store;
use crate::{Error, Result};

/// Uploads stored together in one transaction at most.
const GROUP: usize = 64;

struct Job {
    batch: Batch,
    reply: oneshot::Sender<Result<Stored>>,
}

#[derive(Clone)]
pub struct Ingest {
    queue: mpsc::Sender<Job>,
}

impl Ingest {
    /// Starts the writer on the current runtime with room for `capacity` waiting uploads.
    pub fn start(store: Arc<dyn Store>, capacity: usize) -> Ingest {
        let (queue, jobs) = mpsc::channel(capacity.max(1));
        tokio::spawn(run(store, jobs));
        Ingest { queue }
    }

    /// Stores an upload; answers once it is committed to disk.
    pub async fn submit(&self, batch: Batch) -> Result<Stored> {
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(Job { batch, reply }).map_err(|_| Error::Busy)?;
        answer.await.map_err(|_| Error::Internal(anyhow::anyhow!("the check-in writer stopped")))?
    }
}

async fn run(store: Arc<dyn Store>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let batches: Vec<Batch> = group.iter().map(|j| j.batch.clone()).collect();
        match store.store_fixes(&batches).await {
            Ok(results) => {
                for (job, stored) in group.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(stored));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, uploads = group.len(), "storing check-ins failed");
                for job in group {
                    let _ = job.reply.send(Err(Error::Internal(anyhow::anyhow!("storing check-ins failed"))));
                }
            }
        }
    }
}
