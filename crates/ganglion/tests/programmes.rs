//! Scenario 7 of SCENARIOS.md over HTTP, on each backend: a regional development
//! programme over years, projects per county and year (one at a time and from CSV),
//! milestones moved by the project's unit, plan against actual by year and by region —
//! with what a county official may and may not see and do; the kinds of directive
//! (pledges to an explicit list of units, projects) and, as the clock moves, what is
//! overdue across kinds (scenario 12's attention).

mod support;

use ganglion_app::ManualClock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{backends, TestServer};

const PASSWORD: &str = "a-long-enough-password";

const ORGANIZATION: &str = "code,parent_code,kind,name,tags
C,,centre,Central Committee,
P1,C,province,North Province,
P2,C,province,South Province,
P1-K1,P1,city_county,Oksan County,
P1-K2,P1,city_county,Okchon County,
P2-K1,P2,city_county,Namsan County,
P1-K1-F1,P1-K1,primary,Machine Works,industry
P2-K1-F1,P2-K1,primary,Steel Works,industry
";

struct World {
    server: TestServer,
    clock: ManualClock,
    ids: std::collections::HashMap<String, String>,
}

impl World {
    async fn new(backend: ganglion_testkit::TestBackend) -> Self {
        let clock = ManualClock::at(time::macros::datetime!(2026-03-02 09:00 UTC));
        let server = TestServer::start_with_clock(backend, clock.clone()).await;
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
        let world = Self { server, clock, ids };
        for (login, code, role) in [
            ("centre", "C", "secretary"),
            ("north", "P1", "secretary"),
            ("oksan", "P1-K1", "official"),
            ("okchon", "P1-K2", "official"),
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
                &json!({"person": person, "unit": self.id(code), "role": role, "start": "2020-01-01"}),
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

async fn transition(caller: &support::Caller<'_>, item: &str, body: Value) -> (StatusCode, Value) {
    let answer = caller
        .post(&format!("/api/v1/assignments/{item}/transition"), &body)
        .await;
    (
        answer.status,
        serde_json::from_str(&answer.text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_ten_year_programme_is_planned_built_and_followed() {
    for backend in backends() {
        let world = World::new(backend).await;
        let centre = world.as_("centre").await;
        // The programme: three years here, a factory a year per county, capacity reported.
        let created = centre
            .post(
                "/api/v1/programmes",
                &json!({
                    "owner": world.id("C"), "title": "20×10 regional development",
                    "start_year": 2026, "years": 3,
                    "description": "A modern regional-industry factory in every county.",
                    "metrics": [{"key": "capacity", "name": "Capacity", "unit": "t/year"}]
                }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let programme = created.json();
        let id = programme["id"].as_str().unwrap().to_owned();
        assert_eq!(programme["directives"].as_array().unwrap().len(), 3);

        let one = centre
            .post(
                &format!("/api/v1/programmes/{id}/projects"),
                &json!({"unit": world.id("P1-K1"), "year": 2026, "kind": "factory", "title": "Oksan foodstuff factory"}),
            )
            .await;
        assert_eq!(one.status, StatusCode::CREATED, "{}", one.text);
        let oksan_factory = one.json();
        assert_eq!(oksan_factory["state"], "planned");
        assert_eq!(oksan_factory["due"], "2026-12-31");
        assert_eq!(oksan_factory["id"], oksan_factory["assignment"]);
        let oksan_item = oksan_factory["id"].as_str().unwrap().to_owned();

        // A file with bad rows adds nothing and names every bad row.
        let bad = "unit_code,year,kind,title,due\n\
                   NOWHERE,2026,factory,Lost,\n\
                   P1-K2,2040,factory,Too late,\n\
                   P2-K1,2027,factory,,\n\
                   P1-K2,2026,factory,Okchon shoe factory,2026-13-01\n";
        let refused = world
            .server
            .send_as(
                centre.token.as_deref(),
                reqwest::Method::POST,
                &format!("/api/v1/programmes/{id}/projects.csv"),
                Some(("text/csv", bad.as_bytes().to_vec())),
                &[],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        let rows = refused.json()["error"]["rows"].as_array().unwrap().clone();
        let lines: Vec<u64> = rows.iter().map(|r| r["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [2, 3, 4, 5], "{}", refused.text);
        let good = "unit_code,year,kind,title,due\n\
                    P1-K2,2026,factory,Okchon shoe factory,\n\
                    P2-K1,2027,factory,Namsan textile mill,\n\
                    P1-K1,2028,hospital,Oksan county hospital,\n\
                    P1-K1,2028,leisure_complex,Oksan leisure complex,2028-10-01\n";
        let imported = world
            .server
            .send_as(
                centre.token.as_deref(),
                reqwest::Method::POST,
                &format!("/api/v1/programmes/{id}/projects.csv"),
                Some(("text/csv", good.as_bytes().to_vec())),
                &[],
            )
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
        assert_eq!(imported.json()["created"], 4);

        // Bad input: a year outside the programme, a unit outside the owner.
        let outside_year = centre
            .post(
                &format!("/api/v1/programmes/{id}/projects"),
                &json!({"unit": world.id("P1-K1"), "year": 2031, "kind": "factory", "title": "Later"}),
            )
            .await;
        assert_eq!(outside_year.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(outside_year.error_code(), "year_outside_programme");
        let north = world.as_("north").await;
        let provincial = north
            .post(
                "/api/v1/programmes",
                &json!({"owner": world.id("P1"), "title": "Northern roads", "start_year": 2026, "years": 2}),
            )
            .await;
        assert_eq!(
            provincial.status,
            StatusCode::CREATED,
            "{}",
            provincial.text
        );
        let provincial = provincial.json()["id"].as_str().unwrap().to_owned();
        let outside_owner = centre
            .post(
                &format!("/api/v1/programmes/{provincial}/projects"),
                &json!({"unit": world.id("P2-K1"), "year": 2026, "kind": "road", "title": "Namsan road"}),
            )
            .await;
        assert_eq!(
            outside_owner.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            outside_owner.text
        );
        assert_eq!(outside_owner.error_code(), "unit_outside_owner");
        for (body, field) in [
            (
                json!({"owner": world.id("C"), "title": "x", "start_year": 0, "years": 3}),
                "start_year",
            ),
            (
                json!({"owner": world.id("C"), "title": "x", "start_year": 2026, "years": 0}),
                "years",
            ),
            (
                json!({"owner": world.id("C"), "title": "x", "start_year": 2026, "years": 2, "metrics": [{"key": "Bad Key", "name": "n", "unit": ""}]}),
                "metrics.0.key",
            ),
        ] {
            let refused = centre.post("/api/v1/programmes", &body).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(refused.json()["error"]["field"], field);
        }

        // The county works its project through the milestones.
        let oksan = world.as_("oksan").await;
        let (status, answer) = transition(&oksan, &oksan_item, json!({"to": "in_operation"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "transition_not_allowed");
        let (status, answer) = transition(&oksan, &oksan_item, json!({"to": "blocked"})).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "blocked needs a reason: {answer}"
        );
        assert_eq!(answer["error"]["code"], "reason_required");
        let (status, answer) = transition(&oksan, &oksan_item, json!({"to": "finished"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_value");
        for step in ["ground_broken", "under_construction"] {
            let (status, answer) = transition(&oksan, &oksan_item, json!({"to": step})).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        let (status, answer) = transition(
            &oksan,
            &oksan_item,
            json!({"to": "completed", "note": "handed over", "metrics": {"capacity": 1200.0}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["kind"], "project");
        assert_eq!(answer["title"], "Oksan foodstuff factory");
        assert_eq!(answer["project"]["year"], 2026);
        assert_eq!(answer["metrics"]["capacity"], 1200.0);
        let steps: Vec<&str> = answer["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["to"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["ground_broken", "under_construction", "completed"]);
        assert!(answer["moves"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["action"] == "put_in_operation"));
        let (status, answer) = transition(
            &oksan,
            &oksan_item,
            json!({"to": "completed", "metrics": {"beds": 3.0}}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "no_metric");
        // Another county cannot see it, let alone move it; the centre only sends back.
        let okchon = world.as_("okchon").await;
        let (status, _) = transition(&okchon, &oksan_item, json!({"to": "in_operation"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = transition(&centre, &oksan_item, json!({"to": "in_operation"})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "above, work is not moved forward"
        );
        let (status, answer) = transition(&oksan, &oksan_item, json!({"to": "in_operation"})).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer["done_at"].is_string());

        // Plan against actual, by year and by province, at the centre.
        let progress = centre
            .get(&format!("/api/v1/programmes/{id}/progress"))
            .await;
        assert_eq!(progress.status, StatusCode::OK, "{}", progress.text);
        let progress = progress.json();
        let years: Vec<(i64, u64)> = progress["years"]
            .as_array()
            .unwrap()
            .iter()
            .map(|y| (y["year"].as_i64().unwrap(), y["planned"].as_u64().unwrap()))
            .collect();
        assert_eq!(years, [(2026, 2), (2027, 1), (2028, 2)]);
        let first = &progress["years"][0];
        assert_eq!(
            first["states"],
            json!({"planned": 1, "ground_broken": 0, "under_construction": 0,
                   "completed": 0, "in_operation": 1, "blocked": 0})
        );
        let regions: Vec<(&str, u64)> = progress["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["code"].as_str().unwrap(), c["planned"].as_u64().unwrap()))
            .collect();
        assert_eq!(regions, [("P1", 4), ("P2", 1)]);

        // The county official sees the programme for its own projects only.
        let seen = oksan.get(&format!("/api/v1/programmes/{id}")).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
        let theirs = oksan
            .get(&format!("/api/v1/programmes/{id}/progress"))
            .await
            .json();
        assert_eq!(theirs["unit"], world.id("P1-K1"));
        let planned: u64 = theirs["years"]
            .as_array()
            .unwrap()
            .iter()
            .map(|y| y["planned"].as_u64().unwrap())
            .sum();
        assert_eq!(planned, 3, "its factory, hospital and leisure complex");
        let at_centre = oksan
            .get(&format!(
                "/api/v1/programmes/{id}/progress?at={}",
                world.id("C")
            ))
            .await;
        assert_eq!(at_centre.status, StatusCode::NOT_FOUND);
        let listed = oksan
            .get(&format!("/api/v1/programmes/{id}/projects"))
            .await
            .json();
        let titles: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles.len(), 3, "{titles:?}");
        let hospitals = centre
            .get(&format!(
                "/api/v1/programmes/{id}/projects?year=2028&kind=hospital"
            ))
            .await
            .json();
        assert_eq!(hospitals["items"].as_array().unwrap().len(), 1);
        let namsan = world.as_("okchon").await;
        let hidden = namsan
            .get(&format!("/api/v1/programmes/{provincial}"))
            .await;
        assert_eq!(
            hidden.status,
            StatusCode::NOT_FOUND,
            "no project under Okchon in that programme"
        );
        let bad_state = centre
            .get(&format!("/api/v1/programmes/{id}/projects?state=finished"))
            .await;
        assert_eq!(bad_state.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Directives of every kind: a pledge to exactly two counties.
        let pledge = centre
            .post(
                "/api/v1/directives",
                &json!({"issuer": world.id("C"), "kind": "pledge", "title": "Letter of pledge", "body": "",
                        "due": "2026-06-30", "target": {"units": [world.id("P1-K1"), world.id("P2-K1")]}}),
            )
            .await;
        assert_eq!(pledge.status, StatusCode::CREATED, "{}", pledge.text);
        assert_eq!(pledge.json()["kind"], "pledge");
        let pledge = pledge.json()["id"].as_str().unwrap().to_owned();
        let issued = centre
            .post(&format!("/api/v1/directives/{pledge}/issue"), &json!({}))
            .await;
        assert_eq!(issued.json()["assignments"], 2, "{}", issued.text);
        for (body, code) in [
            (
                json!({"issuer": world.id("C"), "kind": "plan", "title": "t", "body": "", "due": "2026-06-30"}),
                "unknown_kind",
            ),
            (
                json!({"issuer": world.id("C"), "title": "t", "body": "", "due": "2026-06-30", "target": {"units": [world.id("P1"), "abc"]}}),
                "invalid_id",
            ),
            (
                json!({"issuer": world.id("C"), "title": "t", "body": "", "due": "2026-06-30", "target": {"units": [world.id("P1")], "kinds": ["ri"]}}),
                "invalid_value",
            ),
            (
                json!({"issuer": world.id("C"), "title": "t", "body": "", "due": "0000-06-30"}),
                "invalid_value",
            ),
        ] {
            let refused = centre.post("/api/v1/directives", &body).await;
            assert_eq!(
                refused.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {}",
                refused.text
            );
            assert_eq!(refused.error_code(), code, "{body}");
        }
        let outside = north
            .post(
                "/api/v1/directives",
                &json!({"issuer": world.id("P1"), "title": "t", "body": "", "due": "2026-06-30", "target": {"units": [world.id("P2-K1")]}}),
            )
            .await;
        assert_eq!(
            outside.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            outside.text
        );
        let rollup = centre
            .get(&format!("/api/v1/directives/{pledge}/rollup"))
            .await
            .json();
        assert_eq!(rollup["kind"], "pledge");
        assert_eq!(rollup["total"], 2);

        // Time passes: the pledge and the first year's factory fall due.
        world.clock.advance(time::Duration::days(320));
        let centre = world.as_("centre").await;
        let attention = centre
            .get(&format!("/api/v1/units/{}/attention", world.id("C")))
            .await;
        assert_eq!(attention.status, StatusCode::OK, "{}", attention.text);
        let attention = attention.json();
        assert_eq!(attention["counts"]["pledge"], 2, "{attention}");
        assert_eq!(
            attention["counts"]["project"], 1,
            "Okchon's factory; Oksan's is in operation"
        );
        assert_eq!(attention["counts"]["assignment"], 0);
        let items = attention["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["kind"], "pledge", "the most overdue first");
        assert_eq!(items[0]["due"], "2026-06-30");
        let days = items[0]["days_overdue"].as_u64().unwrap();
        assert!(days > items[2]["days_overdue"].as_u64().unwrap());
        assert_eq!(items[2]["title"], "Okchon shoe factory");
        let children: Vec<(&str, u64)> = attention["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["code"].as_str().unwrap(),
                    c["counts"]["pledge"].as_u64().unwrap()
                        + c["counts"]["project"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(children, [("P1", 2), ("P2", 1)]);
        let paged = centre
            .get(&format!(
                "/api/v1/units/{}/attention?limit=2",
                world.id("C")
            ))
            .await
            .json();
        assert_eq!(paged["items"].as_array().unwrap().len(), 2);
        let rest = centre
            .get(&format!(
                "/api/v1/units/{}/attention?limit=2&cursor={}",
                world.id("C"),
                paged["next_cursor"].as_str().unwrap()
            ))
            .await
            .json();
        assert_eq!(rest["items"].as_array().unwrap().len(), 1);
        assert!(rest["next_cursor"].is_null());
        let okchon = world.as_("okchon").await;
        let theirs = okchon
            .get(&format!("/api/v1/units/{}/attention", world.id("P1-K2")))
            .await
            .json();
        assert_eq!(theirs["counts"]["project"], 1);
        assert_eq!(theirs["counts"]["pledge"], 0);
        let forbidden = okchon
            .get(&format!("/api/v1/units/{}/attention", world.id("P1")))
            .await;
        assert_eq!(forbidden.status, StatusCode::NOT_FOUND);

        // A directive the read model let go is answered from the store alike.
        let before = centre
            .get(&format!("/api/v1/directives/{pledge}/rollup"))
            .await
            .json();
        let closed = centre
            .post(&format!("/api/v1/directives/{pledge}/close"), &json!({}))
            .await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
        assert!(world.server.app.evict_idle_sources() >= 1);
        let after = centre
            .get(&format!("/api/v1/directives/{pledge}/rollup"))
            .await
            .json();
        assert_eq!(after["total"], before["total"]);
        assert_eq!(after["states"], before["states"]);
        assert_eq!(after["overdue"], 0, "a closed directive is overdue nowhere");
        world.server.stop().await;
    }
}
