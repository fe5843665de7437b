//! Group commit for assignment transitions. Reports arrive by the thousand; each must be
//! durable before it is answered, and a durable commit costs a disk flush. So one writer
//! takes every transition waiting at that moment, judges and records each exactly as if
//! it came alone (its own checks, history entry, change record and audit entry), writes
//! them with a few multi-row statements, commits them with one flush, and only then
//! answers each. Nothing is acknowledged before its flush; syncing is not weakened.
//!
//! On SQLite the flush is pipelined: the writer commits a batch (its frames written to
//! the log), hands it to a flusher thread and goes on with the next batch while the
//! flusher waits for the disk, then answers. One flush covers every batch committed
//! before it. Readers of the store may see a batch in the fraction of a millisecond
//! between its commit and its flush; nobody is told it is done before the flush.

use crate::ErrorCode;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ganglion_store::{BatchTx, BatchWriter, Committed};
use tokio::sync::{mpsc, oneshot, watch};

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

/// A written batch's answers, to be given once it is durable.
struct Answers {
    /// The commit to flush first; none when nothing was committed.
    committed: Option<Committed>,
    replies: Vec<(Reply, Result<AssignmentView, AppError>)>,
}

impl Answers {
    fn none() -> Self {
        Self {
            committed: None,
            replies: Vec::new(),
        }
    }

    fn give(self) {
        for (reply, answer) in self.replies {
            let _ = reply.send(answer);
        }
    }

    fn refuse(self, cause: &str) {
        for (reply, _) in self.replies {
            let _ = reply.send(Err(AppError::Internal(format!(
                "the batch of this transition could not be made durable: {cause}"
            ))));
        }
    }
}

/// How far the writer's batches are flushed, on SQLite. Batches are numbered as they
/// start, before they take the write lock, so that whatever a reader finds of a batch
/// belongs to a number already handed out.
struct Durability {
    started: AtomicU64,
    flushed: watch::Sender<u64>,
    /// A flush failed: what was committed since the last flush may be lost, and no
    /// later flush can vouch for it. The writer stops until the server restarts.
    failed: AtomicBool,
}

impl Durability {
    fn new() -> Self {
        Self {
            started: AtomicU64::new(0),
            flushed: watch::Sender::new(0),
            failed: AtomicBool::new(false),
        }
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Waits until every batch started so far is flushed.
    async fn settled(&self) -> Result<(), AppError> {
        let target = self.started.load(Ordering::SeqCst);
        let mut flushed = self.flushed.subscribe();
        let settled = flushed.wait_for(|flushed| *flushed >= target || self.failed());
        if settled.await.is_err() || self.failed() {
            return Err(stopped_after_failed_flush());
        }
        Ok(())
    }
}

fn stopped_after_failed_flush() -> AppError {
    AppError::Internal(
        "the write-ahead log could not be flushed; transitions are refused until the \
         server restarts"
            .into(),
    )
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
    /// How far its batches are flushed, on SQLite.
    durability: Option<Arc<Durability>>,
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
        if queue.durability.as_ref().is_some_and(|d| d.failed()) {
            return Err(stopped_after_failed_flush());
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
            let durability = Arc::new(Durability::new());
            let writer_durability = durability.clone();
            let thread = std::thread::Builder::new()
                .name("ganglion-writer".into())
                .spawn(move || {
                    write_in_place(writer_app, batch_writer, receiver, writer_durability)
                })
                .map_err(|error| {
                    AppError::Internal(format!("cannot start the transition writer: {error}"))
                })?;
            queue.thread = Some(thread);
            queue.durability = Some(durability);
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

    /// Waits until every transition batch started so far is durable. A reader that is
    /// about to vouch for what it read (a replayed answer) waits here, since the store
    /// shows a batch from its commit on, a little before its flush.
    pub(crate) async fn settled(&self) -> Result<(), AppError> {
        let durability = self
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .durability
            .clone();
        match durability {
            Some(durability) => durability.settled().await,
            None => Ok(()),
        }
    }
}

/// The writer on SQLite: its statements run in place on this thread (see
/// ganglion-store's `direct.rs`), so a batch crosses threads only to take its jobs and
/// to hand on its answers. Nothing in a batch waits for the runtime's I/O, so a plain
/// executor drives it. Each committed batch goes to the flusher, and the writer goes on.
fn write_in_place(
    app: App,
    mut batch_writer: BatchWriter,
    mut receiver: mpsc::UnboundedReceiver<Job>,
    durability: Arc<Durability>,
) {
    let (to_flusher, written) = std::sync::mpsc::channel::<(u64, Answers)>();
    let flusher_durability = durability.clone();
    let flusher = std::thread::Builder::new()
        .name("ganglion-flusher".into())
        .spawn(move || flush_and_answer(written, &flusher_durability));
    let flusher = match flusher {
        Ok(flusher) => flusher,
        Err(error) => {
            // Without a flusher nothing can be answered as durable: refuse every job.
            durability.failed.store(true, Ordering::SeqCst);
            let cause = format!("cannot start the flusher: {error}");
            while let Some(job) = receiver.blocking_recv() {
                let _ = job.reply.send(Err(AppError::Internal(cause.clone())));
            }
            return;
        }
    };
    while let Some(first) = receiver.blocking_recv() {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if durability.failed() {
            for job in jobs {
                let _ = job.reply.send(Err(stopped_after_failed_flush()));
            }
            continue;
        }
        let number = durability.started.fetch_add(1, Ordering::SeqCst) + 1;
        let batch = std::panic::AssertUnwindSafe(app.commit_batch(&mut batch_writer, jobs));
        let answers = match std::panic::catch_unwind(|| futures::executor::block_on(batch)) {
            Ok(answers) => answers,
            Err(_) => {
                // The batch's callers were told (their replies were dropped) and its
                // transaction rolled back; the next batch starts on a fresh connection.
                batch_writer = app.store.batch_writer();
                Answers::none()
            }
        };
        if to_flusher.send((number, answers)).is_err() {
            break;
        }
    }
    drop(to_flusher);
    let _ = flusher.join();
}

/// The flusher on SQLite: flushes what the writer committed, with one flush for all
/// that waits, then answers it, oldest first. A failed flush refuses its batches and
/// every later one: the kernel may have dropped what it could not write, and a later
/// flush that succeeds would not bring it back.
fn flush_and_answer(written: std::sync::mpsc::Receiver<(u64, Answers)>, durability: &Durability) {
    while let Ok(first) = written.recv() {
        let mut ready = vec![first];
        ready.extend(written.try_iter());
        let flushed = if durability.failed() {
            Err("an earlier flush failed".to_owned())
        } else {
            flush_newest_first(ready.iter().filter_map(|(_, a)| a.committed.as_ref()))
                .map_err(|error| error.to_string())
        };
        let newest = ready.last().map_or(0, |(number, _)| *number);
        match flushed {
            Ok(()) => {
                for (_, answers) in ready {
                    answers.give();
                }
            }
            Err(cause) => {
                durability.failed.store(true, Ordering::SeqCst);
                tracing::error!(%cause, "the write-ahead log could not be flushed");
                for (_, answers) in ready {
                    answers.refuse(&cause);
                }
            }
        }
        // Wakes whoever waits for these batches: to go on, or to be refused.
        durability.flushed.send_replace(newest);
    }
}

/// Flushes every log these commits wrote to, once: the newest commit's flush takes the
/// older ones of the same log with it.
fn flush_newest_first<'c>(
    committed: impl DoubleEndedIterator<Item = &'c Committed>,
) -> Result<(), ganglion_store::StoreError> {
    let mut flushed: Vec<&Committed> = Vec::new();
    for commit in committed.rev() {
        if !flushed.iter().any(|done| commit.flushed_with(done)) {
            commit.flush()?;
            flushed.push(commit);
        }
    }
    Ok(())
}

/// The writer on PostgreSQL: a task like any other, on pooled transactions.
async fn write_pooled(
    app: App,
    mut batch_writer: BatchWriter,
    mut receiver: mpsc::UnboundedReceiver<Job>,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut answers = app
            .commit_batch(&mut batch_writer, std::mem::take(&mut jobs))
            .await;
        // A pooled transaction's commit has flushed it already.
        match durable(answers.committed.take()).await {
            Ok(()) => answers.give(),
            Err(error) => answers.refuse(&error.to_string()),
        }
    }
}

/// Returns once a commit is durable: at once where the commit flushed (a pooled
/// transaction's); otherwise after flushing the log on a thread that may block.
pub(crate) async fn durable(committed: Option<Committed>) -> Result<(), AppError> {
    match committed {
        Some(committed) if !committed.is_durable() => {
            tokio::task::spawn_blocking(move || committed.flush())
                .await
                .map_err(|error| AppError::Internal(format!("the flush was lost: {error}")))??;
            Ok(())
        }
        _ => Ok(()),
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

    /// Writes a batch in one transaction and brings the read model up to it; returns the
    /// answers, to be given once the commit is durable.
    async fn commit_batch(&self, writer: &mut BatchWriter, jobs: Vec<Job>) -> Answers {
        let (requests, replies): (Vec<TransitionRequest>, Vec<Reply>) =
            jobs.into_iter().map(|job| (job.request, job.reply)).unzip();
        match self.write_batch(writer, &requests).await {
            Ok((answers, made, committed)) => {
                // Applied at once, in the order of the commits: the pool's writes apply
                // theirs as they commit, and the two must not cross.
                self.apply_assignments(made.iter().map(moved_parts));
                Answers {
                    committed: Some(committed),
                    replies: replies.into_iter().zip(answers).collect(),
                }
            }
            Err(error) => {
                let cause = error.to_string();
                Answers {
                    committed: None,
                    replies: replies
                        .into_iter()
                        .map(|reply| {
                            let refused = AppError::Internal(format!(
                                "the batch of this transition was not committed: {cause}"
                            ));
                            (reply, Err(refused))
                        })
                        .collect(),
                }
            }
        }
    }

    /// The batch's write: on success, each request's answer, the moves committed and the
    /// commit to flush.
    async fn write_batch(
        &self,
        writer: &mut BatchWriter,
        requests: &[TransitionRequest],
    ) -> Result<
        (
            Vec<Result<AssignmentView, AppError>>,
            Vec<ganglion_store::AssignmentRow>,
            Committed,
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
                code: ErrorCode::IdempotencyKeyInUse,
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
        let committed = tx.commit().await?;
        let answers = answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    Err(AppError::Internal("a transition went unanswered".into()))
                })
            })
            .collect();
        Ok((answers, moved, committed))
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
