//! The group-committing writer: uploads queue here, and the writer stores as many as are waiting
//! in one transaction with one sync, then answers each. The queue is bounded: when it is full the
//! upload is refused at once (503 with `Retry-After`) instead of piling up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use super::{Batch, Stored};
use crate::settings::Policy;
use crate::store::Store;
use crate::{Error, Result};

/// Uploads stored together in one transaction at most.
const GROUP: usize = 64;
/// Longest an upload waits for its commit before the client is told to retry.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

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
    pub fn start(store: Arc<dyn Store>, policy: Policy, capacity: usize) -> Ingest {
        let (queue, jobs) = mpsc::channel(capacity.max(1));
        tokio::spawn(run(store, Arc::new(policy), jobs));
        Ingest { queue }
    }

    /// Stores an upload; answers once it is committed to disk.
    pub async fn submit(&self, batch: Batch) -> Result<Stored> {
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(Job { batch, reply }).map_err(|e| match e {
            TrySendError::Full(_) => Error::Busy,
            TrySendError::Closed(_) => Error::Internal(anyhow::anyhow!("the check-in writer stopped")),
        })?;
        match tokio::time::timeout(ANSWER_WITHIN, answer).await {
            Err(_) => Err(Error::Busy),
            Ok(Err(_)) => Err(Error::Internal(anyhow::anyhow!("the check-in writer dropped an upload"))),
            Ok(Ok(result)) => result,
        }
    }
}

async fn run(store: Arc<dyn Store>, policy: Arc<Policy>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut batches: Vec<Batch> = Vec::with_capacity(group.len());
        let mut replies = Vec::with_capacity(group.len());
        for job in group {
            batches.push(job.batch);
            replies.push(job.reply);
        }
        // In a task of its own, so that a panic fails this group, not the writer.
        let (store, policy) = (store.clone(), policy.clone());
        let started = std::time::Instant::now();
        let outcome = tokio::spawn(async move { store.store_fixes(&batches, &policy).await }).await;
        metrics::histogram!("checkin_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("checkin_group_uploads").record(replies.len() as f64);
        match outcome {
            Ok(Ok(results)) => {
                let (accepted, duplicates) =
                    results.iter().fold((0, 0), |(a, d), s| (a + s.accepted, d + s.duplicates));
                metrics::counter!("fixes_stored_total").increment(accepted as u64);
                metrics::counter!("fixes_duplicate_total").increment(duplicates as u64);
                for (reply, stored) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(stored));
                }
            }
            Ok(Err(e)) => fail(replies, &e.to_string()),
            Err(panic) => fail(replies, &format!("panicked: {panic}")),
        }
    }
}

/// Answers every upload of a group whose transaction did not commit: nothing of it was stored.
fn fail(replies: Vec<oneshot::Sender<Result<Stored>>>, reason: &str) {
    tracing::error!(error = %reason, uploads = replies.len(), "storing check-ins failed");
    for reply in replies {
        let _ = reply.send(Err(Error::Internal(anyhow::anyhow!("storing check-ins failed"))));
    }
}
