//! The OpenAPI document tells the truth: schemathesis, from PyPI, generates requests for
//! every operation the document lists — valid ones, and invalid ones of every kind — and
//! sends them to the real `ganglion serve --demo`, with an administrator's token and
//! with a county official's, and checks each answer: never a 5xx
//! (`not_a_server_error`), only statuses the operation documents
//! (`status_code_conformance`), the documented content type
//! (`content_type_conformance`), and bodies matching their schema
//! (`response_schema_conformance`). Any failure fails the test, with schemathesis's own
//! report of it and the command to repeat it.
//!
//! A fixed seed and at most 25 examples per operation keep a run repeatable and within
//! its four minutes. Signing out (`DELETE /api/v1/sessions/current`) would end the
//! token the other operations are tried with, so it is tried last, alone.
//!
//! schemathesis runs from the virtual environment `scripts/schemathesis-venv` makes
//! (`target/schemathesis-venv`, a pinned version); this test makes it when missing, and
//! is skipped, saying so, only where there is no Python.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ganglion_testkit::{TestBackend, TestDatabase};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ADMIN_PASSWORD: &str = "admin-password-for-schemathesis";
/// The whole run, both roles, stays within this.
const BUDGET: Duration = Duration::from_secs(240);
const SEED: &str = "16";
const MAX_EXAMPLES: &str = "25";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
/// Units in the demo organization served: enough for every kind of unit and record.
const DEMO_UNITS: &str = "2000";
/// The operation tried last, alone: it revokes the token it is sent with.
const SIGN_OUT: &str = "/api/v1/sessions/current";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python_is_missing() -> bool {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    std::process::Command::new(python)
        .arg("--version")
        .output()
        .map(|output| !output.status.success())
        .unwrap_or(true)
}

/// The `schemathesis` command of the test's virtual environment, made if missing.
fn schemathesis() -> PathBuf {
    let output = std::process::Command::new(workspace().join("scripts/schemathesis-venv"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/schemathesis-venv runs");
    assert!(
        output.status.success(),
        "scripts/schemathesis-venv could not make the virtual environment (above)"
    );
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .expect("the path of schemathesis")
        .trim()
        .to_owned();
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        workspace().join(path)
    }
}

/// `ganglion serve --demo` on a fresh database and a port of its own; its address once
/// it serves.
async fn serve_demo(database: &TestDatabase) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ganglion"))
        .args([
            "serve",
            "--demo",
            "--units",
            DEMO_UNITS,
            "--db",
            &database.url,
            "--listen",
            "127.0.0.1:0",
            // Thousands of requests a minute from one client and two accounts: the
            // limits are set far above them, explicitly.
            "--rate-limit",
            "100000/100000",
        ])
        .env_remove("GANGLION_DATABASE_URL")
        .env("GANGLION_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("GANGLION_LOG", "warn,sqlx=error,tower_http=error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("ganglion serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("its output")).lines();
    let address = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("its output reads") {
            if let Some(rest) = line.strip_prefix("Ganglion is serving at http://") {
                return rest.split('/').next().unwrap_or_default().to_owned();
            }
        }
        panic!("the server stopped before serving");
    })
    .await
    .expect("the demo is served within two minutes");
    // The rest of what it prints is not needed, but must be read for it not to block.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, address)
}

async fn sign_in(base: &str, login: &str, password: &str) -> String {
    let answer = reqwest::Client::new()
        .post(format!("{base}/api/v1/sessions"))
        .json(&serde_json::json!({"login": login, "password": password}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::CREATED,
        "sign in {login}"
    );
    let body: serde_json::Value = answer.json().await.expect("a session");
    body["token"].as_str().expect("a token").to_owned()
}

/// What one schemathesis run reported.
struct Run {
    passed: bool,
    output: String,
}

impl Run {
    /// The number of test cases (requests) it generated and sent: the line after
    /// "Test cases:" in schemathesis's summary, "3035 generated, 3035 passed".
    fn test_cases(&self) -> u64 {
        let mut lines = self.output.lines();
        lines
            .by_ref()
            .find(|line| line.trim() == "Test cases:")
            .and_then(|_| lines.next())
            .and_then(|line| line.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

async fn run_schemathesis(
    command: &Path,
    base: &str,
    token: &str,
    filter: &[&str],
    report: &Path,
    time_left: Duration,
) -> Run {
    let mut child = Command::new(command)
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        // One worker: Python 3.11's parser is not safe to call from several threads,
        // and hypothesis calls it while generating (a SystemError, now and then).
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "30"])
        .arg("--continue-on-failure")
        .args(["--report", "junit"])
        .arg("--report-dir")
        .arg(report)
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(filter)
        .arg("--no-color")
        .current_dir(report)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "120")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("schemathesis starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let read_all = async {
        use tokio::io::AsyncReadExt;
        let mut out = String::new();
        let mut err = String::new();
        let (_, _) = tokio::join!(
            stdout.read_to_string(&mut out),
            stderr.read_to_string(&mut err)
        );
        out + &err
    };
    let finished = tokio::time::timeout(time_left, async {
        let output = read_all.await;
        let status = child.wait().await.expect("schemathesis ends");
        (status, output)
    })
    .await;
    match finished {
        Ok((status, output)) => Run {
            passed: status.success(),
            output,
        },
        Err(_) => panic!(
            "schemathesis did not finish within the four minutes of its budget ({} s left for this run)",
            time_left.as_secs()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_does_what_its_openapi_document_says() {
    if python_is_missing() {
        eprintln!(
            "SKIPPED: the schemathesis test needs Python 3 (python3, or PYTHON), which this machine lacks"
        );
        return;
    }
    let command = schemathesis();
    let started = Instant::now();
    let database = TestDatabase::new(TestBackend::Sqlite);
    let (mut server, address) = serve_demo(&database).await;
    let base = format!("http://{address}");
    println!(
        "schemathesis: the demo organization ({DEMO_UNITS} units) is served at {base} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let report = tempfile::tempdir().expect("a folder for the reports");
    let budget_started = Instant::now();
    let mut failures = Vec::new();
    let mut test_cases = 0;
    for (role, login, password) in [
        ("administrator", "admin", ADMIN_PASSWORD),
        (
            "county official",
            "k001-official",
            ganglion_app::DEMO_PASSWORD,
        ),
    ] {
        for (part, filter) in [
            (
                "every operation but signing out",
                ["--exclude-path", SIGN_OUT],
            ),
            ("signing out", ["--include-path", SIGN_OUT]),
        ] {
            // A fresh token for each part: signing out revokes the one it is sent with.
            let token = sign_in(&base, login, password).await;
            let time_left = BUDGET.saturating_sub(budget_started.elapsed());
            let run =
                run_schemathesis(&command, &base, &token, &filter, report.path(), time_left).await;
            test_cases += run.test_cases();
            println!(
                "schemathesis as the {role}, {part}: {} test cases, {} ({:.0} s into the run)",
                run.test_cases(),
                if run.passed {
                    "no failures"
                } else {
                    "FAILURES"
                },
                budget_started.elapsed().as_secs_f64()
            );
            if !run.passed {
                println!("{}", run.output);
                failures.push(format!("as the {role}, {part}"));
            }
        }
    }
    println!("schemathesis: {test_cases} test cases in all, seed {SEED}, at most {MAX_EXAMPLES} examples an operation");
    let _ = server.kill().await;
    assert!(
        failures.is_empty(),
        "schemathesis found the server and its document disagree ({}); its report is above",
        failures.join("; ")
    );
}
