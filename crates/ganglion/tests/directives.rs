//! Scenario 1 of SCENARIOS.md over HTTP, on each backend: the centre issues a decision to
//! its whole tree, a province adds guidance, a county breaks it into tasks for its
//! primary committees, units work their assignments, and the roll-ups show it at every
//! level — with what a county official may and may not see and do.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{backends, TestServer};

const PASSWORD: &str = "a-long-enough-password";

/// The organization of the scenario: a centre, two provinces, three counties, two
/// primary committees in each county, and cells under the first primaries.
const ORGANIZATION: &str = "code,parent_code,kind,name,tags
C,,centre,Central Committee,
P1,C,province,North Province,
P2,C,province,South Province,
P1-K1,P1,city_county,Oksan County,
P1-K2,P1,city_county,Okchon County,
P2-K1,P2,city_county,Namsan County,
P1-K1-F1,P1-K1,primary,Machine Works,industry
P1-K1-F2,P1-K1,ri,Chongsan Ri,rural
P1-K2-F1,P1-K2,primary,Textile Mill,industry
P1-K2-F2,P1-K2,ri,Sinhung Ri,rural
P2-K1-F1,P2-K1,primary,Steel Works,industry
P2-K1-F2,P2-K1,ri,Taedong Ri,rural
P1-K1-F1-C1,P1-K1-F1,cell,Cell 1,
P1-K1-F1-C2,P1-K1-F1,cell,Cell 2,
";

struct World {
    server: TestServer,
    ids: std::collections::HashMap<String, String>,
}

impl World {
    async fn new(backend: ganglion_testkit::TestBackend) -> Self {
        let server = TestServer::start(backend).await;
        let imported = server
            .post_raw("/api/v1/import/units", "text/csv", ORGANIZATION)
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
        let mut ids = std::collections::HashMap::new();
        let listing = server.get("/api/v1/units?limit=1000").await.json();
        for unit in listing["items"].as_array().unwrap() {
            ids.insert(
                unit["code"].as_str().unwrap().to_owned(),
                unit["id"].as_str().unwrap().to_owned(),
            );
        }
        let world = Self { server, ids };
        for (login, code, role) in [
            ("centre", "C", "secretary"),
            ("north", "P1", "secretary"),
            ("oksan", "P1-K1", "official"),
            ("okchon", "P1-K2", "official"),
            ("works", "P1-K1-F1", "secretary"),
        ] {
            world.account(login, code, role).await;
        }
        world
    }

    fn id(&self, code: &str) -> &str {
        &self.ids[code]
    }

    async fn account(&self, login: &str, code: &str, role: &str) {
        let person = self
            .server
            .post(
                "/api/v1/people",
                &json!({"name": format!("Official {login}")}),
            )
            .await;
        let person = person.json()["id"].as_str().unwrap().to_owned();
        let post = self
            .server
            .post(
                "/api/v1/posts",
                &json!({"person": person, "unit": self.id(code), "role": role}),
            )
            .await;
        assert_eq!(post.status, StatusCode::CREATED, "{}", post.text);
        let account = self
            .server
            .post(
                "/api/v1/accounts",
                &json!({"login": login, "password": PASSWORD, "person": person}),
            )
            .await;
        assert_eq!(account.status, StatusCode::CREATED, "{}", account.text);
    }

    async fn as_(&self, login: &str) -> support::Caller<'_> {
        let token = self.server.login(login, PASSWORD).await;
        self.server.as_caller(Some(token))
    }
}

/// The assignment of `directive` in the inbox of the unit `code`.
async fn inbox_assignment(caller: &support::Caller<'_>, unit: &str, directive: &str) -> String {
    let inbox = caller
        .get(&format!("/api/v1/units/{unit}/assignments"))
        .await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
    inbox.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["directive"] == directive)
        .unwrap_or_else(|| panic!("directive {directive} is not in the inbox: {}", inbox.text))
        ["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn move_to(
    caller: &support::Caller<'_>,
    assignment: &str,
    to: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({"to": to});
    if let Value::Object(fields) = extra {
        for (key, value) in fields {
            body[key] = value;
        }
    }
    let answer = caller
        .post(
            &format!("/api/v1/assignments/{assignment}/transition"),
            &body,
        )
        .await;
    let json = if answer.text.is_empty() {
        Value::Null
    } else {
        answer.json()
    };
    (answer.status, json)
}

fn states(rollup: &Value) -> [u64; 6] {
    let s = &rollup["states"];
    [
        "conveyed",
        "acknowledged",
        "planned",
        "in_progress",
        "done",
        "blocked",
    ]
    .map(|name| s[name].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_one_a_decision_conveyed_to_every_unit() {
    for backend in backends() {
        let world = World::new(backend).await;
        let centre = world.as_("centre").await;
        let north = world.as_("north").await;
        let oksan = world.as_("oksan").await;
        let works = world.as_("works").await;

        // The centre drafts the decision for its whole tree, with a metric.
        let draft = centre
            .post(
                "/api/v1/directives",
                &json!({
                    "issuer": world.id("C"),
                    "title": "On strengthening the primary committees",
                    "body": "Every unit reviews its primary work and reports by the due date.",
                    "due": "2099-12-31",
                    "metric": {"name": "members trained", "unit": "people", "target_per_unit": 10.0}
                }),
            )
            .await;
        assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text);
        let draft = draft.json();
        assert_eq!(draft["state"], "draft");
        let directive = draft["id"].as_str().unwrap().to_owned();
        let reach = centre
            .get(&format!("/api/v1/directives/{directive}/reach"))
            .await;
        assert_eq!(reach.json()["units"], 14);

        // A county official can neither see the draft nor issue it.
        let hidden = oksan.get(&format!("/api/v1/directives/{directive}")).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        let refused = oksan
            .post(&format!("/api/v1/directives/{directive}/issue"), &json!({}))
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);

        let issued = centre
            .post(&format!("/api/v1/directives/{directive}/issue"), &json!({}))
            .await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        assert_eq!(issued.json()["assignments"], 14);
        let again = centre
            .post(&format!("/api/v1/directives/{directive}/issue"), &json!({}))
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);

        // Conveyed: the county sees it now, and guidance on its path, top first.
        assert_eq!(
            oksan
                .get(&format!("/api/v1/directives/{directive}"))
                .await
                .status,
            StatusCode::OK
        );
        for (caller, unit, text) in [
            (&centre, "C", "Report the numbers trained each month."),
            (
                &north,
                "P1",
                "Counties of the north start with the ri committees.",
            ),
        ] {
            let note = caller
                .post(
                    &format!("/api/v1/directives/{directive}/guidance"),
                    &json!({"unit": world.id(unit), "text": text}),
                )
                .await;
            assert_eq!(note.status, StatusCode::CREATED, "{}", note.text);
        }
        // A county cannot add guidance for its sibling.
        let sibling_note = oksan
            .post(
                &format!("/api/v1/directives/{directive}/guidance"),
                &json!({"unit": world.id("P1-K2"), "text": "not yours"}),
            )
            .await;
        assert_eq!(
            sibling_note.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            sibling_note.text
        );
        assert_eq!(sibling_note.error_code(), "unknown_unit");

        let county_assignment = inbox_assignment(&oksan, world.id("P1-K1"), &directive).await;
        let view = oksan
            .get(&format!("/api/v1/assignments/{county_assignment}"))
            .await
            .json();
        assert_eq!(view["state"], "conveyed");
        assert_eq!(view["overdue"], false);
        let guidance: Vec<&str> = view["guidance"]
            .as_array()
            .unwrap()
            .iter()
            .map(|note| note["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            guidance,
            [
                "Report the numbers trained each month.",
                "Counties of the north start with the ri committees."
            ]
        );

        // The county's tasks as a calendar feed.
        let calendar = oksan
            .get(&format!(
                "/api/v1/units/{}/assignments.ics",
                world.id("P1-K1")
            ))
            .await;
        assert_eq!(calendar.status, StatusCode::OK);
        assert!(calendar.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar"));
        assert!(
            calendar.text.starts_with("BEGIN:VCALENDAR\r\n"),
            "{}",
            calendar.text
        );
        assert!(
            calendar.text.contains("STATUS:NEEDS-ACTION\r\n"),
            "{}",
            calendar.text
        );
        assert!(
            calendar.text.contains("DUE;VALUE=DATE:20991231\r\n"),
            "{}",
            calendar.text
        );
        assert!(calendar.text.contains(&format!(
            "RELATED-TO;RELTYPE=PARENT:directive-{directive}@ganglion"
        )));

        // The state machine: no skipping, and a block needs a reason.
        let (status, error) = move_to(&oksan, &county_assignment, "done", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["error"]["code"], "transition_not_allowed");
        for to in ["acknowledged", "planned"] {
            let (status, moved) = move_to(&oksan, &county_assignment, to, json!({})).await;
            assert_eq!(status, StatusCode::OK, "{moved}");
            assert_eq!(moved["state"], to);
        }
        let (status, error) = move_to(&oksan, &county_assignment, "blocked", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["error"]["code"], "reason_required");

        // The county's plan: a child directive with tasks for its primary committees.
        let plan = oksan
            .post(
                "/api/v1/directives",
                &json!({
                    "issuer": world.id("P1-K1"),
                    "parent_directive": directive,
                    "title": "Oksan's plan: a study session in every primary committee",
                    "body": "Each primary committee holds two study sessions this month.",
                    "due": "2099-06-30",
                    "target": {"kinds": ["primary", "ri"]}
                }),
            )
            .await;
        assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text);
        let plan = plan.json()["id"].as_str().unwrap().to_owned();
        let issued_plan = oksan
            .post(&format!("/api/v1/directives/{plan}/issue"), &json!({}))
            .await;
        assert_eq!(issued_plan.json()["assignments"], 2);
        // A plan cannot hang under a directive its issuer never received, nor reach outside.
        let outside = oksan
            .post(
                "/api/v1/directives",
                &json!({"issuer": world.id("P1-K1"), "title": "x", "body": "", "due": "2099-01-01",
                        "target": {"under": world.id("P1-K2")}}),
            )
            .await;
        assert_eq!(outside.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(outside.error_code(), "unknown_unit");

        // The machine works reports through its own secretary; the county cannot move it.
        let works_task = inbox_assignment(&works, world.id("P1-K1-F1"), &plan).await;
        let works_main = inbox_assignment(&works, world.id("P1-K1-F1"), &directive).await;
        for to in ["acknowledged", "planned", "in_progress"] {
            assert_eq!(
                move_to(&works, &works_main, to, json!({})).await.0,
                StatusCode::OK
            );
        }
        let (status, moved) = move_to(
            &works,
            &works_main,
            "done",
            json!({"metric_value": 12.0, "note": "12 trained"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["metric_value"], 12.0);
        let (status, _) = move_to(&oksan, &works_task, "acknowledged", json!({})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "only the unit's own officials move it forward"
        );
        let denials = world
            .server
            .get("/api/v1/audit?action=denied:assignment.transition")
            .await
            .json();
        assert_eq!(
            denials["items"][0]["object"],
            format!("assignment:{works_task}"),
            "the refusal is in the trail: {denials}"
        );
        // The county does not accept the works' "done": it sends it back, with a reason.
        let (status, error) = move_to(&oksan, &works_main, "in_progress", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["error"]["code"], "reason_required");
        let (status, back) = move_to(
            &oksan,
            &works_main,
            "in_progress",
            json!({"note": "the list of names is missing"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{back}");
        assert_eq!(back["history"].as_array().unwrap().len(), 5);
        assert_eq!(back["history"][4]["note"], "the list of names is missing");
        // Each change names who made it: the account, and the person who holds it.
        let sender = &back["history"][4];
        assert!(
            sender["actor"].as_str().unwrap().starts_with("account:"),
            "{sender}"
        );
        assert_eq!(sender["actor_name"], "Official oksan");
        assert_eq!(back["history"][3]["actor_name"], "Official works");
        assert_eq!(
            move_to(&works, &works_main, "done", json!({})).await.0,
            StatusCode::OK
        );

        // What the county official may not see: a sibling's assignment, the province's
        // roll-up, the centre's.
        let sibling =
            inbox_assignment(&world.as_("okchon").await, world.id("P1-K2"), &directive).await;
        assert_eq!(
            oksan
                .get(&format!("/api/v1/assignments/{sibling}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let (status, _) = move_to(&oksan, &sibling, "acknowledged", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for at in ["C", "P1", "P1-K2"] {
            let rollup = oksan
                .get(&format!(
                    "/api/v1/directives/{directive}/rollup?at={}",
                    world.id(at)
                ))
                .await;
            assert_eq!(rollup.status, StatusCode::NOT_FOUND, "roll-up at {at}");
        }
        assert_eq!(
            oksan
                .get(&format!("/api/v1/units/{}/assignments", world.id("P1-K2")))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // The county's own roll-up (its default place) covers its subtree only.
        let county = oksan
            .get(&format!("/api/v1/directives/{directive}/rollup"))
            .await;
        assert_eq!(county.status, StatusCode::OK, "{}", county.text);
        let county = county.json();
        assert_eq!(county["unit"], world.id("P1-K1"));
        assert_eq!(county["total"], 5);
        assert_eq!(states(&county), [3, 0, 1, 0, 1, 0]);

        // The centre sees the whole tree at once, and each province.
        let top = centre
            .get(&format!("/api/v1/directives/{directive}/rollup"))
            .await
            .json();
        assert_eq!(top["unit"], world.id("C"));
        assert_eq!(top["total"], 14);
        assert_eq!(states(&top), [12, 0, 1, 0, 1, 0]);
        assert_eq!(top["overdue"], 0);
        assert_eq!(top["metric"]["sum"], 12.0);
        assert_eq!(top["metric"]["target"], 140.0);
        let provinces: Vec<(String, u64)> = top["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|child| {
                (
                    child["code"].as_str().unwrap().to_owned(),
                    child["total"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(provinces, [("P1".to_owned(), 9), ("P2".to_owned(), 4)]);
        assert_eq!(top["children"][0]["states"]["done"], 1);

        // The same table as CSV and as an Excel workbook.
        let csv = centre
            .get(&format!("/api/v1/directives/{directive}/rollup.csv"))
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        let lines: Vec<&str> = csv.text.lines().collect();
        assert_eq!(
            lines[0],
            "unit,code,name,total,conveyed,acknowledged,planned,in_progress,done,blocked,overdue,metric_sum,metric_target"
        );
        assert_eq!(
            lines.len(),
            4,
            "the centre and its two provinces: {}",
            csv.text
        );
        assert!(
            lines[1].ends_with(",14,12,0,1,0,1,0,0,12,140"),
            "{}",
            lines[1]
        );
        let xlsx = centre
            .get(&format!("/api/v1/directives/{directive}/rollup.xlsx"))
            .await;
        assert_eq!(xlsx.status, StatusCode::OK);
        assert_eq!(
            xlsx.headers["content-type"],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );

        // The laggards come not-acknowledged first; the series has today's counts.
        let laggards = centre
            .get(&format!("/api/v1/directives/{directive}/laggards?limit=5"))
            .await
            .json();
        assert_eq!(laggards["items"].as_array().unwrap().len(), 5);
        assert!(laggards["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["state"] == "conveyed"));
        assert!(laggards["next_cursor"].is_string());
        // The pages follow one another without overlap, and end with the working units.
        let mut seen: Vec<String> = Vec::new();
        let mut cursor = None::<String>;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/directives/{directive}/laggards?limit=5&cursor={c}"),
                None => format!("/api/v1/directives/{directive}/laggards?limit=5"),
            };
            let page = centre.get(&path).await.json();
            for item in page["items"].as_array().unwrap() {
                seen.push(item["state"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 13, "every unit not done, once: {seen:?}");
        assert_eq!(seen.last().unwrap(), "planned", "{seen:?}");
        let series = centre
            .get(&format!("/api/v1/directives/{directive}/series"))
            .await
            .json();
        let last = series["days"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            states(&json!({"states": last["states"]})),
            [12, 0, 1, 0, 1, 0]
        );

        // Closing ends the work: assignments no longer move.
        let closed = centre
            .post(&format!("/api/v1/directives/{directive}/close"), &json!({}))
            .await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
        let (status, error) = move_to(&oksan, &county_assignment, "in_progress", json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{error}");

        // Every act is in the audit trail, the fan-out as one entry.
        let audit = centre
            .get("/api/v1/audit?action=directive.issue")
            .await
            .json();
        let issues = audit["items"].as_array().unwrap();
        assert_eq!(issues.len(), 2, "the decision and the county's plan");

        world.server.stop().await;
    }
}

/// Two servers on one PostgreSQL: a change made through one shows in the other's
/// roll-up, which it keeps in memory. The follower reads the feed every 200 ms; the
/// test waits far longer before failing (machines here are noisy) and prints how long
/// it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_follows_the_first() {
    let Some(backend) = backends()
        .into_iter()
        .find(|b| *b == ganglion_testkit::TestBackend::Postgres)
    else {
        eprintln!("PostgreSQL is off in this run: the two-server test needs it");
        return;
    };
    let world = World::new(backend).await;
    let second_app = ganglion_app::App::open(&world.server.database.url)
        .await
        .expect("a second server opens the same database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second_base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The test wakes when the second server's read model changes, never by the clock.
    let mut second_changes = second_app.watch_read_model();
    let second = tokio::spawn(ganglion_web::serve_with(
        listener,
        second_app,
        support::test_settings(),
        async {
            let _ = stopped.await;
        },
    ));

    let centre = world.as_("centre").await;
    let created = centre
        .post(
            "/api/v1/directives",
            &json!({"issuer": world.id("C"), "title": "Spring sowing", "body": "", "due": "2099-05-01"}),
        )
        .await
        .json();
    let directive = created["id"].as_str().unwrap().to_owned();
    centre
        .post(&format!("/api/v1/directives/{directive}/issue"), &json!({}))
        .await;
    let works = world.as_("works").await;
    let assignment = inbox_assignment(&works, world.id("P1-K1-F1"), &directive).await;

    let token = world.server.login("centre", PASSWORD).await;
    let client = reqwest::Client::new();
    let rollup_on_second = || async {
        client
            .get(format!(
                "{second_base}/api/v1/directives/{directive}/rollup"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    // The issue itself reached the second server.
    let patience = std::time::Duration::from_secs(10);
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if rollup_on_second().await["total"] == 14 {
            break;
        }
        tokio::time::timeout_at(deadline, second_changes.changed())
            .await
            .expect("the issue reaches the second server")
            .unwrap();
    }
    // A transition through the first server shows in the second's roll-up.
    assert_eq!(
        move_to(&works, &assignment, "acknowledged", json!({}))
            .await
            .0,
        StatusCode::OK
    );
    let written = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let rollup = rollup_on_second().await;
        if rollup["states"]["acknowledged"] == 1 {
            break;
        }
        tokio::time::timeout_at(deadline, second_changes.changed())
            .await
            .unwrap_or_else(|_| panic!("the second server did not follow: {rollup}"))
            .unwrap();
    }
    println!("the second server followed in {:?}", written.elapsed());

    // A sign-out through the first server ends the session on the second, which had
    // it in memory. The feed is read in order: once a later change shows on the
    // second server, the sign-out has been applied there too.
    let works_on_second = |path: String| {
        let request = client
            .get(format!("{second_base}{path}"))
            .bearer_auth(works.token.as_deref().unwrap());
        async move { request.send().await.unwrap().status() }
    };
    let assignment_path = format!("/api/v1/assignments/{assignment}");
    assert_eq!(
        works_on_second(assignment_path.clone()).await,
        StatusCode::OK
    );
    let signed_out = works
        .send(reqwest::Method::DELETE, "/api/v1/sessions/current", None)
        .await;
    assert!(signed_out.status.is_success(), "{}", signed_out.text);
    let county = world.as_("oksan").await;
    let county_assignment = inbox_assignment(&county, world.id("P1-K1"), &directive).await;
    assert_eq!(
        move_to(&county, &county_assignment, "acknowledged", json!({}))
            .await
            .0,
        StatusCode::OK
    );
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if rollup_on_second().await["states"]["acknowledged"] == 2 {
            break;
        }
        tokio::time::timeout_at(deadline, second_changes.changed())
            .await
            .expect("the second server follows the county's report")
            .unwrap();
    }
    assert_eq!(
        works_on_second(assignment_path).await,
        StatusCode::UNAUTHORIZED,
        "a session ended on one server is ended on all"
    );
    let _ = stop.send(());
    second.await.unwrap().unwrap();
    world.server.stop().await;
}

/// A transition retried with its Idempotency-Key, one after another or many at once, is
/// answered as the first time, and happens once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_transition_happens_once() {
    for backend in backends() {
        let world = World::new(backend).await;
        let centre = world.as_("centre").await;
        let created = centre
            .post(
                "/api/v1/directives",
                &json!({"issuer": world.id("C"), "title": "Harvest", "body": "", "due": "2099-09-01"}),
            )
            .await
            .json();
        let directive = created["id"].as_str().unwrap().to_owned();
        centre
            .post(&format!("/api/v1/directives/{directive}/issue"), &json!({}))
            .await;
        let works = world.as_("works").await;
        let assignment = inbox_assignment(&works, world.id("P1-K1-F1"), &directive).await;
        let token = works.token.clone();
        let path = format!("/api/v1/assignments/{assignment}/transition");
        let send = || {
            world.server.send_as(
                token.as_deref(),
                reqwest::Method::POST,
                &path,
                Some(("application/json", br#"{"to": "acknowledged"}"#.to_vec())),
                &[("idempotency-key", "ack-1")],
            )
        };
        let first = send().await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        assert_eq!(first.json()["state"], "acknowledged");
        assert_eq!(first.json()["history"].as_array().unwrap().len(), 1);
        let again = send().await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.json(), first.json());
        let now = works
            .get(&format!("/api/v1/assignments/{assignment}"))
            .await
            .json();
        assert_eq!(
            now["history"].as_array().unwrap().len(),
            1,
            "it happened once"
        );
        // Sent many times at once: one is written; the others, turned away while it is
        // under way, are answered with its answer once it is durable.
        let burst = (0..16).map(|_| {
            world.server.send_as(
                token.as_deref(),
                reqwest::Method::POST,
                &path,
                Some(("application/json", br#"{"to": "planned"}"#.to_vec())),
                &[("idempotency-key", "plan-1")],
            )
        });
        let answers = futures::future::join_all(burst).await;
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            assert_eq!(answer.json(), answers[0].json());
        }
        assert_eq!(answers[0].json()["state"], "planned");
        let now = works
            .get(&format!("/api/v1/assignments/{assignment}"))
            .await
            .json();
        assert_eq!(now["history"].as_array().unwrap().len(), 2, "once more");
        world.server.stop().await;
    }
}

/// Many transitions of one assignment at once: exactly one wins, the others are told
/// the state machine forbids them, and none fails on the server's side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transitions_are_serialized() {
    for backend in backends() {
        let world = World::new(backend).await;
        let centre = world.as_("centre").await;
        let created = centre
            .post(
                "/api/v1/directives",
                &json!({"issuer": world.id("C"), "title": "Census", "body": "", "due": "2099-03-01"}),
            )
            .await
            .json();
        let directive = created["id"].as_str().unwrap().to_owned();
        centre
            .post(&format!("/api/v1/directives/{directive}/issue"), &json!({}))
            .await;
        let works = world.as_("works").await;
        let assignment = inbox_assignment(&works, world.id("P1-K1-F1"), &directive).await;
        let attempts = (0..24).map(|_| move_to(&works, &assignment, "acknowledged", json!({})));
        let answers = futures::future::join_all(attempts).await;
        let won = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::OK)
            .count();
        assert_eq!(won, 1, "{answers:?}");
        for (status, body) in &answers {
            if *status != StatusCode::OK {
                assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
                assert_eq!(body["error"]["code"], "transition_not_allowed");
            }
        }
        world.server.stop().await;
    }
}
