//! Group commit for assignment transitions. Reports arrive by the thousand; each must be
//! durable before it is answered, and a durable commit costs a disk flush. So one writer
//! takes every transition waiting at that moment, judges and records each exactly as if
//! it came alone (its own checks, history entry, change record and audit entry), writes
//! them with a few multi-row statements, commits them with one flush, and only then
//! answers each. Nothing is acknowledged before its commit; syncing is not weakened.

use std::collections::HashSet;
use std::sync::Mutex;

use ganglion_store::WriteTx;
use tokio::sync::{mpsc, oneshot};

use crate::assignments::{moved_parts, MadeTransition, TransitionRequest};
use crate::{App, AppError, AssignmentView};

/// The most transitions one commit carries.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<AssignmentView, AppError>>;

/// A transition waiting for the writer.
struct Job {
    request: TransitionRequest,
    reply: Reply,
}

/// The queue in front of the writer, which starts with the first transition.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    sender: Option<mpsc::UnboundedSender<Job>>,
    closed: bool,
}

impl GroupCommit {
    fn sender(&self, app: &App) -> Result<mpsc::UnboundedSender<Job>, AppError> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if queue.closed {
            return Err(AppError::Internal(
                "the transition writer has stopped".into(),
            ));
        }
        if let Some(sender) = &queue.sender {
            return Ok(sender.clone());
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        // The writer lives until the app is closed or the runtime that started it ends;
        // then each waiting caller is told its write did not happen.
        tokio::spawn(writer(app.clone(), receiver));
        queue.sender = Some(sender.clone());
        Ok(sender)
    }

    /// Lets the writer finish what it was given, then stop.
    pub(crate) fn close(&self) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.closed = true;
        queue.sender = None;
    }
}

async fn writer(app: App, mut receiver: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        app.commit_batch(std::mem::take(&mut batch)).await;
    }
}

impl App {
    /// Hands a transition to the writer and waits for its durable answer.
    pub(crate) async fn submit_transition(
        &self,
        request: TransitionRequest,
    ) -> Result<AssignmentView, AppError> {
        let (reply, answer) = oneshot::channel();
        self.group_commit
            .sender(self)?
            .send(Job { request, reply })
            .map_err(|_| AppError::Internal("the transition writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Internal("the transition writer dropped a request".into()))?
    }

    /// Writes a batch in one transaction and answers each job after the commit.
    async fn commit_batch(&self, jobs: Vec<Job>) {
        let (requests, replies): (Vec<TransitionRequest>, Vec<Reply>) =
            jobs.into_iter().map(|job| (job.request, job.reply)).unzip();
        match self.write_batch(&requests).await {
            Ok((answers, made)) => {
                self.apply_assignments(made.iter().map(moved_parts));
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
            Err(error) => {
                let cause = error.to_string();
                for reply in replies {
                    let _ = reply.send(Err(AppError::Internal(format!(
                        "the batch of this transition was not committed: {cause}"
                    ))));
                }
            }
        }
    }

    /// The batch's write: on success, each request's answer and the moves committed.
    async fn write_batch(
        &self,
        requests: &[TransitionRequest],
    ) -> Result<
        (
            Vec<Result<AssignmentView, AppError>>,
            Vec<ganglion_store::AssignmentRow>,
        ),
        AppError,
    > {
        let mut tx = self.store.write().await?;
        let fresh = first_uses_of_keys(&mut tx, requests).await?;
        let (admitted, turned_away): (Vec<usize>, Vec<usize>) =
            (0..requests.len()).partition(|index| fresh[*index]);
        let admitted_requests: Vec<&TransitionRequest> =
            admitted.iter().map(|index| &requests[*index]).collect();
        let outcomes = self.make_transitions(&mut tx, &admitted_requests).await?;
        let mut answers: Vec<Option<Result<AssignmentView, AppError>>> =
            (0..requests.len()).map(|_| None).collect();
        for index in turned_away {
            // Already answered, or under way in this very batch: the caller replays
            // the stored answer once this write has committed.
            answers[index] = Some(Err(AppError::Conflict {
                code: "idempotency_key_in_use",
                message: "a request with this Idempotency-Key is under way".into(),
            }));
        }
        let mut made: Vec<(usize, MadeTransition)> = Vec::new();
        for (index, outcome) in admitted.into_iter().zip(outcomes) {
            match outcome {
                Ok(transition) => made.push((index, transition)),
                Err(refused) => answers[index] = Some(Err(refused)),
            }
        }
        let moved: Vec<ganglion_store::AssignmentRow> =
            made.iter().map(|(_, m)| m.moved.clone()).collect();
        let made_indexes: Vec<usize> = made.iter().map(|(index, _)| *index).collect();
        let views = self
            .views_of_made(
                &mut tx,
                made.into_iter()
                    .map(|(index, m)| (&requests[index].ctx, m))
                    .collect(),
            )
            .await?;
        for (index, view) in made_indexes.into_iter().zip(views) {
            crate::remember_answer(&mut tx, &requests[index].ctx, &view).await?;
            answers[index] = Some(Ok(view));
        }
        self.commit(tx).await?;
        let answers = answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    Err(AppError::Internal("a transition went unanswered".into()))
                })
            })
            .collect();
        Ok((answers, moved))
    }
}

/// For each request, whether its idempotency key (if any) is used here for the first
/// time: not stored by an earlier write, and not carried by an earlier request of this
/// batch. Under the write lock no other write can store one meanwhile.
async fn first_uses_of_keys(
    tx: &mut WriteTx,
    requests: &[TransitionRequest],
) -> Result<Vec<bool>, AppError> {
    let keys: Vec<&str> = requests
        .iter()
        .filter_map(|request| request.ctx.idempotency.as_ref())
        .map(|idempotency| idempotency.key.as_str())
        .collect();
    let used: HashSet<String> = if keys.is_empty() {
        HashSet::new()
    } else {
        tx.used_idempotency_keys(&keys).await?.into_iter().collect()
    };
    let mut seen = HashSet::new();
    Ok(requests
        .iter()
        .map(|request| match &request.ctx.idempotency {
            Some(idempotency) => {
                !used.contains(&idempotency.key) && seen.insert(idempotency.key.clone())
            }
            None => true,
        })
        .collect())
}
