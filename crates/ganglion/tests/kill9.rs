//! Nothing acknowledged is ever lost (SPEC.md §5): the real `ganglion` binary serves a
//! database while many clients write — assignment transitions through the batch writer,
//! new units, people and notes — and is killed with SIGKILL at random moments, about ten
//! times, restarted each time on the same address. Afterwards every write that was
//! answered 2xx must be there, `ganglion check` must find the database sound and
//! `ganglion audit verify` the chain intact. A write in flight at a kill may or may not
//! have happened; only the acknowledged ones are owed.
//!
//! The figures (kills, acknowledged writes, lost) are printed; run with `--nocapture`
//! (nextest shows them for a failing test) to see them. `KILL9_SEED` repeats a run.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ganglion_testkit::{TestBackend, TestDatabase};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "admin-password-for-kill9";
const PASSWORD: &str = "a-long-enough-password";
const KILLS: usize = 10;
/// The whole run of one backend stays under this; the kills are spread over it.
const BUDGET: Duration = Duration::from_secs(90);
/// Primary committees, each worked by one official client making transitions.
const PRIMARIES: usize = 8;
/// Directives conveyed to every primary committee: each client's assignments.
const DIRECTIVES: usize = 4;
/// Clients creating units, people and notes.
const CREATORS: usize = 6;

ganglion_testkit::per_backend!(acknowledged_writes_survive_kill_9);

fn ganglion() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ganglion"));
    command
        .env_remove("GANGLION_DATABASE_URL")
        .env("GANGLION_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("GANGLION_LOG", "warn,sqlx=error");
    command
}

/// Runs a command of the binary to its end; its output if it succeeded.
fn run(args: &[&str]) -> Result<String, String> {
    let output = ganglion().args(args).output().expect("ganglion runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// A free port on the loopback address; the server is started on it again and again.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

struct Server {
    url: String,
    listen: String,
    child: Option<Child>,
}

impl Server {
    /// Starts `ganglion serve` and waits until it answers.
    async fn start(url: &str, port: u16, http: &reqwest::Client) -> Self {
        let listen = format!("127.0.0.1:{port}");
        let mut server = Self {
            url: url.to_owned(),
            listen,
            child: None,
        };
        server.restart(http).await;
        server
    }

    fn base(&self) -> String {
        format!("http://{}", self.listen)
    }

    async fn restart(&mut self, http: &reqwest::Client) {
        assert!(self.child.is_none(), "the server is already running");
        let child = ganglion()
            .args([
                "serve",
                "--db",
                &self.url,
                "--listen",
                &self.listen,
                "--rate-limit",
                "off",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ganglion serve starts");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the server exited on its own at start: {status}");
            }
            let answer = http
                .get(format!("{}/healthz", self.base()))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return;
            }
            // Generous: on a machine whose disk is busy, recovery and start take long.
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the server did not answer within two minutes of starting"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    fn kill(&mut self) {
        let mut child = self.child.take().expect("a running server");
        child.kill().expect("SIGKILL is delivered");
        child.wait().expect("the killed server is reaped");
    }

    /// Stops the server as an operator would (SIGTERM), and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A client of the API with one token.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// Sends a request; `None` when no answer came (the server was down or died).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Option<(StatusCode, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.ok()?;
        let status = response.status();
        let text = response.text().await.ok()?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Some((status, json))
    }

    async fn post(&self, path: &str, body: &Value) -> Option<(StatusCode, Value)> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Option<(StatusCode, Value)> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// A read that must succeed (the server is up): retried while no answer comes.
    async fn must_get(&self, path: &str) -> (StatusCode, Value) {
        // Generous, as for the start: the answer ends the wait, not the time.
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(answer) = self.get(path).await {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no answer to GET {path} within two minutes");
    }

    /// A setup write that must be created.
    async fn create(&self, path: &str, body: &Value) -> Value {
        let (status, json) = self.post(path, body).await.expect("the server answers");
        assert!(status.is_success(), "POST {path}: {status} {json}");
        json
    }
}

async fn sign_in(http: &reqwest::Client, base: &str, login: &str, password: &str) -> Client {
    let answer = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(answer.status(), StatusCode::CREATED);
    let body: Value = answer.json().await.expect("a session");
    Client {
        http: http.clone(),
        base: base.to_owned(),
        token: body["token"].as_str().expect("a token").to_owned(),
    }
}

/// What the clients were told was done: checked once the last restart is up.
#[derive(Default)]
struct Acknowledged {
    /// (unit id, code)
    units: Vec<(String, String)>,
    /// (person id, name)
    people: Vec<(String, String)>,
    /// (note id, text)
    notes: Vec<(String, String)>,
    /// assignment id → the notes of the transitions it was told were made.
    transitions: HashMap<String, Vec<(String, String)>>,
}

impl Acknowledged {
    fn count(&self) -> usize {
        self.units.len()
            + self.people.len()
            + self.notes.len()
            + self.transitions.values().map(Vec::len).sum::<usize>()
    }
}

/// The organization the clients write into: a centre, two provinces, a county under each,
/// four primary committees under each county.
const ORGANIZATION: &str = "code,parent_code,kind,name,tags
C,,centre,Central Committee,
P1,C,province,North Province,
P2,C,province,South Province,
K1,P1,city_county,North County,
K2,P2,city_county,South County,
F1,K1,primary,Works 1,
F2,K1,primary,Works 2,
F3,K1,primary,Works 3,
F4,K1,primary,Works 4,
F5,K2,primary,Works 5,
F6,K2,primary,Works 6,
F7,K2,primary,Works 7,
F8,K2,primary,Works 8,
";

/// The next state of an assignment in the loop the clients drive it around:
/// conveyed → acknowledged → planned → in_progress, then blocked and back, for ever.
fn next_state(state: &str) -> &'static str {
    match state {
        "conveyed" => "acknowledged",
        "acknowledged" => "planned",
        "planned" => "in_progress",
        "in_progress" => "blocked",
        _ => "in_progress",
    }
}

/// One official working their primary committee's assignments, as fast as answers come.
async fn work_assignments(
    client: Client,
    worker: usize,
    assignments: Vec<String>,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Acknowledged>>,
    attempts: Arc<AtomicU64>,
) {
    // The state each assignment is known to be in; None after an unanswered move.
    let mut known: Vec<Option<String>> = vec![Some("conveyed".into()); assignments.len()];
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for (index, assignment) in assignments.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if known[index].is_none() {
                match client
                    .get(&format!("/api/v1/assignments/{assignment}"))
                    .await
                {
                    Some((StatusCode::OK, view)) => {
                        known[index] = view["state"].as_str().map(str::to_owned)
                    }
                    _ => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
            }
            let to = next_state(known[index].as_deref().unwrap_or("conveyed"));
            sequence += 1;
            let note = format!("kill9 worker {worker} move {sequence}");
            attempts.fetch_add(1, Ordering::Relaxed);
            let answer = client
                .post(
                    &format!("/api/v1/assignments/{assignment}/transition"),
                    &json!({"to": to, "note": note}),
                )
                .await;
            match answer {
                Some((status, _)) if status.is_success() => {
                    known[index] = Some(to.to_owned());
                    acknowledged
                        .lock()
                        .unwrap()
                        .transitions
                        .entry(assignment.clone())
                        .or_default()
                        .push((to.to_owned(), note));
                }
                Some((status, body)) if status.is_client_error() => {
                    panic!("a transition {to} of {assignment} was refused: {status} {body}")
                }
                _ => {
                    known[index] = None;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

/// A client making units, people and notes under its county, one after another.
async fn create_things(
    client: Client,
    creator: usize,
    county: String,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Acknowledged>>,
    attempts: Arc<AtomicU64>,
) {
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let tag = format!("k9-{creator}-{sequence}");
        let (path, body) = match sequence % 3 {
            0 => (
                "/api/v1/units",
                json!({"parent": county, "kind": "primary", "name": format!("Unit {tag}"), "code": tag}),
            ),
            1 => ("/api/v1/people", json!({"name": format!("Person {tag}")})),
            _ => (
                "/api/v1/notes",
                json!({"unit": county, "text": format!("Note {tag}")}),
            ),
        };
        attempts.fetch_add(1, Ordering::Relaxed);
        match client.post(path, &body).await {
            Some((status, created)) if status.is_success() => {
                let id = created["id"].as_str().expect("an id").to_owned();
                let mut acknowledged = acknowledged.lock().unwrap();
                match sequence % 3 {
                    0 => acknowledged.units.push((id, tag)),
                    1 => acknowledged.people.push((id, format!("Person {tag}"))),
                    _ => acknowledged.notes.push((id, format!("Note {tag}"))),
                }
            }
            Some((status, body)) if status.is_client_error() => {
                panic!("POST {path} was refused: {status} {body}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn acknowledged_writes_survive_kill_9(backend: TestBackend) {
    let started = Instant::now();
    let database = TestDatabase::new(backend);
    let seed = std::env::var("KILL9_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        });
    println!(
        "kill9 on {}: seed {seed} (KILL9_SEED repeats it)",
        backend.name()
    );
    let mut rng = SmallRng::seed_from_u64(seed);
    run(&["init", "--db", &database.url]).expect("init");

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let mut server = Server::start(&database.url, free_port(), &http).await;
    let base = server.base();
    let admin = sign_in(&http, &base, "admin", ADMIN_PASSWORD).await;

    // The organization, an official of each primary committee, and directives conveyed
    // to every primary committee.
    let imported = admin
        .http
        .post(format!("{base}/api/v1/import/units"))
        .bearer_auth(&admin.token)
        .header("content-type", "text/csv")
        .body(ORGANIZATION)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
    let (_, listing) = admin.must_get("/api/v1/units?limit=1000").await;
    let ids: HashMap<String, String> = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|unit| {
            (
                unit["code"].as_str().unwrap().to_owned(),
                unit["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for number in 1..=PRIMARIES {
        let person = admin
            .create(
                "/api/v1/people",
                &json!({"name": format!("Official {number}")}),
            )
            .await;
        let person = person["id"].as_str().unwrap();
        admin
            .create(
                "/api/v1/posts",
                &json!({"person": person, "unit": ids[&format!("F{number}")], "role": "official"}),
            )
            .await;
        admin
            .create(
                "/api/v1/accounts",
                &json!({"login": format!("official-{number}"), "password": PASSWORD, "person": person}),
            )
            .await;
    }
    for number in 1..=DIRECTIVES {
        let directive = admin
            .create(
                "/api/v1/directives",
                &json!({
                    "issuer": ids["C"],
                    "title": format!("Decision {number}"),
                    "body": "Every primary committee works this through.",
                    "due": "2099-12-31",
                    "target": {"kinds": ["primary"]},
                }),
            )
            .await;
        let id = directive["id"].as_str().unwrap();
        admin
            .create(&format!("/api/v1/directives/{id}/issue"), &json!({}))
            .await;
    }
    let mut workers = Vec::new();
    for number in 1..=PRIMARIES {
        let official = sign_in(&http, &base, &format!("official-{number}"), PASSWORD).await;
        let unit = &ids[&format!("F{number}")];
        let (status, inbox) = official
            .must_get(&format!("/api/v1/units/{unit}/assignments"))
            .await;
        assert_eq!(status, StatusCode::OK, "{inbox}");
        let assignments: Vec<String> = inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(assignments.len(), DIRECTIVES, "{inbox}");
        workers.push((official, assignments));
    }
    println!(
        "kill9 on {}: set up in {:.1} s",
        backend.name(),
        started.elapsed().as_secs_f64()
    );

    // The clients write while the server is killed and restarted.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let attempts = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (worker, (client, assignments)) in workers.into_iter().enumerate() {
        tasks.push(tokio::spawn(work_assignments(
            client,
            worker,
            assignments,
            stop.clone(),
            acknowledged.clone(),
            attempts.clone(),
        )));
    }
    for creator in 0..CREATORS {
        let county = ids[if creator % 2 == 0 { "K1" } else { "K2" }].clone();
        tasks.push(tokio::spawn(create_things(
            admin.clone(),
            creator,
            county,
            stop.clone(),
            acknowledged.clone(),
            attempts.clone(),
        )));
    }
    // Each life of the server lasts until it has acknowledged a write, and then a
    // random while more; the lives together leave room for the checks within the budget
    // (and last a second at least, wherever the setup left the budget).
    let writing = BUDGET.saturating_sub(started.elapsed()) / 2;
    let life = (writing / KILLS as u32).max(Duration::from_secs(1));
    let mut kills = 0;
    for _ in 0..KILLS {
        until_one_more_is_acknowledged(&acknowledged).await;
        tokio::time::sleep(life.mul_f64(rng.gen_range(0.0..1.0))).await;
        server.kill();
        kills += 1;
        // Down for a moment, with the clients knocking.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..200))).await;
        server.restart(&http).await;
    }
    // Some writes on the last life too, then the clients stop.
    until_one_more_is_acknowledged(&acknowledged).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a client panicked");
    }

    // Every acknowledged write is there.
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    let mut lost = Vec::new();
    for (id, code) in &acknowledged.units {
        let (status, unit) = admin.must_get(&format!("/api/v1/units/{id}")).await;
        if status != StatusCode::OK || unit["code"] != code.as_str() {
            lost.push(format!("unit {id} ({code}): {status} {unit}"));
        }
    }
    for (id, name) in &acknowledged.people {
        let (status, person) = admin.must_get(&format!("/api/v1/people/{id}")).await;
        if status != StatusCode::OK || person["name"] != name.as_str() {
            lost.push(format!("person {id} ({name}): {status} {person}"));
        }
    }
    for (id, text) in &acknowledged.notes {
        let (status, note) = admin.must_get(&format!("/api/v1/notes/{id}")).await;
        if status != StatusCode::OK || note["text"] != text.as_str() {
            lost.push(format!("note {id} ({text}): {status} {note}"));
        }
    }
    for (assignment, moves) in &acknowledged.transitions {
        let (status, view) = admin
            .must_get(&format!("/api/v1/assignments/{assignment}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        let history: Vec<(String, String)> = view["history"]
            .as_array()
            .expect("a history")
            .iter()
            .map(|entry| {
                (
                    entry["to"].as_str().unwrap_or_default().to_owned(),
                    entry["note"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        for (to, note) in moves {
            if !history.iter().any(|(t, n)| t == to && n == note) {
                lost.push(format!(
                    "the move of assignment {assignment} to {to} ({note})"
                ));
            }
        }
    }
    let transitions: usize = acknowledged.transitions.values().map(Vec::len).sum();
    let sent = attempts.load(Ordering::Relaxed) as usize;
    println!(
        "kill9 on {}: {kills} kills survived; {sent} writes sent, {} acknowledged \
         ({transitions} transitions, {} units, {} people, {} notes), {} unanswered \
         (in flight at a kill, or sent while the server was down); lost {}",
        backend.name(),
        acknowledged.count(),
        acknowledged.units.len(),
        acknowledged.people.len(),
        acknowledged.notes.len(),
        sent - acknowledged.count(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:#?}");
    assert!(transitions > 0 && !acknowledged.units.is_empty());

    server.stop();
    let checked = run(&["check", "--db", &database.url]);
    assert!(checked.is_ok(), "ganglion check: {checked:?}");
    let verified = run(&["audit", "verify", "--db", &database.url]);
    assert!(verified.is_ok(), "ganglion audit verify: {verified:?}");
    println!(
        "kill9 on {}: {}; {} (all in {:.1} s)",
        backend.name(),
        checked.unwrap().trim(),
        verified.unwrap().trim(),
        started.elapsed().as_secs_f64()
    );
}

/// Waits until the clients have one more acknowledged write than now: a life of the
/// server ends only after it acknowledged something, however slow the machine.
async fn until_one_more_is_acknowledged(acknowledged: &Mutex<Acknowledged>) {
    let at_start = acknowledged.lock().unwrap().count();
    let waiting = Instant::now();
    while acknowledged.lock().unwrap().count() == at_start {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "the server acknowledged no write within a minute of its start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
