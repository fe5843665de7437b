//! The library of good experience and honours over HTTP, on each backend: full-text
//! search in Korean and English (a Korean word inside a longer word, a syllable, an
//! English word in any inflection), ranked, with snippets that mark the match; an
//! experience kept to its subtree never reaching anyone outside, in results, counts or
//! snippets; bad input answered 4xx or with nothing; titles awarded again and
//! withdrawn; a written experience surviving `kill -9`, and found by a second server.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{backends, TestServer};

const PASSWORD: &str = "a-long-enough-password";

/// C ─ P1 ─ K1 ─ U1 ─ X1
///        └ K2
///   └ P2
const ORGANIZATION: &str = "code,parent_code,kind,name,tags
C,,centre,Central Committee,
P1,C,province,North Province,
P2,C,province,South Province,
K1,P1,city_county,Oksan County,
K2,P1,city_county,Okchon County,
U1,K1,ri,청산리 위원회,rural
X1,U1,cell,Cell 1,
";

struct World {
    server: TestServer,
    ids: HashMap<String, String>,
    tokens: HashMap<String, String>,
}

impl World {
    async fn new(backend: ganglion_testkit::TestBackend) -> Self {
        let server = TestServer::start(backend).await;
        let imported = server
            .post_raw("/api/v1/import/units", "text/csv", ORGANIZATION)
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
        let mut ids = HashMap::new();
        let listing = server.get("/api/v1/units?limit=1000").await.json();
        for unit in listing["items"].as_array().unwrap() {
            ids.insert(
                unit["code"].as_str().unwrap().to_owned(),
                unit["id"].as_str().unwrap().to_owned(),
            );
        }
        let mut world = Self {
            server,
            ids,
            tokens: HashMap::new(),
        };
        for (login, code, role) in [
            ("centre", "C", "secretary"),
            ("north", "P1", "secretary"),
            ("south", "P2", "secretary"),
            ("oksan", "K1", "official"),
            ("okchon", "K2", "official"),
            ("cell-member", "X1", "member"),
            ("ri-member", "U1", "member"),
        ] {
            world.account(login, code, role).await;
        }
        world
    }

    fn id(&self, code: &str) -> &str {
        &self.ids[code]
    }

    async fn account(&mut self, login: &str, code: &str, role: &str) {
        let server = &self.server;
        let person = server
            .post(
                "/api/v1/people",
                &json!({"name": format!("Holder {login}")}),
            )
            .await;
        let person = person.json()["id"].as_str().unwrap().to_owned();
        let post = server
            .post(
                "/api/v1/posts",
                &json!({"person": person, "unit": self.ids[code], "role": role, "start": "2020-01-01"}),
            )
            .await;
        assert_eq!(post.status, StatusCode::CREATED, "{}", post.text);
        let account = server
            .post(
                "/api/v1/accounts",
                &json!({"login": login, "password": PASSWORD, "person": person}),
            )
            .await;
        assert_eq!(account.status, StatusCode::CREATED, "{}", account.text);
        let token = server.login(login, PASSWORD).await;
        self.tokens.insert(login.to_owned(), token);
    }

    fn as_(&self, login: &str) -> support::Caller<'_> {
        self.server.as_caller(Some(self.tokens[login].clone()))
    }

    async fn write(&self, login: &str, body: Value) -> Value {
        let answer = self.as_(login).post("/api/v1/experiences", &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()
    }

    async fn search(&self, login: &str, query: &str) -> Value {
        let path = format!("/api/v1/experiences?{query}");
        let answer = self.as_(login).get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        answer.json()
    }
}

/// `q=` and the text, percent-encoded.
fn q(text: &str) -> String {
    let encoded: String = text
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("q={encoded}")
}

fn titles(results: &Value) -> Vec<String> {
    results["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn korean_and_english_are_found_ranked_and_marked() {
    for backend in backends() {
        let world = World::new(backend).await;
        let k1 = world.id("K1").to_owned();
        let k2 = world.id("K2").to_owned();
        world
            .write(
                "oksan",
                json!({"unit": k1, "title": "질소비료를 제때에 실어 나른 경험",
                       "body": "협동농장은 질소비료를 제때에 날라 쌀 생산을 높였다.",
                       "tags": ["농업", "Fertilizer"]}),
            )
            .await;
        world
            .write(
                "okchon",
                json!({"unit": k2, "title": "분조관리제 경험",
                       "body": "분조마다 땅을 맡아 관리하였고 가을에는 비료를 더 주었다. 햅쌀을 거두었다."}),
            )
            .await;
        world
            .write(
                "okchon",
                json!({"unit": k2, "title": "Raising the output of the limestone mine",
                       "body": "How the mine raised its output by a third in one year.",
                       "tags": ["industry"]}),
            )
            .await;

        // A two-syllable word inside a longer word; the title's match ranks first.
        let found = world.search("okchon", &q("비료")).await;
        assert_eq!(found["total"], 2, "{backend:?}: {found}");
        assert_eq!(
            titles(&found),
            vec!["질소비료를 제때에 실어 나른 경험", "분조관리제 경험"],
            "{backend:?}"
        );
        let snippet = found["items"][0]["snippet"].as_str().unwrap();
        assert!(
            snippet.contains("질소<mark>비료</mark>를"),
            "{backend:?}: {snippet}"
        );
        // One syllable.
        let rice = world.search("okchon", &q("쌀")).await;
        assert_eq!(rice["total"], 2, "{backend:?}: {rice}");
        // Every word is required, across the two languages.
        let both = world.search("okchon", &q("질소비료 쌀")).await;
        assert_eq!(titles(&both), vec!["질소비료를 제때에 실어 나른 경험"]);
        assert_eq!(
            world.search("okchon", &q("비료 limestone")).await["total"],
            0
        );
        // English in any inflection, in any case.
        for query in ["raised", "raising", "RAISES", "mines output"] {
            let english = world.search("okchon", &q(query)).await;
            assert_eq!(
                titles(&english),
                vec!["Raising the output of the limestone mine"],
                "{backend:?}: {query}"
            );
        }
        let english = world.search("okchon", &q("raised")).await;
        let snippet = english["items"][0]["snippet"].as_str().unwrap();
        assert!(
            snippet.contains("<mark>raised</mark>"),
            "{backend:?}: {snippet}"
        );
        // Filters: a tag (kept lowercase), a subtree.
        assert_eq!(
            titles(&world.search("okchon", "tag=fertilizer").await),
            vec!["질소비료를 제때에 실어 나른 경험"]
        );
        let under = world
            .search("okchon", &format!("{}&under={k2}", q("비료")))
            .await;
        assert_eq!(titles(&under), vec!["분조관리제 경험"]);
        // Without a query, the newest first; pages add up to the count.
        let newest = world.search("okchon", "limit=2").await;
        assert_eq!(newest["total"], 3);
        assert_eq!(
            titles(&newest),
            vec![
                "Raising the output of the limestone mine",
                "분조관리제 경험"
            ]
        );
        let cursor = newest["next_cursor"].as_str().unwrap();
        let rest = world
            .search("okchon", &format!("limit=2&cursor={cursor}"))
            .await;
        assert_eq!(titles(&rest), vec!["질소비료를 제때에 실어 나른 경험"]);
        assert!(rest["next_cursor"].is_null());
        world.server.stop().await;
    }
}

#[tokio::test]
async fn an_experience_kept_to_its_subtree_never_reaches_outside() {
    for backend in backends() {
        let world = World::new(backend).await;
        let k1 = world.id("K1").to_owned();
        let kept = world
            .write(
                "oksan",
                json!({"unit": k1, "title": "햅쌀 비료 배합의 비밀",
                       "body": "군안에서만 나누는 석회석 배합 비결: 비료를 세 번 나누어 준다.",
                       "audience": "subtree", "tags": ["secret-recipe"]}),
            )
            .await;
        let id = kept["id"].as_str().unwrap().to_owned();
        assert_eq!(kept["audience"], "subtree");
        world
            .write(
                "oksan",
                json!({"unit": k1, "title": "공개된 비료 경험", "body": "비료를 제때에 주었다."}),
            )
            .await;
        // Inside: the writing unit, units under it (even a member of a cell), and those
        // with authority over it.
        for login in ["oksan", "ri-member", "cell-member", "north", "centre"] {
            let found = world.search(login, &q("비료")).await;
            assert_eq!(found["total"], 2, "{backend:?}: {login}: {found}");
            let answer = world
                .as_(login)
                .get(&format!("/api/v1/experiences/{id}"))
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{backend:?}: {login}");
        }
        // Outside: a sibling county, another province. Not in the results, the count,
        // any snippet, the tags, nor by its id.
        for login in ["okchon", "south"] {
            for (query, expected) in [
                (q("비료"), 1),
                (q("석회석"), 0),
                (q("비결"), 0),
                (q("햅쌀 비밀"), 0),
                ("tag=secret-recipe".to_owned(), 0),
                (String::new(), 1),
            ] {
                let found = world.search(login, &query).await;
                let text = found.to_string();
                assert!(
                    !text.contains("비밀")
                        && !text.contains("비결")
                        && !text.contains(&format!("\"id\":\"{id}\"")),
                    "{backend:?}: {login} {query}: {text}"
                );
                assert_eq!(
                    found["total"], expected,
                    "{backend:?}: {login} {query}: {text}"
                );
            }
            let answer = world
                .as_(login)
                .get(&format!("/api/v1/experiences/{id}"))
                .await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{backend:?}: {login}");
        }
        world.server.stop().await;
    }
}

#[tokio::test]
async fn bad_input_is_a_4xx_or_nothing_and_never_a_5xx() {
    for backend in backends() {
        let world = World::new(backend).await;
        let k1 = world.id("K1").to_owned();
        world
            .write(
                "oksan",
                json!({"unit": k1, "title": "비료", "body": "질소비료"}),
            )
            .await;
        // Queries with nothing to search for find nothing; none is a 5xx.
        for query in [
            "",
            "   ",
            "!!!",
            "?,.;:",
            "\"",
            "*",
            "NEAR(",
            "\" OR \"",
            "-",
            "'&|!<->",
            "비료\"",
            "AND OR NOT",
        ] {
            let answer = world
                .as_("oksan")
                .get(&format!("/api/v1/experiences?{}", q(query)))
                .await;
            assert!(
                answer.status == StatusCode::OK,
                "{backend:?}: {query:?}: {} {}",
                answer.status,
                answer.text
            );
        }
        for query in ["", "   ", "!!!", "?,.;:"] {
            assert_eq!(
                world.search("oksan", &q(query)).await["total"],
                0,
                "{query:?}"
            );
        }
        // Operators of the engines are words like any other.
        assert_eq!(world.search("oksan", &q("비료\"")).await["total"], 1);
        // Ten thousand characters (ASCII, so that the address stays within what HTTP takes).
        let long = "fertilizer ".repeat(910);
        let answer = world
            .as_("oksan")
            .get(&format!("/api/v1/experiences?{}", q(&long)))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        assert_eq!(answer.error_code(), "invalid_value");
        for (query, code) in [
            ("limit=0", "invalid_limit"),
            ("cursor=!!!", "invalid_cursor"),
            ("under=abc", "invalid_id"),
            ("tag=a%20b", "invalid_value"),
            ("directive=x", "invalid_id"),
            ("colour=red", "invalid_query"),
        ] {
            let answer = world
                .as_("oksan")
                .get(&format!("/api/v1/experiences?{query}"))
                .await;
            assert!(answer.status.is_client_error(), "{query}: {}", answer.text);
            assert_eq!(answer.error_code(), code, "{query}");
        }
        let answer = world
            .as_("oksan")
            .get("/api/v1/experiences?under=999999")
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        // Bad experiences: nothing is written.
        let p2 = world.id("P2").to_owned();
        let u1 = world.id("U1").to_owned();
        for (body, status, code) in [
            (
                json!({"unit": k1, "title": "", "body": "x"}),
                422,
                "invalid_value",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "a\u{0}b"}),
                422,
                "invalid_value",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "x".repeat(20_001)}),
                422,
                "invalid_value",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "b", "audience": "friends"}),
                422,
                "invalid_value",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "b", "tags": ["a b"]}),
                422,
                "invalid_value",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "b", "media": [{"title": "v", "url": "javascript:alert(1)"}]}),
                422,
                "invalid_value",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "b", "directive": "999999"}),
                422,
                "unknown_directive",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "b", "programme": "999999"}),
                422,
                "unknown_programme",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "b", "event": "1"}),
                422,
                "unknown_event",
            ),
            (
                json!({"unit": k1, "title": "t", "body": "b", "colour": "red"}),
                422,
                "invalid_field",
            ),
            (
                json!({"unit": p2, "title": "t", "body": "b"}),
                422,
                "unknown_unit",
            ),
            (
                json!({"unit": "x", "title": "t", "body": "b"}),
                422,
                "invalid_id",
            ),
        ] {
            let answer = world.as_("oksan").post("/api/v1/experiences", &body).await;
            assert_eq!(answer.status.as_u16(), status, "{body}: {}", answer.text);
            assert_eq!(answer.error_code(), code, "{body}");
        }
        // A member reads the unit but does not write for it.
        let answer = world
            .as_("ri-member")
            .post(
                "/api/v1/experiences",
                &json!({"unit": u1, "title": "t", "body": "b"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
        assert_eq!(
            world.search("oksan", "").await["total"],
            1,
            "nothing more was written"
        );
        let answer = world.as_("oksan").get("/api/v1/experiences/abc").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        world.server.stop().await;
    }
}

#[tokio::test]
async fn experience_comes_from_directives_and_programmes_the_writer_sees() {
    for backend in backends() {
        let world = World::new(backend).await;
        let k1 = world.id("K1").to_owned();
        let p2 = world.id("P2").to_owned();
        let draft = |issuer: &str| json!({"issuer": issuer, "title": "On the harvest", "body": "", "due": "2099-01-01"});
        let own = world
            .server
            .post("/api/v1/directives", &draft(&k1))
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let foreign = world
            .server
            .post("/api/v1/directives", &draft(&p2))
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let programme = world
            .server
            .post(
                "/api/v1/programmes",
                &json!({"owner": k1, "title": "Ten years", "start_year": 2026, "years": 10}),
            )
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let written = world
            .write(
                "oksan",
                json!({"unit": k1, "title": "From the decision", "body": "What we learned.",
                       "directive": own, "programme": programme,
                       "media": [{"title": "The film", "url": "https://media.example.org/film.mp4"}]}),
            )
            .await;
        assert_eq!(written["directive"], own);
        assert_eq!(written["programme"], programme);
        assert_eq!(
            written["media"][0]["url"],
            "https://media.example.org/film.mp4"
        );
        let answer = world
            .as_("oksan")
            .post(
                "/api/v1/experiences",
                &json!({"unit": k1, "title": "t", "body": "b", "directive": foreign}),
            )
            .await;
        assert_eq!(answer.error_code(), "unknown_directive", "{}", answer.text);
        let linked = world.search("okchon", &format!("directive={own}")).await;
        assert_eq!(titles(&linked), vec!["From the decision"]);
        let linked = world
            .search("okchon", &format!("programme={programme}"))
            .await;
        assert_eq!(titles(&linked), vec!["From the decision"]);
        assert_eq!(
            world
                .search("okchon", &format!("directive={foreign}"))
                .await["total"],
            0
        );
        world.server.stop().await;
    }
}

#[tokio::test]
async fn titles_are_awarded_again_and_withdrawn() {
    for backend in backends() {
        let world = World::new(backend).await;
        let (p1, k1, k2, u1) = (
            world.id("P1").to_owned(),
            world.id("K1").to_owned(),
            world.id("K2").to_owned(),
            world.id("U1").to_owned(),
        );
        let award = |unit: &str, by: &str, on: &str| {
            json!({"unit": unit, "name": "Three-Revolution Red Flag", "awarded_by": by,
                   "awarded_on": on, "period": {"from": "2025-01-01", "to": "2025-12-31"},
                   "grounds": "Overfulfilled the plan."})
        };
        let first = world
            .as_("north")
            .post("/api/v1/titles", &award(&u1, &p1, "2025-12-28"))
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert_eq!(first.json()["times"], 1);
        assert_eq!(first.json()["awarded_by_name"], "North Province");
        let second = world
            .as_("north")
            .post("/api/v1/titles", &award(&u1, &p1, "2026-12-28"))
            .await;
        assert_eq!(second.json()["times"], 2);
        let third = world
            .as_("oksan")
            .post("/api/v1/titles", &award(&u1, &k1, "2026-12-29"))
            .await;
        assert_eq!(third.json()["times"], 3, "{}", third.text);
        let third = third.json()["id"].as_str().unwrap().to_owned();

        // Who may not award, and what is not above.
        for (login, body, status, code) in [
            ("oksan", award(&u1, &p1, "2026-01-01"), 403, "forbidden"),
            ("ri-member", award(&u1, &k1, "2026-01-01"), 403, "forbidden"),
            ("okchon", award(&u1, &k2, "2026-01-01"), 422, "unknown_unit"),
            ("north", award(&k2, &k1, "2026-01-01"), 422, "not_above"),
            ("north", award(&p1, &p1, "2026-01-01"), 422, "not_above"),
            ("north", award(&u1, &p1, "2026-13-01"), 422, "invalid_value"),
            (
                "north",
                award(&u1, "999999", "2026-01-01"),
                403,
                "forbidden",
            ),
            (
                "north",
                json!({"unit": u1, "name": "", "awarded_by": p1, "awarded_on": "2026-01-01", "grounds": "g"}),
                422,
                "invalid_value",
            ),
            (
                "north",
                json!({"unit": u1, "name": "n", "awarded_by": p1, "awarded_on": "2026-01-01", "grounds": "g", "period": {"from": "2026-02-01", "to": "2026-01-01"}}),
                422,
                "invalid_value",
            ),
        ] {
            let answer = world.as_(login).post("/api/v1/titles", &body).await;
            assert_eq!(
                answer.status.as_u16(),
                status,
                "{login} {body}: {}",
                answer.text
            );
            assert_eq!(answer.error_code(), code, "{login} {body}");
        }
        let answer = world
            .server
            .post("/api/v1/titles", &award(&u1, "999999", "2026-01-01"))
            .await;
        assert_eq!(
            answer.error_code(),
            "unknown_unit",
            "the administrator is told"
        );

        // Withdrawing: by those who may award in the awarding unit's name, with a reason.
        let path = format!("/api/v1/titles/awards/{third}/withdraw");
        let answer = world
            .as_("okchon")
            .post(&path, &json!({"reason": "no"}))
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
        let answer = world
            .as_("oksan")
            .post(&path, &json!({"reason": "  "}))
            .await;
        assert_eq!(answer.error_code(), "reason_required");
        let answer = world
            .as_("oksan")
            .post(&path, &json!({"reason": "Figures inflated."}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json()["withdrawn"]["reason"], "Figures inflated.");
        let answer = world
            .as_("north")
            .post(&path, &json!({"reason": "again"}))
            .await;
        assert_eq!(answer.status, StatusCode::CONFLICT);
        assert_eq!(answer.error_code(), "award_withdrawn");
        let answer = world
            .as_("north")
            .post(
                "/api/v1/titles/awards/999999/withdraw",
                &json!({"reason": "r"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);

        // Every account sees the honours, by title and region.
        let list = world.as_("south").get("/api/v1/titles").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let list = list.json();
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list["items"][0]["unit"], u1.as_str());
        assert_eq!(
            list["items"][0]["times"], 2,
            "the withdrawn award no longer counts"
        );
        assert_eq!(list["items"][0]["awards"].as_array().unwrap().len(), 3);
        let none = world
            .as_("south")
            .get(&format!("/api/v1/titles?under={}", world.id("P2")))
            .await
            .json();
        assert!(none["items"].as_array().unwrap().is_empty());
        let named = world
            .as_("south")
            .get("/api/v1/titles?name=Model%20Cell")
            .await
            .json();
        assert!(named["items"].as_array().unwrap().is_empty());
        let award = world
            .as_("south")
            .get(&format!("/api/v1/titles/awards/{third}"))
            .await;
        assert_eq!(award.status, StatusCode::OK);
        // A unit's titles, as the unit is seen.
        let own = world
            .as_("oksan")
            .get(&format!("/api/v1/units/{u1}/titles"))
            .await;
        assert_eq!(own.status, StatusCode::OK);
        assert_eq!(own.json()[0]["times"], 2);
        let hidden = world
            .as_("okchon")
            .get(&format!("/api/v1/units/{u1}/titles"))
            .await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        world.server.stop().await;
    }
}

#[tokio::test]
async fn a_second_server_finds_a_new_experience_at_once() {
    for backend in backends() {
        let world = World::new(backend).await;
        let second_app = ganglion_app::App::open(&world.server.database.url)
            .await
            .expect("a second server opens the same database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let second_base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let second = tokio::spawn(ganglion_web::serve_with(
            listener,
            second_app.clone(),
            support::test_settings(),
            async {
                let _ = stopped.await;
            },
        ));
        let k1 = world.id("K1").to_owned();
        world
            .write(
                "oksan",
                json!({"unit": k1, "title": "석회석광산의 경험", "body": "광산은 생산을 높였다."}),
            )
            .await;
        let written = Instant::now();
        let token = world.tokens["okchon"].clone();
        let client = reqwest::Client::new();
        let mut found = false;
        while written.elapsed() < Duration::from_secs(1) {
            let answer: Value = client
                .get(format!("{second_base}/api/v1/experiences?{}", q("광산")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if answer["total"] == 1 {
                found = true;
                break;
            }
        }
        assert!(
            found,
            "{backend:?}: the second server found it within a second"
        );
        let _ = stop.send(());
        second.await.unwrap().unwrap();
        second_app.close().await;
        world.server.stop().await;
    }
}

/// The real server binary, serving a database, and the address it listens on.
struct Binary {
    child: std::process::Child,
    base: String,
}

impl Binary {
    fn serve(url: &str) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ganglion"))
            .args(["serve", "--db", url, "--listen", "127.0.0.1:0"])
            .env_remove("GANGLION_DATABASE_URL")
            .env("GANGLION_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        // The server says where it listens once it does.
        let base = loop {
            let line = lines
                .next()
                .expect("the server says where it listens")
                .unwrap();
            if let Some(rest) = line.strip_prefix("Ganglion is serving at ") {
                break rest.split('/').take(3).collect::<Vec<_>>().join("/");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, base }
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown, no flush, nothing but what was committed.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[tokio::test]
async fn a_written_experience_survives_kill_9() {
    for backend in backends() {
        let world = World::new(backend).await;
        let k1 = world.id("K1").to_owned();
        // The test's own server stays up on the same database: the binary is a second
        // server, killed and started again.
        let url = world.server.database.url.clone();
        let token = world.tokens["oksan"].clone();
        let client = reqwest::Client::new();
        let server = Binary::serve(&url);
        let answer = client
            .post(format!("{}/api/v1/experiences", server.base))
            .bearer_auth(&token)
            .json(&json!({"unit": k1, "title": "질소비료를 나른 경험", "body": "비료를 제때에 날랐다."}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        let id = answer.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        server.kill();

        let server = Binary::serve(&url);
        let answer = client
            .get(format!("{}/api/v1/experiences/{id}", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{backend:?}: it survived");
        let found: Value = client
            .get(format!("{}/api/v1/experiences?{}", server.base, q("비료")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["total"], 1, "{backend:?}: and its index with it");
        server.kill();
        world.server.stop().await;
    }
}

#[tokio::test]
async fn a_restored_library_is_searched_as_before() {
    for backend in backends() {
        let world = World::new(backend).await;
        let k1 = world.id("K1").to_owned();
        world
            .write(
                "oksan",
                json!({"unit": k1, "title": "질소비료를 나른 경험", "body": "Raising the harvest."}),
            )
            .await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ganglion.backup");
        world
            .server
            .app
            .backup(&ganglion_app::Ctx::operator(), &file)
            .await
            .unwrap();
        // Into each backend: the index is made again from the experiences.
        for target in backends() {
            let database = ganglion_testkit::TestDatabase::new(target);
            let (restored, _) = ganglion_app::App::restore(&database.url, &file)
                .await
                .unwrap();
            for query in ["비료", "raised"] {
                let found = restored
                    .experiences()
                    .search(
                        &ganglion_app::Ctx::operator(),
                        ganglion_app::ExperienceQuery {
                            q: Some(query.into()),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                assert_eq!(found.total, 1, "{backend:?} → {target:?}: {query}");
            }
            restored.close().await;
        }
        world.server.stop().await;
    }
}
