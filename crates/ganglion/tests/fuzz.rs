//! Fuzzing on the stable toolchain, as bounded property tests: the doors that read what
//! a stranger sends — the CSV importers (units, people, programme projects), every JSON
//! body of the API, and the date parsers — are given generated input, well-formed and
//! not, and must never panic and never fail but with a 4xx in the API's error format;
//! a refused import writes nothing. The long, coverage-guided runs of the same targets
//! are `fuzz/` (cargo fuzz, nightly; `scripts/fuzz`).
//!
//! Each target runs a fixed number of cases from a fixed seed, so a failure repeats;
//! `FUZZ_SEED=N` explores elsewhere, `FUZZ_CASES=N` runs more cases. A run also stops
//! taking new cases after its time allowance, so the test command stays bounded on a
//! slow machine.

mod support;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ganglion_app::{Ctx, NewProgramme, Silent};
use ganglion_testkit::TestBackend;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::TestServer;

/// One test per backend, as `per_backend!` declares them, but plain: a target drives its
/// server from a runtime of its own, between proptest's cases.
macro_rules! on_each_backend {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(ganglion_testkit::TestBackend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if ganglion_testkit::TestBackend::Postgres.is_on() {
                    super::$name(ganglion_testkit::TestBackend::Postgres)
                }
            })*
        }
    };
}

on_each_backend!(csv_imports_answer_or_refuse, json_bodies_answer_or_refuse);

/// How long one target may take new cases for (each importer is a target).
const ALLOWANCE: Duration = Duration::from_secs(4);

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(16)
}

fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

/// A runner that repeats: the same seed gives the same cases.
fn runner(cases: u32) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed().to_le_bytes());
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            // A shrunk failure is easier to read, but every step is a request.
            max_shrink_iters: 200,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

// ---------------------------------------------------------------------------------------
// Generated text: what people (and attackers) type into cells and fields.

/// Text of every sort: plain, empty, blank, long, non-Latin, with separators, quotes,
/// control characters, formula starts, and anything at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9 ]{1,12}",
        1 => Just(String::new()),
        1 => Just("   ".to_owned()),
        1 => "[=+@-][A-Za-z0-9(),\"]{0,10}",
        1 => "'+[=+@-]?[a-z]{0,4}",
        1 => "[가-힣]{1,6}",
        1 => "[a-z,;\"\n\r\t]{1,10}",
        1 => "\\PC{0,20}",
        1 => any::<String>(),
        1 => "[a-z]{300,320}",
        1 => Just("\u{0}".to_owned()),
        1 => "[a-z]{0,3}\u{0}[a-z]{0,3}",
    ]
}

/// Things that look like dates, and some that are.
fn date_like() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1i32..=9999, 1u8..=12, 1u8..=31).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        1 => (-10000i32..=20000, 0u8..=13, 0u8..=32).prop_map(|(y, m, d)| format!("{y}-{m}-{d}")),
        1 => "[+-]?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}",
        1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.Z+-]{0,12}",
        1 => Just(String::new()),
        1 => text(),
    ]
}

// ---------------------------------------------------------------------------------------
// The CSV importers.

const KINDS: &[&str] = &[
    "centre",
    "province",
    "equivalent",
    "city_county",
    "primary",
    "ri",
    "sub_primary",
    "cell",
];

/// A cell for a column of a unit file: drawn from what fits the column and what does not.
fn unit_cell(column: usize) -> BoxedStrategy<String> {
    let codes = prop_oneof![
        3 => (0u32..40).prop_map(|n| format!("F{n}")),
        1 => prop::sample::select(vec!["C", "P1", "P2", "K1"]).prop_map(str::to_owned),
        1 => text(),
    ];
    match column {
        0 => codes.boxed(),
        1 => prop_oneof![2 => Just(String::new()), 3 => codes].boxed(),
        2 => prop_oneof![
            4 => prop::sample::select(KINDS).prop_map(str::to_owned),
            1 => text(),
        ]
        .boxed(),
        3 => text().boxed(),
        _ => prop_oneof![
            2 => Just(String::new()),
            2 => "[a-z]{1,6}(;[a-z]{1,6}){0,3}",
            1 => text(),
        ]
        .boxed(),
    }
}

fn person_cell(column: usize) -> BoxedStrategy<String> {
    match column {
        0 => prop_oneof![3 => "r[0-9]{1,2}", 1 => text()].boxed(),
        1 => text().boxed(),
        2 => prop_oneof![
            2 => Just(String::new()),
            2 => prop::sample::select(vec!["C", "P1", "K1", "F1"]).prop_map(str::to_owned),
            1 => text(),
        ]
        .boxed(),
        3 => prop_oneof![
            3 => prop::sample::select(vec!["secretary", "official", "member", ""])
                .prop_map(str::to_owned),
            1 => text(),
        ]
        .boxed(),
        4 => prop_oneof![2 => Just(String::new()), 1 => text()].boxed(),
        _ => prop_oneof![2 => Just(String::new()), 3 => date_like()].boxed(),
    }
}

fn project_cell(column: usize) -> BoxedStrategy<String> {
    match column {
        0 => prop_oneof![
            3 => prop::sample::select(vec!["C", "P1", "K1", "F1"]).prop_map(str::to_owned),
            1 => text(),
        ]
        .boxed(),
        1 => prop_oneof![
            3 => (2020i32..2035).prop_map(|y| y.to_string()),
            1 => any::<i64>().prop_map(|y| y.to_string()),
            1 => text(),
        ]
        .boxed(),
        2 => prop_oneof![
            3 => prop::sample::select(vec!["factory", "hospital", "school"]).prop_map(str::to_owned),
            1 => text(),
        ]
        .boxed(),
        3 => text().boxed(),
        _ => prop_oneof![2 => Just(String::new()), 3 => date_like()].boxed(),
    }
}

/// A whole file: the right header most of the time, rows of the right width most of the
/// time, written as proper CSV or joined naively (broken quoting), now and then with a
/// byte-order mark, CR LF line ends, blank lines, or bytes that are not UTF-8 — or
/// nothing but random bytes.
fn csv_file(
    header: &'static str,
    cell: fn(usize) -> BoxedStrategy<String>,
) -> BoxedStrategy<Vec<u8>> {
    let columns = header.split(',').count();
    let row = prop_oneof![
        8 => (0..columns).map(cell).collect::<Vec<_>>(),
        1 => (0..columns + 2).prop_flat_map(move |width| {
            (0..width).map(|column| cell(column % columns)).collect::<Vec<_>>()
        }),
    ];
    let structured = (
        prop_oneof![
            8 => Just(header.to_owned()),
            1 => Just(header.to_uppercase()),
            1 => text(),
        ],
        prop::collection::vec(row, 0..12),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.1, prop::collection::vec(any::<u8>(), 1..8)),
    )
        .prop_map(|(header, rows, proper, crlf, bom, junk)| {
            let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut file = Vec::new();
            if bom {
                file.extend_from_slice(b"\xEF\xBB\xBF");
            }
            file.extend_from_slice(header.as_bytes());
            file.extend_from_slice(end);
            for row in rows {
                if proper {
                    let mut writer = csv::WriterBuilder::new()
                        .terminator(if crlf {
                            csv::Terminator::CRLF
                        } else {
                            csv::Terminator::Any(b'\n')
                        })
                        .from_writer(Vec::new());
                    writer.write_record(&row).unwrap();
                    file.extend(writer.into_inner().unwrap());
                } else {
                    file.extend_from_slice(row.join(",").as_bytes());
                    file.extend_from_slice(end);
                }
            }
            if let Some(junk) = junk {
                file.extend(junk);
            }
            file
        });
    prop_oneof![
        9 => structured,
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
    .boxed()
}

/// A failure as a door shows it: the status of its code.
fn status_of(error: &ganglion_app::AppError) -> u16 {
    error.code().status()
}

fn csv_imports_answer_or_refuse(backend: TestBackend) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = TestServer::start(backend).await;
        let organization = "code,parent_code,kind,name,tags\nC,,centre,Centre,\nP1,C,province,North,\nP2,C,province,South,\nK1,P1,city_county,County,\nF1,K1,primary,Works,\n";
        let imported = server
            .post_raw("/api/v1/import/units", "text/csv", organization)
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
        server
    });
    let app = server.app.clone();
    let ctx = Ctx::operator();
    let centre = runtime
        .block_on(app.unit_by_code(&ctx, "C"))
        .expect("the centre")
        .id;
    let programme = runtime
        .block_on(app.programmes().create(
            &ctx,
            NewProgramme {
                owner: centre,
                title: "Factories in every county".into(),
                start_year: 2026,
                years: 3,
                description: None,
                metrics: None,
            },
        ))
        .expect("a programme")
        .id;

    let fingerprint = || {
        runtime.block_on(async {
            let units = server.export().await;
            let people = server.get("/api/v1/export/people").await.text;
            let projects = server
                .get(&format!(
                    "/api/v1/programmes/{programme}/projects?limit=1000"
                ))
                .await
                .text;
            (units, people, projects)
        })
    };
    let started = Instant::now();
    let tried: [Cell<u32>; 3] = Default::default();
    let imported: [Cell<u32>; 3] = Default::default();
    for (target, (header, cell)) in [
        (
            ganglion_app::UNIT_CSV_HEADER,
            unit_cell as fn(usize) -> BoxedStrategy<String>,
        ),
        (ganglion_app::PEOPLE_CSV_HEADER, person_cell),
        (ganglion_app::PROJECTS_CSV_HEADER, project_cell),
    ]
    .into_iter()
    .enumerate()
    {
        let mut runner = runner(cases(150));
        let result = runner.run(&csv_file(header, cell), |file| {
            if started.elapsed() > ALLOWANCE * (target as u32 + 1) {
                return Ok(());
            }
            tried[target].set(tried[target].get() + 1);
            let before = fingerprint();
            let result = runtime.block_on(async {
                match target {
                    0 => app
                        .import_units_csv(&ctx, &file, &Silent)
                        .await
                        .map(|summary| summary.created),
                    1 => app
                        .import_people_csv(&ctx, &file)
                        .await
                        .map(|summary| summary.people_created + summary.posts_created),
                    _ => app
                        .programmes()
                        .import_projects(&ctx, &programme, &file)
                        .await
                        .map(|summary| summary.created),
                }
            });
            match result {
                Ok(_) => imported[target].set(imported[target].get() + 1),
                Err(error) => {
                    let status = status_of(&error);
                    prop_assert!(
                        (400..500).contains(&status),
                        "a file was refused with {status} ({error}): {:?}",
                        String::from_utf8_lossy(&file)
                    );
                    prop_assert_eq!(&fingerprint(), &before, "a refused file wrote something");
                }
            }
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }
    // What the imports made exports and imports back the same: the guard against
    // spreadsheet formulas survives the round trip.
    let (units, people, _) = fingerprint();
    let rows = ganglion_app::read_records(units.as_bytes(), ganglion_app::UNIT_CSV_HEADER)
        .expect("the export reads back");
    let names = runtime.block_on(async {
        let listing = server.get("/api/v1/units?limit=1000").await.json();
        listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|unit| unit["name"].as_str().unwrap().to_owned())
            .collect::<BTreeSet<_>>()
    });
    let exported: BTreeSet<String> = rows.iter().map(|(_, fields)| fields[3].clone()).collect();
    assert_eq!(exported, names, "names survive the export");
    ganglion_app::read_records(people.as_bytes(), ganglion_app::PEOPLE_CSV_HEADER)
        .expect("the people export reads back");
    let tried = tried.map(Cell::into_inner);
    let imported = imported.map(Cell::into_inner);
    println!(
        "fuzz csv on {}: {tried:?} files tried (units, people, projects), {imported:?} imported, in {:.1} s",
        backend.name(),
        started.elapsed().as_secs_f64()
    );
    runtime.block_on(server.stop());
}

// ---------------------------------------------------------------------------------------
// JSON bodies of every write the OpenAPI document lists.

/// A write with a JSON body, as the document describes it.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    path: String,
    /// The statuses the document lists for it.
    statuses: BTreeSet<u16>,
    /// The schema of its body.
    schema: Value,
}

fn json_operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let takes_json = operation["requestBody"]["content"]
                .get("application/json")
                .is_some();
            if !takes_json {
                continue;
            }
            let statuses = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|status| status.parse().ok())
                .collect();
            operations.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                statuses,
                schema: operation["requestBody"]["content"]["application/json"]["schema"].clone(),
            });
        }
    }
    operations
}

/// Every property name the document's schemas use: the keys a body may carry.
fn property_names(document: &Value) -> Vec<String> {
    let mut names = BTreeSet::new();
    fn walk(value: &Value, names: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    names.extend(properties.keys().cloned());
                }
                map.values().for_each(|inner| walk(inner, names));
            }
            Value::Array(items) => items.iter().for_each(|inner| walk(inner, names)),
            _ => {}
        }
    }
    walk(&document["components"], &mut names);
    names.into_iter().collect()
}

/// Words the server reads: kinds, roles, states.
const WORDS: &[&str] = &[
    "primary",
    "centre",
    "province",
    "city_county",
    "directive",
    "pledge",
    "project",
    "secretary",
    "official",
    "member",
    "acknowledged",
    "planned",
    "in_progress",
    "done",
    "blocked",
    "ground_broken",
    "under_construction",
    "in_operation",
    "admin",
    "factory",
];

/// Values of every JSON type, leaning on those the server reads: ids, dates, kinds,
/// states and numbers at their edges.
fn json_value(keys: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => (1u32..30).prop_map(|id| Value::String(id.to_string())),
        2 => date_like().prop_map(Value::String),
        2 => prop::sample::select(WORDS).prop_map(|word| Value::String(word.to_owned())),
        2 => text().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => prop::sample::select(vec![0.0, -0.0, 1e308, -1e308, 1e-308, 0.5, 2026.0])
            .prop_map(|n| json!(n)),
        1 => (-5i64..3000).prop_map(|n| json!(n)),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        let keys = keys.clone();
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            3 => prop::collection::vec(
                (
                    if keys.is_empty() {
                        "[a-z_]{1,10}".boxed()
                    } else {
                        prop::sample::select(keys).boxed()
                    },
                    inner,
                ),
                0..8,
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Values the schema describes, mostly: each property present when required (nearly
/// always) or optional (half the time), of its type, with ids, dates and words the server
/// knows; now and then a value of another type, or a key the schema does not name.
fn schema_value(document: &Value, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let any_leaf = || json_value(Vec::new()).boxed();
    if depth > 4 {
        return any_leaf();
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return schema_value(
            document,
            &document["components"]["schemas"][name],
            depth + 1,
        );
    }
    for union in ["oneOf", "anyOf"] {
        if let Some(choices) = schema[union].as_array() {
            let choices: Vec<BoxedStrategy<Value>> = choices
                .iter()
                .map(|choice| schema_value(document, choice, depth + 1))
                .collect();
            return prop::strategy::Union::new(choices).boxed();
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        return prop_oneof![9 => prop::sample::select(values.clone()), 1 => any_leaf()].boxed();
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(several) => several
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => return any_leaf(),
    };
    let of_type =
        |kind: &str| -> BoxedStrategy<Value> {
            match kind {
            "null" => Just(Value::Null).boxed(),
            "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
            "integer" => prop_oneof![
                4 => (-5i64..3000).prop_map(|n| json!(n)),
                1 => any::<i64>().prop_map(|n| json!(n)),
            ]
            .boxed(),
            "number" => prop_oneof![
                3 => (-5i64..3000).prop_map(|n| json!(n as f64 / 2.0)),
                1 => prop::sample::select(vec![0.0, -0.0, 1e308, -1e308, 1e-308, f64::MAX])
                    .prop_map(|n| json!(n)),
            ]
            .boxed(),
            "string" if schema["pattern"].is_string() => prop_oneof![
                6 => (1u32..30).prop_map(|id| Value::String(id.to_string())),
                1 => text().prop_map(Value::String),
            ]
            .boxed(),
            "string" => prop_oneof![
                2 => prop::sample::select(WORDS).prop_map(|word| Value::String(word.to_owned())),
                2 => date_like().prop_map(Value::String),
                1 => (1u32..30).prop_map(|id| Value::String(id.to_string())),
                3 => text().prop_map(Value::String),
            ]
            .boxed(),
            "array" => {
                let items = schema_value(document, &schema["items"], depth + 1);
                prop::collection::vec(items, 0..4).prop_map(Value::Array).boxed()
            }
            _ => {
                let required: BTreeSet<String> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect();
                let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, property)| {
                        let present = if required.contains(name) { 0.95 } else { 0.5 };
                        let name = name.clone();
                        prop::option::weighted(present, schema_value(document, property, depth + 1))
                            .prop_map(move |value| value.map(|value| (name.clone(), value)))
                            .boxed()
                    })
                    .collect();
                let stranger = prop::option::weighted(0.05, ("[a-z_]{1,12}", any_leaf()));
                (fields, stranger)
                    .prop_map(|(fields, stranger)| {
                        Value::Object(fields.into_iter().flatten().chain(stranger).collect())
                    })
                    .boxed()
            }
        }
        };
    let choices: Vec<BoxedStrategy<Value>> = types.iter().map(|kind| of_type(kind)).collect();
    prop_oneof![
        19 => prop::strategy::Union::new(choices),
        1 => any_leaf(),
    ]
    .boxed()
}

/// A body: one the schema describes, a generated object or value, bytes that are not
/// JSON, or JSON cut short.
fn body(document: &Value, schema: &Value, keys: Vec<String>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        12 => schema_value(document, schema, 0).prop_map(|value| value.to_string().into_bytes()),
        2 => json_value(keys.clone()).prop_map(|value| value.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (json_value(keys), any::<prop::sample::Index>()).prop_map(|(value, cut)| {
            let text = value.to_string().into_bytes();
            let at = cut.index(text.len() + 1);
            text[..at].to_vec()
        }),
    ]
    .boxed()
}

fn json_bodies_answer_or_refuse(backend: TestBackend) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, document) = runtime.block_on(async {
        let server = TestServer::start(backend).await;
        let organization = "code,parent_code,kind,name,tags\nC,,centre,Centre,\nP1,C,province,North,\nK1,P1,city_county,County,\nF1,K1,primary,Works,\nF2,K1,primary,Mill,\n";
        let imported = server
            .post_raw("/api/v1/import/units", "text/csv", organization)
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
        let document = server.get("/api/v1/openapi.json").await.json();
        (server, document)
    });
    let operations = json_operations(&document);
    assert!(operations.len() >= 15, "the JSON writes: {operations:?}");
    let keys = property_names(&document);
    let started = Instant::now();
    let tried = Cell::new(0u32);
    let statuses = RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
    let requests: Vec<BoxedStrategy<(Operation, Vec<u8>)>> = operations
        .iter()
        .map(|operation| {
            let operation = operation.clone();
            body(&document, &operation.schema, keys.clone())
                .prop_map(move |body| (operation.clone(), body))
                .boxed()
        })
        .collect();
    let strategy = (
        prop::strategy::Union::new(requests),
        prop_oneof![9 => (1u32..30).prop_map(|id| id.to_string()), 1 => text()],
    );
    let result = runner(cases(1500)).run(&strategy, |((operation, body), id)| {
        if started.elapsed() > ALLOWANCE * 2 {
            return Ok(());
        }
        tried.set(tried.get() + 1);
        let id = percent_encoded(&id);
        let path = operation.path.replace("{id}", &id);
        let answer = runtime.block_on(server.send(
            operation.method.clone(),
            &path,
            Some(("application/json", body.clone())),
            &[],
        ));
        let status = answer.status.as_u16();
        *statuses.borrow_mut().entry(status).or_default() += 1;
        prop_assert!(
            status < 500,
            "{} {path} answered {status}: {}\nbody: {:?}",
            operation.method,
            answer.text,
            String::from_utf8_lossy(&body)
        );
        if status >= 400 {
            let error: Value = serde_json::from_str(&answer.text).unwrap_or(Value::Null);
            prop_assert!(
                error["error"]["code"].is_string(),
                "{} {path}: {status} without the error format: {}",
                operation.method,
                answer.text
            );
            // A path the router does not know (an id with a slash) is the fallback's.
            if error["error"]["code"] != "route_not_found" {
                prop_assert!(
                    operation.statuses.contains(&status),
                    "{} {} answered {status}, which its document does not list: {}",
                    operation.method,
                    operation.path,
                    answer.text
                );
            }
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    println!(
        "fuzz json on {}: {} bodies sent, answers by status {:?}, in {:.1} s",
        backend.name(),
        tried.get(),
        statuses.borrow(),
        started.elapsed().as_secs_f64()
    );
    runtime.block_on(server.stop());
}

/// Text as one segment of a path.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// What fuzzing found, kept as plain tests.

/// Text holding the NUL character reached PostgreSQL, which can neither store nor
/// compare it, and the answer was a 500 (a unit named with it, a parent code, a login).
/// Every door refuses it now, on both backends alike, naming the field, and writes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_holding_nul_is_refused_at_every_door() {
    for backend in support::backends() {
        let server = TestServer::start(backend).await;
        let before = server.export().await;

        let named = server
            .post(
                "/api/v1/units",
                &json!({"parent": null, "kind": "centre", "name": "Centre\u{0}", "code": "C"}),
            )
            .await;
        assert_eq!(
            named.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            named.text
        );
        assert_eq!(named.error_code(), "invalid_value");
        assert_eq!(named.json()["error"]["field"], "name");

        let tagged = server
            .post(
                "/api/v1/units",
                &json!({"parent": null, "kind": "centre", "name": "Centre", "code": "C", "tags": ["a", "\u{0}"]}),
            )
            .await;
        assert_eq!(
            tagged.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            tagged.text
        );
        assert_eq!(tagged.json()["error"]["field"], "tags.1");

        let signed_in = server
            .send_as(
                None,
                Method::POST,
                "/api/v1/sessions",
                Some((
                    "application/json",
                    json!({"login": "\u{0}", "password": "a-long-enough-password"})
                        .to_string()
                        .into_bytes(),
                )),
                &[],
            )
            .await;
        assert_eq!(
            signed_in.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            signed_in.text
        );
        assert_eq!(signed_in.json()["error"]["field"], "login");

        let searched = server.get("/api/v1/units?q=a%00b").await;
        assert_eq!(
            searched.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            searched.text
        );
        assert_eq!(searched.error_code(), "invalid_query");
        assert_eq!(searched.json()["error"]["field"], "q");

        let page = server.get("/org?q=%00").await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the organization page"
        );

        let imported = server
            .post_raw(
                "/api/v1/import/units",
                "text/csv",
                "code,parent_code,kind,name,tags\nC,,centre,Centre,\nF0,\0,primary,Works,\n",
            )
            .await;
        assert_eq!(
            imported.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            imported.text
        );
        assert_eq!(imported.error_code(), "invalid_rows");
        assert_eq!(imported.json()["error"]["rows"][0]["line"], 3);

        // An escaped backslash before `u0000` is text, not a NUL: it is a name as any.
        let literal = server
            .post_raw(
                "/api/v1/units",
                "application/json",
                r#"{"parent": null, "kind": "centre", "name": "C:\\u0000", "code": "C"}"#,
            )
            .await;
        assert_eq!(literal.status, StatusCode::CREATED, "{}", literal.text);
        assert_eq!(literal.json()["name"], "C:\\u0000");
        server
            .delete(&format!(
                "/api/v1/units/{}",
                literal.json()["id"].as_str().unwrap()
            ))
            .await;

        assert_eq!(server.export().await, before, "nothing was written");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------
// The date parsers.

/// Microseconds since the epoch: the store's times hold no finer.
fn micros(at: time::OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos().div_euclid(1000)
}

/// A date is read in one spelling, `YYYY-MM-DD`, between years 1 and 9999: what is read
/// writes back as it was sent. (Fuzzing found `+2026-12-01` read as a date.)
#[test]
fn a_date_has_one_spelling() {
    let result = runner(cases(5000)).run(&date_like(), |text| {
        if let Some(date) = ganglion_app::clock::parse_date(&text) {
            prop_assert!((1..=9999).contains(&date.year()), "{}", text);
            prop_assert_eq!(ganglion_app::clock::format_date(date), text);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// Every date of those years reads back from how it is written.
#[test]
fn every_date_reads_back() {
    let result = runner(cases(5000)).run(&(1i32..=3_652_059), |day| {
        let date = time::Date::from_julian_day(day + 1_721_425).unwrap();
        let written = ganglion_app::clock::format_date(date);
        prop_assert_eq!(
            ganglion_app::clock::parse_date(&written),
            Some(date),
            "{}",
            written
        );
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// A time is read as RFC 3339; the store's spelling of it reads back to the same
/// instant (to the microsecond it keeps), and sorts as the instants do.
#[test]
fn a_time_reads_back() {
    let times = prop_oneof![
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
        date_like(),
        any::<String>(),
    ];
    let result = runner(cases(5000)).run(&(times, 0i64..253_402_300_799), |(text, other)| {
        let Some(at) = ganglion_app::clock::parse_time(&text) else {
            return Ok(());
        };
        if !(1..=9999).contains(&at.to_offset(time::UtcOffset::UTC).year()) {
            return Ok(());
        }
        let written = ganglion_app::clock::format_time(at);
        let again = ganglion_app::clock::parse_time(&written);
        prop_assert_eq!(again.map(micros), Some(micros(at)), "{}", written);
        let other = time::OffsetDateTime::from_unix_timestamp(other).unwrap();
        let other_written = ganglion_app::clock::format_time(other);
        prop_assert_eq!(
            written.cmp(&other_written),
            micros(at).cmp(&micros(other)),
            "{} against {}",
            written,
            other_written
        );
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
