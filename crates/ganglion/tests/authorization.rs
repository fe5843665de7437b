//! The authorization matrix (`matrix/authorization.csv`, written by `matrix/generate.py`
//! from the rules of SPEC.md §2) run over real HTTP on every backend: each route, each
//! kind of caller, each relation between the caller's unit and the unit acted on.
//! The test fails if a documented route has no rows.

mod support;

use std::collections::{HashMap, HashSet};

use ganglion_app::{
    Ctx, ImportRow, InboxQuery, NewAccount, NewDirective, NewNote, NewPerson, NewPost, Silent,
};
use reqwest::Method;
use serde_json::{json, Value};
use support::{backends, TestServer, ADMIN_PASSWORD};

const PASSWORD: &str = "matrix-password";

/// The organization every row runs against:
///
/// C ─ P1 (parent) ─ K1 (own) ─ U1 (child) ─ X1 (deeper)
///   │             └ K2 (sibling) ─ U2 (sibling_child)
///   └ P2 (other_province) ─ K3
const TREE: &[(&str, &str, &str, &str)] = &[
    ("C", "", "centre", ""),
    ("P1", "C", "province", "parent"),
    ("K1", "P1", "city_county", "own"),
    ("U1", "K1", "primary", "child"),
    ("X1", "U1", "cell", "deeper"),
    ("K2", "P1", "city_county", "sibling"),
    ("U2", "K2", "primary", "sibling_child"),
    ("P2", "C", "province", "other_province"),
    ("K3", "P2", "city_county", ""),
];

struct Target {
    unit: String,
    code: String,
    parent: Option<String>,
    person: String,
    post: String,
    note: String,
    /// Issued by this unit to its own subtree.
    directive: String,
    /// Issued by this unit, then closed.
    ended: String,
    /// This unit's assignment of the centre's directive to the whole tree.
    assignment: String,
    /// A programme this unit owns, with no projects yet.
    programme: String,
    /// An experience this unit wrote for the whole organization.
    shared: String,
    /// An experience this unit wrote for its own subtree.
    experience: String,
    /// A title awarded to this unit by its parent.
    award: String,
}

struct Fixture {
    targets: HashMap<String, Target>,
    logins: HashMap<&'static str, &'static str>,
    tokens: HashMap<&'static str, Option<String>>,
}

async fn fixture(server: &TestServer) -> Fixture {
    let app = &server.app;
    let ctx = Ctx::operator();
    let rows = TREE
        .iter()
        .enumerate()
        .map(|(index, (code, parent, kind, _))| ImportRow {
            line: index as u64 + 2,
            code: (*code).into(),
            parent_code: (*parent).into(),
            kind: (*kind).into(),
            name: format!("{code} committee"),
            tags: String::new(),
        })
        .collect();
    app.import_units(&ctx, rows, &Silent).await.unwrap();
    // A signed checkpoint, so that reading it answers 200 to whoever may read it.
    let key_folder = tempfile::tempdir().unwrap();
    app.use_audit_key(&Ctx::operator(), &key_folder.path().join("audit-key"), true)
        .await
        .unwrap();
    app.audit_log().checkpoint_now(&ctx).await.unwrap();
    let mut ids = HashMap::new();
    for (code, ..) in TREE {
        ids.insert(*code, app.unit_by_code(&ctx, code).await.unwrap().id);
    }
    // The centre's decision, conveyed to every unit.
    let draft = |issuer: &str| NewDirective {
        kind: None,
        issuer: issuer.to_owned(),
        title: format!("directive of {issuer}"),
        body: String::new(),
        due: "2099-01-01".into(),
        target: None,
        metric: None,
        parent_directive: None,
    };
    let centre = app
        .directives()
        .create(&ctx, draft(&ids["C"]))
        .await
        .unwrap()
        .id;
    app.directives().issue(&ctx, &centre).await.unwrap();
    let mut targets = HashMap::new();
    for (code, parent, _, relation) in TREE.iter().filter(|row| !row.3.is_empty()) {
        let unit = ids[code].clone();
        let person = app
            .create_person(
                &ctx,
                NewPerson {
                    name: format!("Holder of {code}"),
                },
            )
            .await
            .unwrap()
            .id;
        let post = app
            .create_post(
                &ctx,
                NewPost {
                    person: person.clone(),
                    unit: unit.clone(),
                    role: "member".into(),
                    title: None,
                    start: Some("2020-01-01".into()),
                },
            )
            .await
            .unwrap()
            .id;
        let note = app
            .create_note(
                &ctx,
                NewNote {
                    unit: unit.clone(),
                    text: format!("note on {code}"),
                    hidden_from: None,
                },
            )
            .await
            .unwrap()
            .id;
        let directive = app
            .directives()
            .create(&ctx, draft(&unit))
            .await
            .unwrap()
            .id;
        app.directives().issue(&ctx, &directive).await.unwrap();
        let ended = app
            .directives()
            .create(&ctx, draft(&unit))
            .await
            .unwrap()
            .id;
        app.directives().issue(&ctx, &ended).await.unwrap();
        app.directives()
            .end(&ctx, &ended, ganglion_core::DirectiveState::Closed)
            .await
            .unwrap();
        let inbox = app
            .directives()
            .inbox(&ctx, &unit, InboxQuery::default())
            .await
            .unwrap();
        let assignment = inbox
            .items
            .iter()
            .find(|item| item.directive == centre)
            .expect("the centre's directive reached every unit")
            .id
            .clone();
        let programme = app
            .programmes()
            .create(
                &ctx,
                ganglion_app::NewProgramme {
                    owner: unit.clone(),
                    title: format!("programme of {code}"),
                    start_year: 2026,
                    years: 3,
                    description: None,
                    metrics: None,
                },
            )
            .await
            .unwrap()
            .id;
        let experience = |audience: Option<&str>| ganglion_app::NewExperience {
            unit: unit.clone(),
            title: format!("experience of {code}"),
            body: "what was learned".into(),
            tags: None,
            directive: None,
            programme: None,
            event: None,
            media: None,
            audience: audience.map(str::to_owned),
        };
        let shared = app
            .experiences()
            .create(&ctx, experience(None))
            .await
            .unwrap()
            .id;
        let kept = app
            .experiences()
            .create(&ctx, experience(Some("subtree")))
            .await
            .unwrap()
            .id;
        let award = app
            .honours()
            .award(
                &ctx,
                ganglion_app::NewTitle {
                    unit: unit.clone(),
                    name: "Red Flag".into(),
                    awarded_by: ids[parent].clone(),
                    awarded_on: "2025-12-28".into(),
                    period: None,
                    grounds: "probe".into(),
                },
            )
            .await
            .unwrap()
            .award
            .id;
        targets.insert(
            relation.to_string(),
            Target {
                shared,
                experience: kept,
                award,
                unit,
                code: code.to_string(),
                parent: (!parent.is_empty()).then(|| ids[parent].clone()),
                person,
                post,
                note,
                directive,
                ended,
                assignment,
                programme,
            },
        );
    }
    let mut logins = HashMap::from([("admin", "admin")]);
    for (role, login) in [
        ("secretary", "k1-secretary"),
        ("official", "k1-official"),
        ("member", "k1-member"),
    ] {
        let person = app
            .create_person(
                &ctx,
                NewPerson {
                    name: format!("The {role}"),
                },
            )
            .await
            .unwrap()
            .id;
        app.create_post(
            &ctx,
            NewPost {
                person: person.clone(),
                unit: ids["K1"].clone(),
                role: role.into(),
                title: None,
                start: Some("2020-01-01".into()),
            },
        )
        .await
        .unwrap();
        app.create_account(
            &ctx,
            NewAccount {
                login: login.into(),
                password: PASSWORD.into(),
                person,
            },
        )
        .await
        .unwrap();
        logins.insert(role, login);
    }
    let mut tokens = HashMap::from([("anonymous", None)]);
    for (role, login) in &logins {
        let password = if *role == "admin" {
            ADMIN_PASSWORD
        } else {
            PASSWORD
        };
        tokens.insert(*role, Some(server.login(login, password).await));
    }
    Fixture {
        targets,
        logins,
        tokens,
    }
}

struct Row {
    line: usize,
    method: String,
    route: String,
    role: String,
    relation: String,
    status: u16,
    code: Option<String>,
}

fn rows() -> Vec<Row> {
    let text = include_str!("matrix/authorization.csv");
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.is_empty())
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            let (status, code) = match fields[4].split_once(' ') {
                Some((status, code)) => (status, Some(code.to_owned())),
                None => (fields[4], None),
            };
            Row {
                line: index + 1,
                method: fields[0].into(),
                route: fields[1].into(),
                role: fields[2].into(),
                relation: fields[3].into(),
                status: status.parse().unwrap(),
                code,
            }
        })
        .collect()
}

/// The request a row sends: its path and body.
fn request(row: &Row, fixture: &Fixture) -> (String, Option<(&'static str, Vec<u8>)>) {
    let target = fixture.targets.get(&row.relation);
    let path = match target {
        Some(t) => row
            .route
            .replace("{id}", &t.unit)
            .replace("{post}", &t.post)
            .replace("{note}", &t.note)
            .replace("{person}", &t.person)
            .replace("{directive}", &t.directive)
            .replace("{ended}", &t.ended)
            .replace("{assignment}", &t.assignment)
            .replace("{programme}", &t.programme)
            .replace("{shared}", &t.shared)
            .replace("{experience}", &t.experience)
            .replace("{award}", &t.award),
        None => row.route.clone(),
    };
    let json_body = |value: Value| Some(("application/json", value.to_string().into_bytes()));
    let body = match (row.method.as_str(), row.route.as_str(), target) {
        ("PATCH", "/api/v1/units/{id}", _) => json_body(json!({"tags": []})),
        ("POST", "/api/v1/units/{id}/move", Some(t)) => json_body(json!({"parent": t.parent})),
        ("POST", "/api/v1/units", Some(t)) => {
            json_body(json!({"parent": t.unit, "kind": "cell", "name": "probe", "code": "C"}))
        }
        ("POST", "/api/v1/import/units", Some(t)) => Some((
            "text/csv",
            format!(
                "code,parent_code,kind,name,tags\nC,{},cell,probe,\n",
                t.code
            )
            .into_bytes(),
        )),
        ("POST", "/api/v1/import/people", Some(t)) => Some((
            "text/csv",
            format!(
                "person_ref,name,unit_code,role,title,start,end\nprobe,Probe,{},chieftain,,,\n",
                t.code
            )
            .into_bytes(),
        )),
        ("POST", "/api/v1/posts", Some(t)) => {
            json_body(json!({"person": "999999", "unit": t.unit, "role": "member"}))
        }
        ("POST", "/api/v1/posts/{post}/end", _) => json_body(json!({"end": "2000-01-01"})),
        ("POST", "/api/v1/notes", Some(t)) => json_body(json!({"unit": t.unit, "text": "probe"})),
        ("POST", "/api/v1/sessions", _) => {
            let login = fixture
                .logins
                .get(row.role.as_str())
                .copied()
                .unwrap_or("admin");
            json_body(json!({"login": login, "password": "not the password"}))
        }
        ("POST", "/api/v1/accounts", _) => json_body(
            json!({"login": "probe-account", "password": "long-enough-password", "person": "999999"}),
        ),
        ("POST", "/api/v1/people", _) => json_body(json!({"name": "Probe Person"})),
        ("POST", "/api/v1/directives", Some(t)) => {
            json_body(json!({"issuer": t.unit, "title": "probe", "body": "", "due": "2099-01-01"}))
        }
        ("PATCH", "/api/v1/directives/{directive}", _) => json_body(json!({"title": "probe"})),
        ("POST", "/api/v1/directives/{directive}/guidance", Some(t)) => {
            json_body(json!({"unit": t.unit, "text": "probe"}))
        }
        ("POST", "/api/v1/assignments/{assignment}/transition", _) => {
            json_body(json!({"to": "done"}))
        }
        ("POST", "/api/v1/programmes", Some(t)) => {
            json_body(json!({"owner": t.unit, "title": "probe", "start_year": 2026, "years": 1}))
        }
        ("POST", "/api/v1/programmes/{programme}/projects", Some(t)) => {
            json_body(json!({"unit": t.unit, "year": 2026, "kind": "factory", "title": "probe"}))
        }
        ("POST", "/api/v1/experiences", Some(t)) => {
            json_body(json!({"unit": t.unit, "title": "probe", "body": "probe"}))
        }
        ("POST", "/api/v1/titles", Some(t)) => json_body(json!({
            "unit": t.unit, "name": "probe", "awarded_by": t.parent,
            "awarded_on": "2026-01-01", "grounds": "probe"
        })),
        ("POST", "/api/v1/titles/awards/{award}/withdraw", _) => json_body(json!({"reason": ""})),
        ("POST", "/api/v1/programmes/{programme}/projects.csv", Some(t)) => Some((
            "text/csv",
            format!(
                "unit_code,year,kind,title,due\n{},2026,factory,probe,\n",
                t.code
            )
            .into_bytes(),
        )),
        _ => None,
    };
    (path, body)
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let rows = rows();
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let fixture = fixture(&server).await;

        // Every documented route has rows, for every role.
        let doc = server.get("/api/v1/openapi.json").await.json();
        let covered: HashSet<(String, String, String)> = rows
            .iter()
            .map(|row| {
                (
                    row.method.to_lowercase(),
                    row.route.split('?').next().unwrap().to_owned(),
                    row.role.clone(),
                )
            })
            .collect();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_none() {
                    continue;
                }
                for role in ["admin", "secretary", "official", "member", "anonymous"] {
                    let documented = path.as_str();
                    let found = covered.iter().any(|(m, r, ro)| {
                        m == method
                            && ro == role
                            && r.replace("{post}", "{id}")
                                .replace("{note}", "{id}")
                                .replace("{person}", "{id}")
                                .replace("{directive}", "{id}")
                                .replace("{ended}", "{id}")
                                .replace("{assignment}", "{id}")
                                .replace("{programme}", "{id}")
                                .replace("{shared}", "{id}")
                                .replace("{experience}", "{id}")
                                .replace("{award}", "{id}")
                                == documented
                    });
                    assert!(found, "the matrix has no row for {method} {path} as {role}");
                }
            }
        }

        let mut failures = Vec::new();
        for row in &rows {
            let (path, body) = request(row, &fixture);
            let token = if row.route == "/api/v1/sessions/current" && row.role != "anonymous" {
                // Signing out revokes the token: use one made for this row.
                let login = fixture.logins[row.role.as_str()];
                let password = if row.role == "admin" {
                    ADMIN_PASSWORD
                } else {
                    PASSWORD
                };
                Some(server.login(login, password).await)
            } else {
                fixture.tokens[row.role.as_str()].clone()
            };
            let method = Method::from_bytes(row.method.as_bytes()).unwrap();
            let answer = server
                .send_as(token.as_deref(), method, &path, body, &[])
                .await;
            let code = serde_json::from_str::<Value>(&answer.text)
                .ok()
                .and_then(|body| body["error"]["code"].as_str().map(str::to_owned));
            let code_matches = row.code.is_none() || row.code == code;
            if answer.status.as_u16() != row.status || !code_matches {
                failures.push(format!(
                    "line {}: {} {} as {} on {}: expected {} {}, got {} {}",
                    row.line,
                    row.method,
                    row.route,
                    row.role,
                    row.relation,
                    row.status,
                    row.code.as_deref().unwrap_or(""),
                    answer.status.as_u16(),
                    answer.text
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{backend:?}: {} of {} rows disagree:\n{}",
            failures.len(),
            rows.len(),
            failures.join("\n")
        );
        eprintln!("{backend:?}: {} matrix rows agree", rows.len());
        server.stop().await;
    }
}
