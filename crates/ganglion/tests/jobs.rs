//! The home of background jobs: a job marked for the cluster runs on one server at a
//! time among all sharing a database, a job that panics is restarted after a pause, and
//! stopping ends every job within five seconds, even one that does not finish.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ganglion_app::jobs::{Job, Scope, Supervisor, STOP_WITHIN};
use ganglion_app::App;
use ganglion_testkit::{TestBackend, TestDatabase};

/// Counts runs, and the most that were ever under way at once; `finished` announces
/// each finished run, so that the test waits for runs rather than for time.
struct Runs {
    now: AtomicUsize,
    most: AtomicUsize,
    finished: tokio::sync::watch::Sender<usize>,
}

impl Default for Runs {
    fn default() -> Self {
        Self {
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            finished: tokio::sync::watch::channel(0).0,
        }
    }
}

/// Generous, for a loaded machine: the waits below end as soon as what they wait for
/// has happened.
const AT_MOST: Duration = Duration::from_secs(60);

fn counting_job(runs: Arc<Runs>) -> Job {
    Job::new(
        "count",
        Duration::from_millis(10),
        Scope::Cluster,
        move |_app: App| {
            let runs = runs.clone();
            async move {
                let under_way = runs.now.fetch_add(1, Ordering::SeqCst) + 1;
                runs.most.fetch_max(under_way, Ordering::SeqCst);
                // A run that takes a while, so that two at once would overlap.
                tokio::time::sleep(Duration::from_millis(30)).await;
                runs.now.fetch_sub(1, Ordering::SeqCst);
                runs.finished.send_modify(|finished| *finished += 1);
                Ok(())
            }
        },
    )
}

async fn cluster_job_runs_once_at_a_time(backend: TestBackend) {
    let database = TestDatabase::new(backend);
    let first = App::init(&database.url, "party").await.unwrap();
    let second = App::open(&database.url).await.unwrap();
    let runs = Arc::new(Runs::default());
    // Two servers of one database, each with two supervisors running the same job.
    let supervisors: Vec<Supervisor> = [&first, &second, &first, &second]
        .into_iter()
        .map(|app| Supervisor::start(app, vec![counting_job(runs.clone())]))
        .collect();
    let mut finished = runs.finished.subscribe();
    tokio::time::timeout(AT_MOST, finished.wait_for(|runs| *runs >= 5))
        .await
        .expect("the job ran five times")
        .unwrap();
    for supervisor in supervisors {
        supervisor.stop().await;
    }
    assert_eq!(
        runs.most.load(Ordering::SeqCst),
        1,
        "{backend:?}: never two runs of a cluster job at once"
    );
    first.close().await;
    second.close().await;
}

async fn a_panicking_job_is_restarted_and_stop_is_bounded(backend: TestBackend) {
    let database = TestDatabase::new(backend);
    let app = App::init(&database.url, "party").await.unwrap();
    let attempts = Arc::new(tokio::sync::watch::channel(0usize).0);
    let panicking = {
        let attempts = attempts.clone();
        Job::new(
            "panics",
            Duration::from_millis(5),
            Scope::EachServer,
            move |_app: App| {
                let attempts = attempts.clone();
                async move {
                    let mut attempt = 0;
                    attempts.send_modify(|attempts| {
                        attempt = *attempts;
                        *attempts += 1;
                    });
                    if attempt < 3 {
                        panic!("a bug in a job");
                    }
                    Ok(())
                }
            },
        )
    };
    // A job that never finishes: stopping must not wait for it.
    let stuck = Job::new(
        "stuck",
        Duration::from_millis(5),
        Scope::EachServer,
        |_app: App| async {
            std::future::pending::<()>().await;
            Ok(())
        },
    );
    let supervisor = Supervisor::start(&app, vec![panicking, stuck]);
    // Pauses after panics double from 5 ms: 10 + 20 + 40 ms before the fourth run.
    let mut ran = attempts.subscribe();
    tokio::time::timeout(AT_MOST, ran.wait_for(|attempts| *attempts >= 5))
        .await
        .expect("the job was restarted after panicking and ran on")
        .unwrap();
    // Stopping gives up on the stuck job after its grace: were it waited for, this
    // would never return, and the timeout (far beyond the grace) would fail the test.
    tokio::time::timeout(STOP_WITHIN * 6, supervisor.stop())
        .await
        .expect("stopping ends every job, even one that never finishes");
    app.close().await;
}

ganglion_testkit::per_backend!(
    cluster_job_runs_once_at_a_time,
    a_panicking_job_is_restarted_and_stop_is_bounded,
);
