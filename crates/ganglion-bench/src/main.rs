//! `cargo run --release -p ganglion-bench -- authorize --units 1000000`
//! `cargo run --release -p ganglion-bench -- directives --units 1000000 --backend sqlite`
//! `cargo run --release -p ganglion-bench -- search --backend postgres`
//! `cargo run --release -p ganglion-bench -- audit --entries 10000000 --backend sqlite`
//!
//! Each benchmark prints one JSON object per line:
//! `{"bench", "units", "ours_ns", "baseline", "baseline_ns", ...}`, both measured in the
//! same run on the same data.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

mod audit;
mod directives;
mod search;
mod tracking;

// The same allocator as the `ganglion` binary, so that the benchmark measures it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use ganglion_app::{demo_rows, DemoShape};
use ganglion_core::{authorize, Action, Post, Principal, Resource, Role, TreeIndex, UnitId};
use rand::{Rng, SeedableRng};

#[derive(Parser)]
#[command(about = "Ganglion's benchmarks: our way and the naive way, side by side")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// One authorization check (may this official read that unit?) on the sample
    /// organization, against walking up parent links.
    Authorize {
        #[arg(long, default_value_t = 1_000_000)]
        units: u64,
        #[arg(long, default_value_t = 2_000_000)]
        checks: usize,
    },
    /// Conveying a directive to every unit, roll-ups at the root and at a county, and
    /// assignment transitions through HTTP, against the naive ways on the same store.
    Directives {
        #[arg(long, default_value_t = 1_000_000)]
        units: u64,
        /// `sqlite` (a temporary file) or `postgres` (a temporary database on
        /// GANGLION_TEST_POSTGRES, by default the local server).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        #[arg(long, default_value_t = 20_000)]
        transitions: usize,
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// The tracking engine: a programme's progress, everything overdue at the root,
    /// memory with ended directives out of it, and an ended directive's roll-up read
    /// from the store, against the plain SQL ways.
    Tracking {
        #[arg(long, default_value_t = 1_000_000)]
        units: u64,
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Live directives, each to one county's subtree.
        #[arg(long, default_value_t = 1_000)]
        live: usize,
        /// Ended directives, each to a primary unit's subtree.
        #[arg(long, default_value_t = 10_000)]
        ended: usize,
        /// Projects in each of the two programmes.
        #[arg(long, default_value_t = 100_000)]
        projects: usize,
    },
    /// Full-text search of the experience library (half of it Korean) by a county
    /// official, p50 and p95 over many queries, against a plain `LIKE` scan.
    Search {
        /// Units of the sample organization, whose units write the experiences.
        #[arg(long, default_value_t = 10_000)]
        units: u64,
        #[arg(long, default_value = "sqlite")]
        backend: String,
        #[arg(long, default_value_t = 100_000)]
        experiences: usize,
        /// Queries of one to three words.
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
    },
    /// The audit log at ten million entries: appending with the Merkle tree against
    /// the chain alone, an inclusion proof, and the full offline check of an export
    /// against re-hashing the chain alone.
    Audit {
        #[arg(long, default_value_t = 10_000_000)]
        entries: u64,
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Entries appended one per commit in each of the two ways (and ten times as
        /// many in commits of 100).
        #[arg(long, default_value_t = 4_000)]
        appends: u64,
        /// Inclusion proofs of random entries.
        #[arg(long, default_value_t = 1_000)]
        proofs: usize,
    },
}

fn main() {
    match Cli::parse().bench {
        Bench::Authorize { units, checks } => bench_authorize(units, checks),
        Bench::Directives {
            units,
            backend,
            transitions,
            clients,
        } => tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(directives::run(units, &backend, transitions, clients)),
        Bench::Tracking {
            units,
            backend,
            live,
            ended,
            projects,
        } => tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(tracking::run(units, &backend, live, ended, projects)),
        Bench::Search {
            units,
            backend,
            experiences,
            queries,
        } => tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(search::run(units, &backend, experiences, queries)),
        Bench::Audit {
            entries,
            backend,
            appends,
            proofs,
        } => tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(audit::run(entries, &backend, appends, proofs)),
    }
}

fn bench_authorize(units: u64, checks: usize) {
    // The sample organization, numbered in file order.
    let rows = demo_rows(DemoShape { units });
    let mut id_of: HashMap<&str, UnitId> = HashMap::with_capacity(rows.len());
    let mut edges = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let id = UnitId::new(index as i64 + 1).expect("positive");
        id_of.insert(row.code.as_str(), id);
        let parent = (!row.parent_code.is_empty()).then(|| id_of[row.parent_code.as_str()]);
        edges.push((id, parent));
    }
    let started = Instant::now();
    let tree = TreeIndex::build(edges.iter().copied()).expect("a tree");
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    // The baseline gets the same dense lookup by id: a parent array.
    let mut parents: Vec<Option<UnitId>> = vec![None; edges.len() + 1];
    for &(unit, parent) in &edges {
        parents[unit.get() as usize] = parent;
    }

    // A county official and a province secretary, asked about random units.
    let county = rows
        .iter()
        .find(|r| r.kind == "city_county")
        .map(|r| id_of[r.code.as_str()])
        .expect("a county");
    let province = rows
        .iter()
        .find(|r| r.kind == "province")
        .map(|r| id_of[r.code.as_str()])
        .expect("a province");
    let principal = Principal {
        admin: false,
        posts: vec![
            Post {
                unit: county,
                role: Role::Official,
            },
            Post {
                unit: province,
                role: Role::Secretary,
            },
        ],
    };
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    let targets: Vec<UnitId> = (0..checks)
        .map(|_| UnitId::new(rng.gen_range(1..=rows.len() as i64)).expect("positive"))
        .collect();

    let started = Instant::now();
    let mut allowed = 0usize;
    for &target in &targets {
        allowed += usize::from(authorize(
            black_box(&principal),
            Action::Read,
            Resource::Unit(target),
            &tree,
        ));
    }
    let ours_ns = started.elapsed().as_nanos() as f64 / checks as f64;

    let started = Instant::now();
    let mut allowed_naive = 0usize;
    for &target in &targets {
        allowed_naive += usize::from(naive_read(black_box(&principal), target, &parents));
    }
    let baseline_ns = started.elapsed().as_nanos() as f64 / checks as f64;
    assert_eq!(allowed, allowed_naive, "both ways agree on every check");

    println!(
        "{}",
        serde_json::json!({
            "bench": "authorize",
            "units": rows.len(),
            "checks": checks,
            "allowed": allowed,
            "ours_ns": (ours_ns * 10.0).round() / 10.0,
            "baseline": "parent_walk",
            "baseline_ns": (baseline_ns * 10.0).round() / 10.0,
            "index_build_ms": (build_ms * 10.0).round() / 10.0,
        })
    );
}

/// The obvious way: walk up from the target until a unit the principal holds a post in.
fn naive_read(principal: &Principal, target: UnitId, parents: &[Option<UnitId>]) -> bool {
    let mut current = Some(target);
    while let Some(unit) = current {
        if principal
            .posts
            .iter()
            .any(|post| post.unit == unit && (post.role.has_authority() || unit == target))
        {
            return true;
        }
        current = parents[unit.get() as usize];
    }
    false
}
