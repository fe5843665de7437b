//! Group commit for assignment transitions. Reports arrive by the thousand; each must be
//! durable before it is answered, and a durable commit costs a disk flush. So one writer
//! takes every transition waiting at that moment, judges and records each exactly as if
//! it came alone (its own checks, history entry, change record and audit entry), writes
//! them with a few multi-row statements, commits them with one flush, and only then
//! answers each. Nothing is acknowledged before its commit; syncing is not weakened.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use ganglion_store::{BatchTx, BatchWriter};
use tokio::sync::{mpsc, oneshot};

use crate::assignments::{moved_parts, MadeTransition, TransitionRequest};
use crate::{answer_to_remember, App, AppError, AssignmentView};

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
    /// The writer's own thread, on SQLite.
    thread: Option<std::thread::JoinHandle<()>>,
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
        // The writer's app shares everything but this queue: were it to hold the queue's
        // sender, the writer would keep itself waiting forever. It stops once the app is
        // closed or every other handle on it is gone, after answering what it was given.
        let writer_app = App {
            group_commit: Arc::default(),
            ..app.clone()
        };
        let batch_writer = app.store.batch_writer();
        if batch_writer.blocks() {
            let thread = std::thread::Builder::new()
                .name("ganglion-writer".into())
                .spawn(move || write_in_place(writer_app, batch_writer, receiver))
                .map_err(|error| {
                    AppError::Internal(format!("cannot start the transition writer: {error}"))
                })?;
            queue.thread = Some(thread);
        } else {
            tokio::spawn(write_pooled(writer_app, batch_writer, receiver));
        }
        queue.sender = Some(sender.clone());
        Ok(sender)
    }

    /// Lets the writer finish what it was given, then stop; waits for that on SQLite,
    /// where the writer holds a connection of its own.
    pub(crate) async fn close(&self) {
        let thread = {
            let mut queue = self
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue.closed = true;
            queue.sender = None;
            queue.thread.take()
        };
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// The writer on SQLite: its statements run in place on this thread (see
/// ganglion-store's `direct.rs`), so a batch crosses threads only to take its jobs and
/// to answer them. Nothing in a batch waits for the runtime's I/O, so a plain executor
/// drives it.
fn write_in_place(
    app: App,
    mut batch_writer: BatchWriter,
    mut receiver: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(first) = receiver.blocking_recv() {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let batch = std::panic::AssertUnwindSafe(app.commit_batch(&mut batch_writer, jobs));
        if std::panic::catch_unwind(|| futures::executor::block_on(batch)).is_err() {
            // The batch's callers were told (their replies were dropped) and its
            // transaction rolled back; the next batch starts on a fresh connection.
            batch_writer = app.store.batch_writer();
        }
    }
}

/// The writer on PostgreSQL: a task like any other, on pooled transactions.
async fn write_pooled(
    app: App,
    mut batch_writer: BatchWriter,
    mut receiver: mpsc::UnboundedReceiver<Job>,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        app.commit_batch(&mut batch_writer, std::mem::take(&mut jobs))
            .await;
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
    async fn commit_batch(&self, writer: &mut BatchWriter, jobs: Vec<Job>) {
        let (requests, replies): (Vec<TransitionRequest>, Vec<Reply>) =
            jobs.into_iter().map(|job| (job.request, job.reply)).unzip();
        match self.write_batch(writer, &requests).await {
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
        writer: &mut BatchWriter,
        requests: &[TransitionRequest],
    ) -> Result<
        (
            Vec<Result<AssignmentView, AppError>>,
            Vec<ganglion_store::AssignmentRow>,
        ),
        AppError,
    > {
        let mut tx = writer.begin().await?;
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
            if let Some((key, response)) = answer_to_remember(&requests[index].ctx, &view)? {
                tx.save_idempotent_response(key, &response).await?;
            }
            answers[index] = Some(Ok(view));
        }
        // A batch only moves assignments: it never changes who may do what, so it has
        // no access change to announce (see `App::commit`).
        tx.commit().await?;
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
    tx: &mut BatchTx<'_>,
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
