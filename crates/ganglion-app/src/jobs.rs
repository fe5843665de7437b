//! The home of background work: one supervisor, started by the server, runs every job
//! at its interval — the change-feed follower, the eviction of idle sources from the
//! read model, the audit log's checkpointer, and what comes next (escalation of
//! requests, reminders).
//!
//! A job that panics is restarted after a pause that doubles up to a minute. A job
//! marked [`Scope::Cluster`] runs on at most one server at a time among all sharing a
//! PostgreSQL database (a session advisory lock held while it runs). Stopping waits for
//! the jobs under way for up to five seconds, then abandons them: a job is written so
//! that abandoning it half-way loses nothing (each of its writes is its own
//! transaction).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{App, AppError};

/// Where a job runs when several servers share one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// On every server: it keeps that server's memory.
    EachServer,
    /// On one server at a time: it writes what every server shares.
    Cluster,
}

type JobRun =
    Arc<dyn Fn(App) -> Pin<Box<dyn Future<Output = Result<(), AppError>> + Send>> + Send + Sync>;

/// A job: what it is called, how often it runs, where, and what it does.
#[derive(Clone)]
pub struct Job {
    pub name: &'static str,
    pub every: Duration,
    pub scope: Scope,
    run: JobRun,
}

impl Job {
    pub fn new<F, Fut>(name: &'static str, every: Duration, scope: Scope, run: F) -> Self
    where
        F: Fn(App) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), AppError>> + Send + 'static,
    {
        Self {
            name,
            every,
            scope,
            run: Arc::new(move |app| Box::pin(run(app))),
        }
    }
}

/// How long stopping waits for the jobs under way.
pub const STOP_WITHIN: Duration = Duration::from_secs(5);
/// The longest pause before a job that panicked runs again.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The jobs of a server, running until stopped.
pub struct Supervisor {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Supervisor {
    /// Starts `jobs`, each on a task of its own.
    pub fn start(app: &App, jobs: Vec<Job>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let tasks = jobs
            .into_iter()
            .map(|job| tokio::spawn(supervise(app.clone(), job, stopped.clone())))
            .collect();
        Self { stop, tasks }
    }

    /// Stops every job: those under way get [`STOP_WITHIN`] to finish, then are
    /// abandoned.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + STOP_WITHIN;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

async fn supervise(app: App, job: Job, mut stopped: watch::Receiver<bool>) {
    let mut backoff = job.every;
    let mut pause = job.every;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        let lock = match job.scope {
            Scope::EachServer => None,
            Scope::Cluster => match app.store.try_cluster_lock(job.name).await {
                Ok(Some(lock)) => Some(lock),
                // Another server runs it now.
                Ok(None) => {
                    pause = job.every;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(job = job.name, %error, "could not take the job's lock");
                    pause = job.every;
                    continue;
                }
            },
        };
        let run = (job.run)(app.clone());
        let outcome = tokio::spawn(run);
        let mut outcome = std::pin::pin!(outcome);
        let result = tokio::select! {
            result = &mut outcome => result,
            _ = stopped.changed() => {
                // Let the run finish within the supervisor's grace; abandoned if not.
                let _ = tokio::time::timeout(STOP_WITHIN, &mut outcome).await;
                drop(lock);
                return;
            }
        };
        drop(lock);
        match result {
            Ok(Ok(())) => {
                backoff = job.every;
                pause = job.every;
            }
            Ok(Err(error)) => {
                tracing::warn!(job = job.name, %error, "a job failed; it runs again at its next turn");
                pause = job.every;
            }
            Err(panicked) if panicked.is_panic() => {
                backoff = (backoff * 2).clamp(job.every, MAX_BACKOFF);
                tracing::error!(job = job.name, pause = ?backoff, "a job panicked; it is restarted after a pause");
                pause = backoff;
            }
            Err(_) => return,
        }
    }
}

/// How often a server reads the change feed for the other servers' writes.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(200);
/// How often sources are looked at for leaving memory.
const EVICT_EVERY: Duration = Duration::from_secs(600);
/// A source without a move for this long leaves memory.
pub const IDLE_FOR: time::Duration = time::Duration::days(30);

impl App {
    /// The jobs every server runs (the checkpointer where it has the audit key).
    pub fn standard_jobs(&self) -> Vec<Job> {
        let mut jobs = self.cache_jobs();
        if self.audit_signer().is_some() {
            // One server of several signs; the others serve what it stored.
            jobs.push(Job::new(
                "audit-checkpoints",
                crate::features::audit_log::CHECKPOINTER_EVERY,
                Scope::Cluster,
                |app: App| async move {
                    app.audit_log()
                        .run_checkpointer(&crate::Ctx::operator())
                        .await
                        .map(|_| ())
                },
            ));
        }
        jobs
    }

    /// The jobs that keep this server's memory.
    fn cache_jobs(&self) -> Vec<Job> {
        vec![
            Job::new(
                "follow-changes",
                FOLLOW_EVERY,
                Scope::EachServer,
                |app: App| async move { app.follow_changes().await.map(|_| ()) },
            ),
            Job::new(
                "evict-idle-sources",
                EVICT_EVERY,
                Scope::EachServer,
                |app: App| async move {
                    app.evict_idle_sources();
                    Ok(())
                },
            ),
        ]
    }

    /// Starts the standard jobs under a supervisor.
    pub fn start_jobs(&self) -> Supervisor {
        Supervisor::start(self, self.standard_jobs())
    }

    /// Lets sources closed, or idle for [`IDLE_FOR`], leave memory; returns how many.
    pub fn evict_idle_sources(&self) -> usize {
        let idle_since = (self.now() - IDLE_FOR).unix_timestamp();
        let mut model = self.model_mut();
        let keys = model.evictable(idle_since);
        for key in &keys {
            model.evict(key);
        }
        keys.len()
    }
}
