//! `directives --units N --backend sqlite|postgres`: conveying a directive to every unit,
//! roll-ups at the root and at a county, and assignment transitions through HTTP — each
//! against the naive way on the same database in the same run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use ganglion_app::{
    App, Ctx, DemoShape, ListUnits, NewAccount, NewDirective, NewPerson, NewPost, Silent,
};
use ganglion_core::{DirectiveId, ItemId, Kind, UnitId};
use ganglion_store::SourceRef;
use ganglion_testkit::{TestBackend, TestDatabase};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;

const PASSWORD: &str = "bench-password-long";

pub(crate) fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}

pub(crate) fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

pub(crate) fn line(
    bench: &str,
    backend: &str,
    units: u64,
    ours_ms: f64,
    baseline: &str,
    baseline_ms: f64,
    extra: serde_json::Value,
) {
    let mut out = json!({
        "bench": bench,
        "backend": backend,
        "units": units,
        "ours_ms": round(ours_ms),
        "baseline": baseline,
        "baseline_ms": round(baseline_ms),
        "speedup": round(baseline_ms / ours_ms.max(1e-9)),
    });
    if let serde_json::Value::Object(fields) = extra {
        for (key, value) in fields {
            out[key] = value;
        }
    }
    println!("{out}");
}

/// The median time of `runs` calls, in milliseconds.
pub(crate) async fn median_ms<F, Fut>(runs: usize, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await;
        times.push(ms(started));
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Where a directive's items are.
fn source_of(directive: DirectiveId) -> SourceRef<'static> {
    SourceRef {
        kind: Kind::Directive,
        source: directive.get(),
        period: "",
    }
}

fn draft(issuer: &str, title: &str) -> NewDirective {
    NewDirective {
        kind: None,
        issuer: issuer.to_owned(),
        title: title.to_owned(),
        body: "A decision for every unit.".into(),
        due: "2099-12-31".into(),
        target: None,
        metric: None,
        parent_directive: None,
    }
}

pub async fn run(units: u64, backend_name: &str, transitions: usize, clients: usize) {
    let backend = match backend_name {
        "sqlite" => TestBackend::Sqlite,
        "postgres" => TestBackend::Postgres,
        other => panic!("unknown backend {other}: sqlite or postgres"),
    };
    if backend == TestBackend::Postgres
        && std::env::var_os(ganglion_testkit::POSTGRES_VARIABLE).is_none()
    {
        std::env::set_var(
            ganglion_testkit::POSTGRES_VARIABLE,
            "postgres://postgres@127.0.0.1:5432",
        );
    }
    let database = TestDatabase::new(backend);
    let operator = Ctx::operator();
    let app = App::init(&database.url, "party").await.expect("a database");
    let started = Instant::now();
    app.fill_demo(&operator, DemoShape { units }, &Silent)
        .await
        .expect("the sample organization");
    eprintln!(
        "built {units} units on {backend_name} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = app.store();
    let root = app.unit_by_code(&operator, "C").await.expect("the centre");
    let county = app
        .unit_by_code(&operator, "P01-K001")
        .await
        .expect("a county");
    let root_id: UnitId = root.id.parse().expect("an id");
    let county_id: UnitId = county.id.parse().expect("an id");
    let root_row = store.unit(root_id).await.unwrap().unwrap();
    let county_row = store.unit(county_id).await.unwrap().unwrap();

    // Conveyance to every unit: ours is the whole use case (checks, the insert, the audit
    // entry and change record, and the read model); the baseline the bare insert.
    // The bare insert runs once before ours and once after, on a table holding a million
    // rows fewer and more than ours met: their mean meets ours on equal terms.
    let root_range = root_row.subtree_range();
    let bare_insert = || async {
        let plain = app
            .directives()
            .create(&operator, draft(&root.id, "baseline"))
            .await
            .expect("a draft");
        let plain_id: DirectiveId = plain.id.parse().unwrap();
        let started = Instant::now();
        let created = store
            .baseline_convey(plain_id, &root_range, "2026-01-01T00:00:00Z")
            .await
            .expect("the baseline insert");
        (plain_id, created, ms(started))
    };
    let (_, _, before) = bare_insert().await;
    let directive = app
        .directives()
        .create(&operator, draft(&root.id, "ours"))
        .await
        .expect("a draft");
    let started = Instant::now();
    let issued = app
        .directives()
        .issue(&operator, &directive.id)
        .await
        .expect("issued");
    let ours = ms(started);
    let (plain_id, created, after) = bare_insert().await;
    let baseline = (before + after) / 2.0;
    assert_eq!(created, issued.assignments, "both conveyed the same rows");
    line(
        "fanout",
        backend_name,
        units,
        ours,
        "insert_select",
        baseline,
        json!({"assignments": created, "baseline_before_ms": round(before), "baseline_after_ms": round(after)}),
    );

    // Roll-ups with drill-down to every child.
    let directive_id: DirectiveId = directive.id.parse().unwrap();
    for (bench, unit, row) in [
        ("rollup_root", root_id, &root_row),
        ("rollup_county", county_id, &county_row),
    ] {
        let ours = median_ms(201, || async {
            std::hint::black_box(app.directives().tally_at(&directive.id, unit));
        })
        .await;
        let use_case = median_ms(51, || async {
            std::hint::black_box(
                app.directives()
                    .rollup(&operator, &directive.id, Some(&unit.to_string()))
                    .await
                    .unwrap(),
            );
        })
        .await;
        let children: Vec<_> = app
            .children(&operator, &unit.to_string(), Some(1000), None)
            .await
            .unwrap()
            .items;
        let (tally, _) = app.directives().tally_at(&directive.id, unit).unwrap();
        // The recursive query takes seconds to minutes at a million units: one run.
        let runs = 3;
        let recursive = median_ms(1, || async {
            let counts = store
                .baseline_rollup_recursive(directive_id, unit)
                .await
                .unwrap();
            assert_eq!(
                counts[0],
                u64::from(tally.total()),
                "the recursive query agrees"
            );
            for child in &children {
                std::hint::black_box(
                    store
                        .baseline_rollup_recursive(directive_id, child.id.parse().unwrap())
                        .await
                        .unwrap(),
                );
            }
        })
        .await;
        let mut child_ranges = Vec::new();
        for child in &children {
            let id: UnitId = child.id.parse().unwrap();
            child_ranges.push(store.unit(id).await.unwrap().unwrap().subtree_range());
        }
        let interval = median_ms(runs, || async {
            let counts = store
                .baseline_rollup_interval(directive_id, &row.subtree_range())
                .await
                .unwrap();
            assert_eq!(
                counts[0],
                u64::from(tally.total()),
                "the interval query agrees"
            );
            for range in &child_ranges {
                std::hint::black_box(
                    store
                        .baseline_rollup_interval(directive_id, range)
                        .await
                        .unwrap(),
                );
            }
        })
        .await;
        let extra = json!({"children": children.len(), "subtree": tally.total(), "use_case_ms": round(use_case)});
        line(
            bench,
            backend_name,
            units,
            ours,
            "recursive_cte",
            recursive,
            extra.clone(),
        );
        line(
            bench,
            backend_name,
            units,
            ours,
            "sql_interval",
            interval,
            extra,
        );
    }

    // Transitions through HTTP. Each client is an official of its own primary committee
    // and works that unit's assignments of many small directives forward, as reports
    // come in: acknowledged, planned, in progress, done with the figure reached. The
    // committees sit under the lowest unit that has enough of them, and only they carry
    // the tag the directives target.
    let mut primaries = Vec::new();
    let mut scope = root.clone();
    for code in ["P01-K001", "P01", "C"] {
        let Ok(unit) = app.unit_by_code(&operator, code).await else {
            continue;
        };
        primaries = app
            .list_units(
                &operator,
                ListUnits {
                    under: Some(unit.id.clone()),
                    kind: Some("primary".into()),
                    limit: Some(clients as u32),
                    ..ListUnits::default()
                },
            )
            .await
            .unwrap()
            .items;
        scope = unit;
        if primaries.len() == clients {
            break;
        }
    }
    assert_eq!(
        primaries.len(),
        clients,
        "enough primary committees for the clients"
    );
    let mut client_units = Vec::new();
    for (index, unit) in primaries.iter().enumerate() {
        let mut tags = unit.tags.clone();
        tags.push("bench".into());
        app.update_unit(
            &operator,
            &unit.id,
            ganglion_app::UnitPatch {
                name: None,
                tags: Some(tags),
            },
        )
        .await
        .unwrap();
        let person = app
            .create_person(
                &operator,
                NewPerson {
                    name: format!("Bench official {index}"),
                },
            )
            .await
            .unwrap()
            .id;
        app.create_post(
            &operator,
            NewPost {
                person: person.clone(),
                unit: unit.id.clone(),
                role: "official".into(),
                title: None,
                start: Some("2020-01-01".into()),
            },
        )
        .await
        .unwrap();
        app.create_account(
            &operator,
            NewAccount {
                login: format!("bench-{index}"),
                password: PASSWORD.into(),
                person,
            },
        )
        .await
        .unwrap();
        let unit_id: UnitId = unit.id.parse().unwrap();
        let plain_assignment = store
            .items_at(source_of(plain_id), unit_id)
            .await
            .unwrap()
            .first()
            .expect("the baseline's item")
            .id;
        client_units.push((unit_id, plain_assignment));
    }
    const STEPS: [&str; 4] = ["acknowledged", "planned", "in_progress", "done"];
    let per_client = transitions / clients;
    let tasks_per_client = per_client.div_ceil(STEPS.len());
    let mut work: Vec<Vec<ItemId>> = vec![Vec::new(); clients];
    for task in 0..tasks_per_client {
        let mut task_draft = draft(&scope.id, &format!("Task {task}"));
        task_draft.target = Some(ganglion_app::Target {
            under: Some(scope.id.clone()),
            kinds: Vec::new(),
            tags: vec!["bench".into()],
            units: Vec::new(),
        });
        task_draft.metric = Some(ganglion_app::Metric {
            name: "Hectares sown".into(),
            unit: "ha".into(),
            target_per_unit: 40.0,
        });
        let created = app
            .directives()
            .create(&operator, task_draft)
            .await
            .unwrap();
        let issued = app
            .directives()
            .issue(&operator, &created.id)
            .await
            .unwrap();
        assert_eq!(issued.assignments, clients as u64);
        let task_id: DirectiveId = created.id.parse().unwrap();
        for (client, (unit, _)) in client_units.iter().enumerate() {
            let assignment = store.items_at(source_of(task_id), *unit).await.unwrap();
            work[client].push(assignment[0].id);
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The benchmark's 32 clients share one address and send far more than a person
    // does: the limits are switched off for it, explicitly.
    let settings = ganglion_web::Settings {
        rate_limit: "off".parse().expect("a rate limit"),
        ..ganglion_web::Settings::default()
    };
    let server = tokio::spawn(ganglion_web::serve_with(
        listener,
        app.clone(),
        settings,
        async {
            let _ = stopped.await;
        },
    ));
    // Signed in through the use case, as the clients' sessions are all the benchmark
    // needs.
    let mut tokens = Vec::new();
    for index in 0..clients {
        let attempt = ganglion_app::LoginAttempt {
            login: format!("bench-{index}"),
            password: PASSWORD.into(),
        };
        let session = app
            .login(
                &Ctx::anonymous("bench".into()),
                attempt,
                &format!("bench-client-{index}"),
            )
            .await
            .expect("a session");
        tokens.push(session.token);
    }
    eprintln!("transitions: {clients} clients reporting");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (assignments, token) in work.into_iter().zip(tokens) {
        let reports: Vec<Report> = assignments
            .iter()
            .flat_map(|assignment| STEPS.iter().map(|to| Report::new(*assignment, to)))
            .take(per_client)
            .collect();
        tasks.push(tokio::spawn(report_over_http(address, token, reports)));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ours_elapsed = ms(started);
    let done = (per_client * clients) as f64;
    let store = Arc::new(store.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (_, plain_assignment) in client_units.iter().copied() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for step in 0..per_client {
                store
                    .baseline_update(plain_assignment, if step % 2 == 0 { 1 } else { 5 })
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let baseline_elapsed = ms(started);
    line(
        "transitions",
        backend_name,
        units,
        ours_elapsed / (done / 1000.0),
        "single_row_updates",
        baseline_elapsed / (done / 1000.0),
        json!({"clients": clients, "changes": done, "ours_per_s": (done / (ours_elapsed / 1000.0)).round(), "baseline_per_s": (done / (baseline_elapsed / 1000.0)).round()}),
    );
    let _ = stop.send(());
    let _ = server.await;
    app.close().await;
}

/// One report of the benchmark's load: the request's path and body, made before the
/// clock starts, as a load generator prepares its requests.
struct Report {
    path: String,
    body: Bytes,
}

impl Report {
    fn new(assignment: ItemId, to: &str) -> Self {
        let body = match to {
            "in_progress" => json!({"to": to, "note": "ploughing started"}),
            "done" => json!({"to": to, "metric_value": 42.5}),
            _ => json!({"to": to}),
        };
        Self {
            path: format!("/api/v1/assignments/{assignment}/transition"),
            body: Bytes::from(body.to_string()),
        }
    }
}

/// One client: its own HTTP/1.1 connection, driven in the same task that sends the
/// reports one after another, each after the answer to the one before. The client
/// shares the machine with the server, so it does no more than a load generator.
async fn report_over_http(address: SocketAddr, token: String, reports: Vec<Report>) {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let host = HeaderValue::from_str(&address.to_string()).unwrap();
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let json = HeaderValue::from_static("application/json");
    let send_all = async move {
        for report in reports {
            sender.ready().await.unwrap();
            let request = Request::post(report.path)
                .header(HOST, host.clone())
                .header(AUTHORIZATION, authorization.clone())
                .header(CONTENT_TYPE, json.clone())
                .body(Full::new(report.body))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            let status = response.status();
            // Read to the end, so that the connection is free for the next report.
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(
                status.is_success(),
                "{status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    };
    tokio::select! {
        () = send_all => {}
        closed = connection => panic!("the server closed the connection: {closed:?}"),
    }
}
