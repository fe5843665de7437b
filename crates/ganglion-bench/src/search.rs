//! Full-text search of the experience library: 100,000 experiences, half of them in
//! Korean, searched with 1,000 queries of one to three words taken from the texts, by a
//! county official (so that who may read what is decided in every query), against a
//! plain `LIKE` scan of titles and bodies on the same data.

use std::time::Instant;

use ganglion_app::{
    sample_experience, App, Ctx, DemoShape, ExperienceQuery, NewExperience, Silent,
};
use ganglion_core::{Post, Principal, Role};
use ganglion_testkit::{TestBackend, TestDatabase};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::directives::{line, ms, round};

/// The value at quantile `q` (0 to 1) of sorted times.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Words of a text as a person would type them: split on spaces and punctuation.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() >= 2)
        .map(str::to_owned)
        .collect()
}

pub async fn run(units: u64, backend_name: &str, experiences: usize, queries: usize) {
    let backend = match backend_name {
        "sqlite" => TestBackend::Sqlite,
        "postgres" => TestBackend::Postgres,
        other => panic!("unknown backend {other}: sqlite or postgres"),
    };
    let database = TestDatabase::new(backend);
    let operator = Ctx::operator();
    let app = App::init(&database.url, "party").await.expect("a database");
    app.fill_demo(&operator, DemoShape { units }, &Silent)
        .await
        .expect("the sample organization");
    let writers: Vec<String> = {
        let mut writers = Vec::new();
        let mut cursor = None;
        loop {
            let page = app
                .list_units(
                    &operator,
                    ganglion_app::ListUnits {
                        limit: Some(1000),
                        cursor: cursor.clone(),
                        ..Default::default()
                    },
                )
                .await
                .expect("units");
            writers.extend(
                page.items
                    .into_iter()
                    .filter(|unit| matches!(unit.kind.as_str(), "ri" | "primary" | "city_county"))
                    .map(|unit| unit.id),
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        writers
    };
    // Written in batches through the import use case: one transaction and one audit
    // entry per batch. One in ten is kept to its unit's subtree.
    let started = Instant::now();
    let mut texts = Vec::with_capacity(experiences);
    let batch = 10_000;
    for first in (0..experiences).step_by(batch) {
        let inputs: Vec<NewExperience> = (first..(first + batch).min(experiences))
            .map(|index| {
                let (title, body) = sample_experience(index as u64);
                texts.push(format!("{title} {body}"));
                NewExperience {
                    unit: writers[index % writers.len()].clone(),
                    title,
                    body,
                    tags: Some(vec![if index % 2 == 0 { "농업" } else { "industry" }.into()]),
                    directive: None,
                    programme: None,
                    event: None,
                    media: None,
                    audience: (index % 10 == 3).then(|| "subtree".into()),
                }
            })
            .collect();
        app.experiences()
            .import(&operator, inputs, &Silent)
            .await
            .expect("experiences written");
    }
    let write_s = started.elapsed().as_secs_f64();
    eprintln!("{experiences} experiences written on {backend_name} in {write_s:.1} s");

    // The queries: one to three words of one experience's text, so that each finds it.
    let mut rng = rand::rngs::SmallRng::seed_from_u64(18);
    let asked: Vec<Vec<String>> = (0..queries)
        .map(|_| {
            let text = &texts[rng.gen_range(0..texts.len())];
            let pool = words(text);
            let count = rng.gen_range(1..=3usize).min(pool.len());
            let start = rng.gen_range(0..=pool.len() - count);
            pool[start..start + count].to_vec()
        })
        .collect();
    let county = app
        .unit_by_code(&operator, "P01-K001")
        .await
        .expect("a county")
        .id
        .parse()
        .expect("an id");
    let official = Ctx {
        principal: Principal {
            admin: false,
            posts: vec![Post {
                unit: county,
                role: Role::Official,
            }],
        },
        ..operator.clone()
    };
    let mut ours = Vec::with_capacity(queries);
    let mut found = 0u64;
    for words in &asked {
        let started = Instant::now();
        let results = app
            .experiences()
            .search(
                &official,
                ExperienceQuery {
                    q: Some(words.join(" ")),
                    limit: Some(20),
                    ..ExperienceQuery::default()
                },
            )
            .await
            .expect("a search");
        ours.push(ms(started));
        found += u64::from(results.total > 0);
    }
    let mut baseline = Vec::with_capacity(queries);
    for words in &asked {
        let started = Instant::now();
        app.store()
            .baseline_like_search(words, 20)
            .await
            .expect("a LIKE scan");
        baseline.push(ms(started));
    }
    ours.sort_by(f64::total_cmp);
    baseline.sort_by(f64::total_cmp);
    let (ours_p50, ours_p95) = (quantile(&ours, 0.5), quantile(&ours, 0.95));
    let (base_p50, base_p95) = (quantile(&baseline, 0.5), quantile(&baseline, 0.95));
    line(
        "search",
        backend_name,
        units,
        ours_p95,
        "like_scan",
        base_p95,
        json!({
            "experiences": experiences,
            "queries": queries,
            "queries_with_results": found,
            "p50_ms": round(ours_p50),
            "p95_ms": round(ours_p95),
            "baseline_p50_ms": round(base_p50),
            "baseline_p95_ms": round(base_p95),
            "max_ms": round(ours.last().copied().unwrap_or(0.0)),
            "write_s": round(write_s),
        }),
    );
    app.close().await;
}
