//! The tracking engine at the reference size: a programme's progress by year with
//! drill-down, everything overdue at the root across a thousand live directives and
//! two hundred thousand items with deadlines of their own, the read model's memory with
//! ten thousand ended directives out of it, and an ended directive's roll-up read from
//! the store — each against the plain SQL way on the same data.

use std::time::Instant;

use ganglion_app::{
    demo_rows, App, AttentionQuery, Ctx, DemoShape, NewDirective, NewProgramme, Silent, Target,
};
use ganglion_core::{DirectiveState, UnitId};
use ganglion_testkit::{TestBackend, TestDatabase};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::directives::{line, median_ms, ms, round};

fn directive(issuer: &str, title: String, due: &str, target: Option<Target>) -> NewDirective {
    NewDirective {
        kind: None,
        issuer: issuer.to_owned(),
        title,
        body: String::new(),
        due: due.into(),
        target,
        metric: None,
        parent_directive: None,
    }
}

fn under(unit: &str) -> Option<Target> {
    Some(Target {
        under: Some(unit.to_owned()),
        ..Target::default()
    })
}

/// The resident memory of this process, in MiB.
fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

pub async fn run(units: u64, backend_name: &str, live: usize, ended: usize, projects: usize) {
    let backend = match backend_name {
        "sqlite" => TestBackend::Sqlite,
        "postgres" => TestBackend::Postgres,
        other => panic!("unknown backend {other}: sqlite or postgres"),
    };
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
    let rows = demo_rows(DemoShape { units });
    let counties: Vec<&str> = rows
        .iter()
        .filter(|row| row.kind == "city_county")
        .map(|row| row.code.as_str())
        .collect();
    let primaries: Vec<&str> = rows
        .iter()
        .filter(|row| row.kind == "primary" || row.kind == "ri")
        .map(|row| row.code.as_str())
        .collect();
    let id_of = |code: &str| {
        let app = app.clone();
        let code = code.to_owned();
        async move {
            app.unit_by_code(&Ctx::operator(), &code)
                .await
                .expect("a unit")
                .id
        }
    };
    let root = id_of("C").await;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(20);

    // A thousand live directives, each to one county's subtree; one in twenty past due.
    let started = Instant::now();
    let mut county_ids = Vec::with_capacity(counties.len());
    for code in &counties {
        county_ids.push(id_of(code).await);
    }
    for index in 0..live {
        let county = &county_ids[rng.gen_range(0..county_ids.len())];
        let due = if index % 20 == 0 {
            "2026-01-15"
        } else {
            "2099-12-31"
        };
        let created = app
            .directives()
            .create(
                &operator,
                directive(&root, format!("Directive {index}"), due, under(county)),
            )
            .await
            .expect("a draft");
        app.directives()
            .issue(&operator, &created.id)
            .await
            .expect("issued");
    }
    eprintln!(
        "{live} live directives issued in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Two programmes of projects over city, county and primary units, several per unit:
    // one whose progress is measured, one whose deadlines fall all over the years.
    let mut programme_ids = Vec::new();
    for (name, start_year) in [("20×10", 2026), ("Hospitals", 2020)] {
        let programme = app
            .programmes()
            .create(
                &operator,
                NewProgramme {
                    owner: root.clone(),
                    title: format!("{name} regional development"),
                    start_year,
                    years: 10,
                    description: None,
                    metrics: None,
                },
            )
            .await
            .expect("a programme");
        let mut csv = String::from("unit_code,year,kind,title,due\n");
        for index in 0..projects {
            let unit = if index % 4 == 0 {
                counties[index % counties.len()]
            } else {
                primaries[(index * 7919) % primaries.len()]
            };
            let year = start_year + (index % 10) as i32;
            csv.push_str(&format!("{unit},{year},factory,Project {index},\n"));
        }
        let started = Instant::now();
        app.programmes()
            .import_projects(&operator, &programme.id, csv.as_bytes())
            .await
            .expect("the projects");
        eprintln!(
            "{projects} projects of {name} added in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        programme_ids.push(programme.id);
    }

    // Where things stand: milestones spread over the projects, work on the directives.
    let store = app.store();
    store
        .baseline_scatter_states(&["project"], 6, 1)
        .await
        .expect("milestones");
    store
        .baseline_scatter_states(&["directive"], 5, 3)
        .await
        .expect("progress");
    // Ten thousand ended directives, each to a primary unit's subtree, and one to a
    // county, whose roll-up is then read from the store.
    let started = Instant::now();
    for index in 0..ended {
        let unit = id_of(primaries[rng.gen_range(0..primaries.len())]).await;
        let created = app
            .directives()
            .create(
                &operator,
                directive(&root, format!("Ended {index}"), "2025-12-31", under(&unit)),
            )
            .await
            .expect("a draft");
        app.directives()
            .issue(&operator, &created.id)
            .await
            .expect("issued");
        app.directives()
            .end(&operator, &created.id, DirectiveState::Closed)
            .await
            .expect("closed");
    }
    let county_ended = app
        .directives()
        .create(
            &operator,
            directive(
                &root,
                "Ended at a county".into(),
                "2025-12-31",
                under(&county_ids[0]),
            ),
        )
        .await
        .expect("a draft");
    app.directives()
        .issue(&operator, &county_ended.id)
        .await
        .expect("issued");
    app.directives()
        .end(&operator, &county_ended.id, DirectiveState::Closed)
        .await
        .expect("closed");
    eprintln!(
        "{ended} ended directives in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    app.close().await;

    // A server starting on that store: what it keeps in memory, and its answers.
    let started = Instant::now();
    let app = App::open(&database.url).await.expect("the store");
    let start_ms = ms(started);
    let store = app.store();
    let (sources, bytes) = app.read_model_size();
    line(
        "read_model_memory",
        backend_name,
        units,
        start_ms,
        "none",
        0.0,
        json!({"resident_mib": round(resident_mib()), "sources_in_memory": sources,
               "columns_mib": round(bytes as f64 / 1048576.0), "live": live, "ended": ended + 1,
               "note": "ours_ms is the start-up: tree and live sources read from the store"}),
    );
    let root_id: UnitId = root.parse().unwrap();
    let root_range = store.unit(root_id).await.unwrap().unwrap().subtree_range();
    let children: Vec<(String, (String, String))> = {
        let mut found = Vec::new();
        for child in app
            .children(&Ctx::operator(), &root, Some(1000), None)
            .await
            .unwrap()
            .items
        {
            let id: UnitId = child.id.parse().unwrap();
            let range = store.unit(id).await.unwrap().unwrap().subtree_range();
            found.push((child.id, range));
        }
        found
    };

    // Progress of a programme by year, with drill-down, at the root.
    let programme = &programme_ids[0];
    let ours = median_ms(101, || async {
        std::hint::black_box(
            app.programmes()
                .progress(&Ctx::operator(), programme, Some(&root))
                .await
                .unwrap(),
        );
    })
    .await;
    let programme_id: i64 = programme.parse().unwrap();
    let check = app
        .programmes()
        .progress(&Ctx::operator(), programme, Some(&root))
        .await
        .unwrap();
    let planned: u32 = check.years.iter().map(|y| y.planned).sum();
    let baseline = median_ms(5, || async {
        let counts = store
            .baseline_programme_progress(programme_id, &root_range)
            .await
            .unwrap();
        assert_eq!(
            counts.iter().map(|c| c.2).sum::<u64>(),
            u64::from(planned),
            "the plain query agrees"
        );
        for (_, range) in &children {
            std::hint::black_box(
                store
                    .baseline_programme_progress(programme_id, range)
                    .await
                    .unwrap(),
            );
        }
    })
    .await;
    line(
        "programme_progress",
        backend_name,
        units,
        ours,
        "group_by_year_state",
        baseline,
        json!({"projects": planned, "years": check.years.len(), "children": check.children.len()}),
    );

    // Everything overdue at the root, first page.
    let query = || AttentionQuery {
        limit: Some(50),
        cursor: None,
    };
    let ours = median_ms(51, || async {
        std::hint::black_box(
            app.attention(&Ctx::operator(), &root, query())
                .await
                .unwrap(),
        );
    })
    .await;
    let seen = app
        .attention(&Ctx::operator(), &root, query())
        .await
        .unwrap();
    let today = ganglion_app::clock::format_date(app.today());
    let baseline = median_ms(3, || async {
        let (total, first) = store
            .baseline_attention(&root_range, &today, 50)
            .await
            .unwrap();
        assert_eq!(
            total,
            u64::from(seen.counts.total()),
            "the plain query agrees"
        );
        assert_eq!(first, seen.items.len());
        for (_, range) in &children {
            std::hint::black_box(store.baseline_attention(range, &today, 0).await.unwrap());
        }
    })
    .await;
    line(
        "attention_root",
        backend_name,
        units,
        ours,
        "overdue_query",
        baseline,
        json!({"overdue": seen.counts.total(), "assignments_overdue": seen.counts.assignment,
               "projects_overdue": seen.counts.project, "children": seen.children.len()}),
    );

    // An ended directive's roll-up, out of memory: read from the store.
    let ours = median_ms(11, || async {
        std::hint::black_box(
            app.directives()
                .rollup(&Ctx::operator(), &county_ended.id, None)
                .await
                .unwrap(),
        );
    })
    .await;
    let ended_id = county_ended.id.parse().unwrap();
    let county_range = store
        .unit(county_ids[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .subtree_range();
    let baseline = median_ms(11, || async {
        std::hint::black_box(
            store
                .baseline_rollup_interval(ended_id, &county_range)
                .await
                .unwrap(),
        );
    })
    .await;
    let rollup = app
        .directives()
        .rollup(&Ctx::operator(), &county_ended.id, None)
        .await
        .unwrap();
    line(
        "rollup_evicted",
        backend_name,
        units,
        ours,
        "sql_interval_total_only",
        baseline,
        json!({"assignments": rollup.total, "children": rollup.children.len()}),
    );
    app.close().await;
}
