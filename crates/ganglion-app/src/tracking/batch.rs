//! Group commit for every kind of transition. Reports arrive by the thousand; each must
//! be durable before it is answered, and a durable commit costs a disk flush. So one
//! writer takes every job waiting at that moment — of any [`BatchJob`] type: moves of
//! assignments, projects, requests, filings — judges and records each exactly as if it
//! came alone (its own checks, history entry, change record and audit entry), writes
//! them with a few multi-row statements, commits them with one flush, and only then
//! answers each. Nothing is acknowledged before its flush; syncing is not weakened.
//!
//! A job type brings only its judgement and its writes ([`BatchJob::write_batch`]);
//! the queue, the idempotency rules, the commit, the flush, the read model's update and
//! the answers are this module's, the same for all.
//!
//! The flush is pipelined: the writer commits a batch without waiting for the disk,
//! hands it to a flusher and goes on with the next batch while the flusher waits for
//! the disk, then answers. One flush covers every batch committed before it. On SQLite
//! the flusher is a thread that `fdatasync`s the log of the writer's own connection; on
//! PostgreSQL the writer commits with `synchronous_commit = off` and the flusher makes
//! one synchronous commit of its own, whose flush takes every earlier commit with it. Readers of the store may see a batch in the fraction of a millisecond
//! between its commit and its flush; nobody is told it is done before the flush.

use crate::ErrorCode;
use std::any::{Any, TypeId};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use ganglion_store::{BatchTx, BatchWriter, Committed};
use tokio::sync::{mpsc, oneshot, watch};

use super::model::ItemChange;
use crate::{answer_to_remember, App, AppError, Ctx};

/// The most jobs one commit carries.
const MAX_BATCH: usize = 512;

/// A kind of job the batch writer takes: it judges and writes a run of its jobs inside
/// the batch's transaction.
pub(crate) trait BatchJob: Send + Sync + Sized + 'static {
    type Answer: serde::Serialize + Send + 'static;

    fn ctx(&self) -> &Ctx;

    /// Judges each job against the store as this write sees it — after the jobs before
    /// it, exactly as if it came alone — and writes what is allowed: its rows, its
    /// audit entry (a denial's too) and one change record for all. Returns each job's
    /// answer, in order, and the changes to apply to the read model once committed.
    /// Idempotency keys and stored answers are the writer's business, not the job's.
    fn write_batch<'a, 'w: 'a>(
        app: &'a App,
        tx: &'a mut BatchTx<'w>,
        jobs: &'a [&'a Self],
    ) -> BoxFuture<'a, Result<Written<Self::Answer>, AppError>>;
}

/// What a run of jobs wrote.
pub(crate) struct Written<A> {
    pub answers: Vec<Result<A, AppError>>,
    pub changes: Vec<ItemChange>,
}

/// Gives one job its answer once its batch is durable, or refuses it.
type Delivery = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// A job of some type waiting for the writer.
trait Queued: Send {
    fn group(&self) -> TypeId;
    fn runner(&self) -> Runner;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// The jobs of one type in a batch, with what writes them.
type Group = (TypeId, Runner, Vec<Box<dyn Any + Send>>);

/// Writes a run of jobs of one type; the jobs are `Pending<J>` of that type.
type Runner = for<'a, 'w> fn(
    &'a App,
    &'a mut BatchTx<'w>,
    Vec<Box<dyn Any + Send>>,
) -> BoxFuture<'a, GroupOutcome>;

struct Pending<J: BatchJob> {
    job: J,
    reply: oneshot::Sender<Result<J::Answer, AppError>>,
}

impl<J: BatchJob> Queued for Pending<J> {
    fn group(&self) -> TypeId {
        TypeId::of::<J>()
    }

    fn runner(&self) -> Runner {
        run_group::<J>
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// What a run of one type's jobs came to.
struct GroupOutcome {
    deliveries: Vec<Delivery>,
    changes: Vec<ItemChange>,
    /// Why the run failed; the whole batch is then rolled back.
    failed: Option<String>,
}

fn deliver<A: Send + 'static>(
    reply: oneshot::Sender<Result<A, AppError>>,
    answer: Result<A, AppError>,
) -> Delivery {
    Box::new(move |durable: Result<(), &str>| {
        let answer = match durable {
            Ok(()) => answer,
            Err(cause) => Err(AppError::Internal(format!(
                "the batch of this write could not be made durable: {cause}"
            ))),
        };
        let _ = reply.send(answer);
    })
}

fn run_group<'a, 'w, J: BatchJob>(
    app: &'a App,
    tx: &'a mut BatchTx<'w>,
    queued: Vec<Box<dyn Any + Send>>,
) -> BoxFuture<'a, GroupOutcome> {
    Box::pin(async move {
        let (jobs, replies): (Vec<J>, Vec<_>) = queued
            .into_iter()
            .filter_map(|any| any.downcast::<Pending<J>>().ok())
            .map(|pending| (pending.job, pending.reply))
            .unzip();
        match write_group(app, tx, &jobs).await {
            Ok((answers, changes)) => GroupOutcome {
                deliveries: replies
                    .into_iter()
                    .zip(answers)
                    .map(|(reply, answer)| deliver(reply, answer))
                    .collect(),
                changes,
                failed: None,
            },
            Err(error) => {
                let cause = error.to_string();
                GroupOutcome {
                    deliveries: replies
                        .into_iter()
                        .map(|reply| {
                            let refused = AppError::Internal(format!(
                                "the batch of this write was not committed: {cause}"
                            ));
                            deliver(reply, Err(refused))
                        })
                        .collect(),
                    changes: Vec::new(),
                    failed: Some(cause),
                }
            }
        }
    })
}

/// Writes a run of one type's jobs: turns away reused idempotency keys, lets the job
/// type judge and write the rest, and stores the answers of those sent with a key.
#[allow(clippy::type_complexity)]
async fn write_group<J: BatchJob>(
    app: &App,
    tx: &mut BatchTx<'_>,
    jobs: &[J],
) -> Result<(Vec<Result<J::Answer, AppError>>, Vec<ItemChange>), AppError> {
    let fresh = first_uses_of_keys(tx, jobs.iter().map(BatchJob::ctx)).await?;
    let (admitted, turned_away): (Vec<usize>, Vec<usize>) =
        (0..jobs.len()).partition(|index| fresh[*index]);
    let admitted_jobs: Vec<&J> = admitted.iter().map(|index| &jobs[*index]).collect();
    let written = J::write_batch(app, tx, &admitted_jobs).await?;
    let mut answers: Vec<Option<Result<J::Answer, AppError>>> =
        (0..jobs.len()).map(|_| None).collect();
    for index in turned_away {
        // Already answered, or under way in this very batch: the caller replays the
        // stored answer once this write has committed.
        answers[index] = Some(Err(AppError::Conflict {
            code: ErrorCode::IdempotencyKeyInUse,
            message: "a request with this Idempotency-Key is under way".into(),
        }));
    }
    for (index, answer) in admitted.into_iter().zip(written.answers) {
        if let Ok(value) = &answer {
            if let Some((key, response)) = answer_to_remember(jobs[index].ctx(), value)? {
                tx.save_idempotent_response(key, &response).await?;
            }
        }
        answers[index] = Some(answer);
    }
    let answers = answers
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| Err(AppError::Internal("a job went unanswered".into())))
        })
        .collect();
    Ok((answers, written.changes))
}

/// A written batch's answers, to be given once it is durable.
struct Answers {
    /// The commit to flush first; none when nothing was committed.
    committed: Option<Committed>,
    deliveries: Vec<Delivery>,
}

impl Answers {
    fn none() -> Self {
        Self {
            committed: None,
            deliveries: Vec::new(),
        }
    }

    fn give(self) {
        for delivery in self.deliveries {
            delivery(Ok(()));
        }
    }

    fn refuse(self, cause: &str) {
        for delivery in self.deliveries {
            delivery(Err(cause));
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

/// The queue in front of the writer, which starts with the first job.
#[derive(Default)]
pub(crate) struct Batcher {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    sender: Option<mpsc::UnboundedSender<Box<dyn Queued>>>,
    /// The writer's own thread, on SQLite.
    thread: Option<std::thread::JoinHandle<()>>,
    /// How far its batches are flushed, on SQLite.
    durability: Option<Arc<Durability>>,
    closed: bool,
}

impl Batcher {
    fn sender(&self, app: &App) -> Result<mpsc::UnboundedSender<Box<dyn Queued>>, AppError> {
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
            batcher: Arc::default(),
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
            let durability = Arc::new(Durability::new());
            tokio::spawn(write_pooled(
                writer_app,
                batch_writer,
                receiver,
                durability.clone(),
            ));
            queue.durability = Some(durability);
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
    mut receiver: mpsc::UnboundedReceiver<Box<dyn Queued>>,
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
                Answers::refuse_queued(vec![job], &cause);
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
            Answers::refuse_queued(jobs, &stopped_after_failed_flush().to_string());
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

/// The writer on PostgreSQL: a task like any other, on pooled transactions. Its
/// commits do not wait for the disk; a flusher task makes them durable with one
/// synchronous commit of its own for all that wait (see `Store::vouch_for_earlier_commits`),
/// then answers them, while the writer already writes the next batch — as the SQLite
/// writer's flusher does, with PostgreSQL's own flush.
async fn write_pooled(
    app: App,
    mut batch_writer: BatchWriter,
    mut receiver: mpsc::UnboundedReceiver<Box<dyn Queued>>,
    durability: Arc<Durability>,
) {
    let (to_flusher, written) = mpsc::unbounded_channel::<(u64, Answers)>();
    let flusher = tokio::spawn(vouch_and_answer(
        app.store.clone(),
        written,
        durability.clone(),
    ));
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut jobs);
        if durability.failed() {
            Answers::refuse_queued(jobs, &stopped_after_failed_flush().to_string());
            continue;
        }
        let number = durability.started.fetch_add(1, Ordering::SeqCst) + 1;
        let answers = app.commit_batch(&mut batch_writer, jobs).await;
        if to_flusher.send((number, answers)).is_err() {
            break;
        }
    }
    drop(to_flusher);
    let _ = flusher.await;
}

/// The flusher on PostgreSQL: one vouching commit for every batch committed before it,
/// then their answers, oldest first. A failed one refuses its batches and every later
/// one, as a failed flush does on SQLite.
async fn vouch_and_answer(
    store: ganglion_store::Store,
    mut written: mpsc::UnboundedReceiver<(u64, Answers)>,
    durability: Arc<Durability>,
) {
    while let Some(first) = written.recv().await {
        let mut ready = vec![first];
        while let Ok(next) = written.try_recv() {
            ready.push(next);
        }
        let needs_vouching = ready.iter().any(|(_, answers)| {
            answers
                .committed
                .as_ref()
                .is_some_and(Committed::needs_vouching)
        });
        let vouched = if durability.failed() {
            Err("an earlier flush failed".to_owned())
        } else if needs_vouching {
            store
                .vouch_for_earlier_commits()
                .await
                .map_err(|error| error.to_string())
        } else {
            Ok(())
        };
        let newest = ready.last().map_or(0, |(number, _)| *number);
        match vouched {
            Ok(()) => {
                for (_, answers) in ready {
                    answers.give();
                }
            }
            Err(cause) => {
                durability.failed.store(true, Ordering::SeqCst);
                tracing::error!(%cause, "committed batches could not be made durable");
                for (_, answers) in ready {
                    answers.refuse(&cause);
                }
            }
        }
        durability.flushed.send_replace(newest);
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

impl Answers {
    /// Refuses jobs that were never written. A job's reply is inside it: dropping the
    /// job tells its caller it was lost.
    fn refuse_queued(jobs: Vec<Box<dyn Queued>>, cause: &str) {
        tracing::warn!(%cause, refused = jobs.len(), "jobs refused before they were written");
        drop(jobs);
    }
}

impl App {
    /// Hands a job to the writer and waits for its durable answer.
    pub(crate) async fn submit<J: BatchJob>(&self, job: J) -> Result<J::Answer, AppError> {
        let (reply, answer) = oneshot::channel();
        self.batcher
            .sender(self)?
            .send(Box::new(Pending { job, reply }))
            .map_err(|_| AppError::Internal("the batch writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Internal("the batch writer dropped a request".into()))?
    }

    /// Writes many jobs of one type in one transaction on a pooled connection, each
    /// judged and recorded as if it came alone, and waits until it is durable: for
    /// bulk work of the app's own (the demo's progress), beside the writer.
    pub(crate) async fn write_now<J: BatchJob>(
        &self,
        jobs: Vec<J>,
    ) -> Result<Vec<Result<J::Answer, AppError>>, AppError> {
        let mut tx = self.store.write_batch().await?;
        let (answers, changes) = write_group(self, &mut tx, &jobs).await?;
        let committed = tx.commit().await?;
        self.apply_changes(&changes);
        durable(Some(committed)).await?;
        Ok(answers)
    }

    /// Writes a batch in one transaction and brings the read model up to it; returns the
    /// answers, to be given once the commit is durable.
    async fn commit_batch(&self, writer: &mut BatchWriter, jobs: Vec<Box<dyn Queued>>) -> Answers {
        // Runs of one type, in the order their first job came.
        let mut groups: Vec<Group> = Vec::new();
        for job in jobs {
            let group = job.group();
            match groups.iter_mut().find(|(id, _, _)| *id == group) {
                Some((_, _, members)) => members.push(job.into_any()),
                None => {
                    let runner = job.runner();
                    groups.push((group, runner, vec![job.into_any()]));
                }
            }
        }
        let mut tx = match writer.begin().await {
            Ok(tx) => tx,
            Err(error) => {
                // The jobs are dropped unwritten: each caller hears its job was lost.
                tracing::error!(%error, "could not begin a batch");
                return Answers::none();
            }
        };
        let mut deliveries = Vec::new();
        let mut changes = Vec::new();
        let mut failed = None;
        for (_, runner, members) in groups {
            let outcome = runner(self, &mut tx, members).await;
            deliveries.extend(outcome.deliveries);
            changes.extend(outcome.changes);
            if failed.is_none() {
                failed = outcome.failed;
            }
        }
        if let Some(cause) = failed {
            drop(tx);
            let answers = Answers {
                committed: None,
                deliveries,
            };
            answers.refuse(&format!("not committed: {cause}"));
            return Answers::none();
        }
        match tx.commit().await {
            Ok(committed) => {
                // Applied at once, in the order of the commits: the pool's writes apply
                // theirs as they commit, and the two must not cross.
                self.apply_changes(&changes);
                Answers {
                    committed: Some(committed),
                    deliveries,
                }
            }
            Err(error) => {
                let answers = Answers {
                    committed: None,
                    deliveries,
                };
                answers.refuse(&format!("not committed: {error}"));
                Answers::none()
            }
        }
    }
}

/// For each job, whether its idempotency key (if any) is used here for the first time:
/// not stored by an earlier write, and not carried by an earlier job of this batch.
/// Under the write lock no other write can store one meanwhile.
async fn first_uses_of_keys<'c>(
    tx: &mut BatchTx<'_>,
    contexts: impl Iterator<Item = &'c Ctx> + Clone,
) -> Result<Vec<bool>, AppError> {
    let keys: Vec<&str> = contexts
        .clone()
        .filter_map(|ctx| ctx.idempotency.as_ref())
        .map(|idempotency| idempotency.key.as_str())
        .collect();
    let used: HashSet<String> = if keys.is_empty() {
        HashSet::new()
    } else {
        tx.used_idempotency_keys(&keys).await?.into_iter().collect()
    };
    let mut seen = HashSet::new();
    Ok(contexts
        .map(|ctx| match &ctx.idempotency {
            Some(idempotency) => {
                !used.contains(&idempotency.key) && seen.insert(idempotency.key.clone())
            }
            None => true,
        })
        .collect())
}
