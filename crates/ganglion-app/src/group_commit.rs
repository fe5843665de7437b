//! Group commit for assignment transitions. Reports arrive by the thousand; each must be
//! durable before it is answered, and a durable commit costs a disk flush. So one writer
//! takes every transition waiting at that moment, applies each (checked and audited on
//! its own, exactly as if it came alone), commits them with one flush, and only then
//! answers each. Nothing is acknowledged before its commit; syncing is not weakened.

use std::collections::HashSet;
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use crate::directives::{CheckedTransition, GuidanceView};
use crate::{App, AppError, AssignmentView, Ctx};

/// The most transitions one commit carries.
const MAX_BATCH: usize = 512;

/// A transition waiting for the writer.
pub(crate) struct Job {
    pub ctx: Ctx,
    pub checked: CheckedTransition,
    pub guidance: Vec<GuidanceView>,
    pub reply: oneshot::Sender<Result<AssignmentView, AppError>>,
}

/// The queue in front of the writer, which starts with the first transition.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl GroupCommit {
    fn sender(&self, app: &App) -> mpsc::UnboundedSender<Job> {
        self.queue
            .get_or_init(|| {
                let (sender, receiver) = mpsc::unbounded_channel();
                // The writer lives as long as the runtime that started it; once the app
                // is closed, its writes fail and each waiting caller is told so.
                tokio::spawn(writer(app.clone(), receiver));
                sender
            })
            .clone()
    }
}

async fn writer(app: App, mut receiver: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        app.commit_batch(batch).await;
    }
}

impl App {
    /// Hands a checked transition to the writer and waits for its durable answer.
    pub(crate) async fn submit_transition(
        &self,
        ctx: &Ctx,
        checked: CheckedTransition,
        guidance: Vec<GuidanceView>,
    ) -> Result<AssignmentView, AppError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            ctx: ctx.clone(),
            checked,
            guidance,
            reply,
        };
        self.group_commit
            .sender(self)
            .send(job)
            .map_err(|_| AppError::Internal("the transition writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Internal("the transition writer dropped a request".into()))?
    }

    /// Applies a batch in one transaction and answers each job after the commit.
    async fn commit_batch(&self, batch: Vec<Job>) {
        let mut tx = match self.store.write().await {
            Ok(tx) => tx,
            Err(error) => {
                for job in batch {
                    let _ = job.reply.send(Err(AppError::Internal(format!(
                        "could not begin a write: {error}"
                    ))));
                }
                return;
            }
        };
        let mut acts = Vec::new();
        let mut done = Vec::new();
        let mut keys = HashSet::new();
        let mut failed: Option<String> = None;
        for job in batch {
            // Two first uses of one idempotency key in one batch: the second waits for
            // the first's stored answer (the caller replays it after this commit).
            if let Some(idempotency) = &job.ctx.idempotency {
                if !keys.insert(idempotency.key.clone()) {
                    let _ = job.reply.send(Err(AppError::Conflict {
                        code: "idempotency_key_in_use",
                        message: "a request with this Idempotency-Key is under way".into(),
                    }));
                    continue;
                }
            }
            match self.apply_transition(&mut tx, &job.ctx, &job.checked).await {
                Ok(applied) => {
                    let view = match tx.assignment_events(applied.moved.id).await {
                        Ok(history) => self.compose_view(
                            &job.ctx,
                            applied.moved.clone(),
                            job.checked.directive.clone(),
                            job.guidance,
                            history,
                        ),
                        Err(error) => {
                            failed = Some(error.to_string());
                            let _ = job.reply.send(Err(AppError::Store(error)));
                            break;
                        }
                    };
                    acts.push(crate::BatchAct {
                        ctx: job.ctx,
                        audit: applied.audit,
                        response: serde_json::to_string(&view).ok(),
                    });
                    done.push((applied.moved, view, job.reply));
                }
                Err(error @ (AppError::Store(_) | AppError::Internal(_))) => {
                    failed = Some(error.to_string());
                    let _ = job.reply.send(Err(error));
                    break;
                }
                Err(refused) => {
                    let _ = job.reply.send(Err(refused));
                }
            }
        }
        let committed = match failed {
            Some(cause) => Err(cause),
            None => self
                .finish_batch(tx, acts)
                .await
                .map_err(|error| error.to_string()),
        };
        for (moved, view, reply) in done {
            match &committed {
                Ok(()) => {
                    self.apply_assignment(
                        moved.directive,
                        moved.unit,
                        moved.state,
                        moved.metric_value,
                    );
                    let _ = reply.send(Ok(view));
                }
                Err(cause) => {
                    let _ = reply.send(Err(AppError::Internal(format!(
                        "the batch of this transition was not committed: {cause}"
                    ))));
                }
            }
        }
    }
}
