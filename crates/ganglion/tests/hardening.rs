//! The faults an outside test of the running server found, each as it was met: a leak
//! of people through the bodies of writes, cross-site writes through the API, lock-out
//! as a weapon, a 500 on removing a unit with history, formulas in exported CSV, and the
//! smaller ones. Each test failed before its fix.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{backends, test_settings, TestServer};

use support::OFFICIAL_PASSWORD as PASSWORD;

/// C ─ P1 ─ K1, K2: the county officials of K1 and K2, by login.
async fn two_counties(server: &TestServer) -> (String, String, String) {
    let c = server.unit(None, "centre", "C").await;
    let p1 = server.unit(Some(&c), "province", "P1").await;
    let k1 = server.unit(Some(&p1), "city_county", "K1").await;
    let k2 = server.unit(Some(&p1), "city_county", "K2").await;
    server
        .appoint("Official of K1", &k1, "official", "k1")
        .await;
    let outsider = server.appoint("Secret Name", &k2, "official", "k2").await;
    (k1, k2, outsider)
}

#[tokio::test]
async fn a_post_names_only_a_person_the_caller_may_read() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let (k1, _k2, outsider) = two_counties(&server).await;
        let county = server.as_caller(Some(server.login("k1", PASSWORD).await));

        // The person of the other county is a 404 in a path...
        let read = county.get(&format!("/api/v1/people/{outsider}")).await;
        assert_eq!(read.status, StatusCode::NOT_FOUND);
        // ...and in a body exactly what a person that does not exist is.
        let named = county
            .post(
                "/api/v1/posts",
                &json!({"person": outsider, "unit": k1, "role": "member"}),
            )
            .await;
        let missing = county
            .post(
                "/api/v1/posts",
                &json!({"person": "999999", "unit": k1, "role": "member"}),
            )
            .await;
        assert_eq!(
            named.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            named.text
        );
        assert_eq!(named.error_code(), "unknown_person");
        assert_eq!(missing.error_code(), "unknown_person");
        assert!(!named.text.contains("Secret Name"), "{}", named.text);
        let posts = server
            .get(&format!("/api/v1/units/{k1}/posts"))
            .await
            .json();
        assert_eq!(
            posts.as_array().unwrap().len(),
            1,
            "nobody was pulled in: {posts}"
        );

        // A person the official records is theirs to read, list and appoint.
        let made = county
            .post("/api/v1/people", &json!({"name": "New Member"}))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let made = made.json()["id"].as_str().unwrap().to_owned();
        let read = county.get(&format!("/api/v1/people/{made}")).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        let listed = county.get("/api/v1/people").await.json();
        assert!(
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == json!(made)),
            "{listed}"
        );
        let appointed = county
            .post(
                "/api/v1/posts",
                &json!({"person": made, "unit": k1, "role": "member"}),
            )
            .await;
        assert_eq!(appointed.status, StatusCode::CREATED, "{}", appointed.text);
        // The other county still cannot see them.
        let other = server.as_caller(Some(server.login("k2", PASSWORD).await));
        assert_eq!(
            other.get(&format!("/api/v1/people/{made}")).await.status,
            StatusCode::NOT_FOUND
        );

        // A people import that names the outsider's key neither shows nor uses them.
        let header = "person_ref,name,unit_code,role,title,start,end\n";
        let keyed = server
            .post_raw(
                "/api/v1/import/people",
                "text/csv",
                format!("{header}SECRET-1,Secret Name,,,,,\n"),
            )
            .await;
        assert_eq!(keyed.status, StatusCode::OK, "{}", keyed.text);
        let guess = county
            .send(Method::POST, "/api/v1/import/people", Some(&Value::Null))
            .await;
        assert_eq!(guess.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let county_token = county.token.clone().unwrap();
        let guess = server
            .send_as(
                Some(&county_token),
                Method::POST,
                "/api/v1/import/people",
                Some((
                    "text/csv",
                    format!("{header}SECRET-1,Someone Else,K1,member,,,\n").into_bytes(),
                )),
                &[],
            )
            .await;
        assert_eq!(
            guess.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            guess.text
        );
        assert!(!guess.text.contains("Secret Name"), "{}", guess.text);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_unit_with_any_tracked_item_is_kept_with_a_409() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let p1 = server.unit(Some(&c), "province", "P1").await;
        let k1 = server.unit(Some(&p1), "city_county", "K1").await;
        let directive = server
            .post(
                "/api/v1/directives",
                &json!({"issuer": c, "title": "t", "body": "", "due": "2099-01-01"}),
            )
            .await;
        assert_eq!(directive.status, StatusCode::CREATED, "{}", directive.text);
        let id = directive.json()["id"].as_str().unwrap().to_owned();
        let issued = server
            .post(&format!("/api/v1/directives/{id}/issue"), &json!({}))
            .await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        // K1 has an assignment and nothing else: it used to fail on the foreign key.
        let removed = server.delete(&format!("/api/v1/units/{k1}")).await;
        assert_eq!(removed.status, StatusCode::CONFLICT, "{}", removed.text);
        assert_eq!(removed.error_code(), "unit_has_history");
        assert!(removed.text.contains("assignments"), "{}", removed.text);
        assert_eq!(
            server.get(&format!("/api/v1/units/{k1}")).await.status,
            StatusCode::OK
        );
        // A unit nothing refers to goes.
        let empty = server.unit(Some(&p1), "city_county", "K9").await;
        assert_eq!(
            server
                .delete(&format!("/api/v1/units/{empty}"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        server.stop().await;
    }
}

/// The form token a page gives this session, read from a page's form.
async fn page_csrf_token(server: &TestServer, cookie: &str) -> String {
    let page = server
        .send_as(None, Method::GET, "/work", None, &[("cookie", cookie)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let at = page
        .text
        .find("name=\"csrf\" value=\"")
        .expect("a form token")
        + 19;
    page.text[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_cookie_write_to_the_api_needs_the_csrf_token() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let draft = server
            .post(
                "/api/v1/directives",
                &json!({"issuer": c, "title": "t", "body": "", "due": "2099-01-01"}),
            )
            .await;
        let id = draft.json()["id"].as_str().unwrap().to_owned();
        let token = server.login("admin", support::ADMIN_PASSWORD).await;
        let cookie = format!("{}={token}", ganglion_web::SESSION_COOKIE);
        let issue = format!("/api/v1/directives/{id}/issue");

        // Each form another site can make a browser send, with the cookie.
        let forms: Vec<CrossSiteForm<'_>> = vec![
            ("POST", None),
            ("POST", Some(("text/plain", b"x".to_vec()))),
            (
                "POST",
                Some(("application/x-www-form-urlencoded", b"a=b".to_vec())),
            ),
            (
                "POST",
                Some(("multipart/form-data; boundary=x", b"--x--".to_vec())),
            ),
            ("POST", Some(("application/json", b"{}".to_vec()))),
        ];
        for (method, body) in forms {
            let answer = server
                .send_as(
                    None,
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &issue,
                    body,
                    &[("cookie", &cookie), ("origin", "http://evil.example:8081")],
                )
                .await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
            assert_eq!(answer.error_code(), "csrf_token_required");
        }
        for method in [Method::PATCH, Method::DELETE] {
            let answer = server
                .send_as(
                    None,
                    method,
                    &format!("/api/v1/units/{c}"),
                    None,
                    &[("cookie", &cookie)],
                )
                .await;
            assert_eq!(answer.error_code(), "csrf_token_required");
        }
        let wrong = server
            .send_as(
                None,
                Method::POST,
                &issue,
                None,
                &[("cookie", &cookie), ("x-csrf-token", "not-the-token")],
            )
            .await;
        assert_eq!(wrong.error_code(), "csrf_token_required");
        let directive = server.get(&format!("/api/v1/directives/{id}")).await.json();
        assert_eq!(directive["state"], json!("draft"), "nothing was issued");

        // The session's own token lets the page's script write; reads need none.
        let csrf = page_csrf_token(&server, &cookie).await;
        let read = server
            .send_as(
                None,
                Method::GET,
                "/api/v1/units",
                None,
                &[("cookie", &cookie)],
            )
            .await;
        assert_eq!(read.status, StatusCode::OK);
        let allowed = server
            .send_as(
                None,
                Method::POST,
                &issue,
                None,
                &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            )
            .await;
        assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
        // A bearer token needs none.
        let other = server
            .post(
                "/api/v1/directives",
                &json!({"issuer": c, "title": "u", "body": "", "due": "2099-01-01"}),
            )
            .await;
        assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_flood_is_answered_429_per_account_and_per_client() {
    let settings = ganglion_web::Settings {
        rate_limit: "5/20".parse().unwrap(),
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
    };
    let server =
        TestServer::start_with(ganglion_testkit::TestBackend::Sqlite, None, settings).await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let answer = server.get("/api/v1/units").await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.error_code(), "rate_limited");
            let wait: u64 = answer.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
        statuses.push(answer.status.as_u16());
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        (1..=20).contains(&limited) && statuses[..19].iter().all(|s| *s == 200),
        "a burst of 20 passes, then the account waits: {statuses:?}"
    );
    // Anonymous requests from one client meet the client's bucket (4 × 20).
    let mut anonymous = 0;
    for _ in 0..120 {
        let answer = server
            .send_as(
                None,
                Method::GET,
                "/healthz",
                None,
                &[("x-forwarded-for", "203.0.113.9")],
            )
            .await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            anonymous += 1;
        }
    }
    assert!(anonymous > 0, "the client's bucket ran out");
    // Another client is untouched.
    let elsewhere = server
        .send_as(
            None,
            Method::GET,
            "/healthz",
            None,
            &[("x-forwarded-for", "203.0.113.10")],
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::OK);
    server.stop().await;
}

async fn sign_in_from(server: &TestServer, client: &str, password: &str) -> support::Answer {
    server
        .send_as(
            None,
            Method::POST,
            "/api/v1/sessions",
            Some((
                "application/json",
                json!({"login": "admin", "password": password})
                    .to_string()
                    .into_bytes(),
            )),
            &[("x-forwarded-for", client)],
        )
        .await
}

#[tokio::test]
async fn failed_sign_ins_hold_back_only_that_login_from_that_client() {
    let clock = ganglion_app::ManualClock::starting_now();
    let settings = ganglion_web::Settings {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..test_settings()
    };
    let server = TestServer::start_with(
        ganglion_testkit::TestBackend::Sqlite,
        Some(clock.clone()),
        settings,
    )
    .await;
    let attacker = "198.51.100.7";
    for _ in 0..5 {
        let answer = sign_in_from(&server, attacker, "not the password").await;
        assert_eq!(answer.error_code(), "bad_credentials");
    }
    let mut waits = Vec::new();
    for _ in 0..2 {
        let held = sign_in_from(&server, attacker, support::ADMIN_PASSWORD).await;
        assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "{}", held.text);
        let wait: i64 = held.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 0 && wait <= 15 * 60);
        waits.push(wait);
        clock.advance(time::Duration::seconds(wait));
        // One more failure after the wait: twice as long.
        let answer = sign_in_from(&server, attacker, "still not it").await;
        assert_eq!(answer.error_code(), "bad_credentials");
    }
    assert_eq!(waits[1], waits[0] * 2, "{waits:?}");
    // The administrator, from their own address, is never refused.
    let owner = sign_in_from(&server, "192.0.2.1", support::ADMIN_PASSWORD).await;
    assert_eq!(owner.status, StatusCode::CREATED, "{}", owner.text);
    // The right password after the wait is let in, from the same client.
    clock.advance(time::Duration::minutes(15));
    let after = sign_in_from(&server, attacker, support::ADMIN_PASSWORD).await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.text);
    server.stop().await;
}

#[tokio::test]
async fn a_secure_cookie_is_told_by_a_trusted_proxy_only() {
    for trusted in [false, true] {
        let settings = ganglion_web::Settings {
            trusted_proxies: if trusted {
                vec!["127.0.0.0/8".parse().unwrap()]
            } else {
                Vec::new()
            },
            ..test_settings()
        };
        let server =
            TestServer::start_with(ganglion_testkit::TestBackend::Sqlite, None, settings).await;
        let form = server
            .send_as(
                None,
                Method::GET,
                "/login",
                None,
                &[("x-forwarded-proto", "https")],
            )
            .await;
        let set_cookie = form.headers["set-cookie"].to_str().unwrap().to_owned();
        assert_eq!(set_cookie.contains("Secure"), trusted, "{set_cookie}");
        server.stop().await;
    }
}

#[tokio::test]
async fn exported_names_never_run_as_formulas_and_import_back_as_they_were() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let created = server
            .post(
                "/api/v1/units",
                &json!({"parent": null, "kind": "centre", "name": "=HYPERLINK(\"http://x\")", "code": "C"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let c = created.json()["id"].as_str().unwrap().to_owned();
        server
            .post(
                "/api/v1/units",
                &json!({"parent": c, "kind": "province", "name": "@SUM(1)", "code": "-P1"}),
            )
            .await;
        let exported = server.export().await;
        for line in exported.lines().skip(1) {
            for cell in line.split(',') {
                let cell = cell.trim_matches('"');
                assert!(
                    !cell.starts_with(['=', '+', '-', '@']),
                    "a cell a spreadsheet would run: {line}"
                );
            }
        }
        // The export imports into an empty organization as it was.
        let other = TestServer::start(backend).await;
        let imported = other
            .post_raw("/api/v1/import/units", "text/csv", exported.clone())
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
        let names: Vec<String> = other.get("/api/v1/units").await.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                format!(
                    "{} {}",
                    u["code"].as_str().unwrap(),
                    u["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(names, ["C =HYPERLINK(\"http://x\")", "-P1 @SUM(1)"]);
        assert_eq!(other.export().await, exported);
        other.stop().await;
        server.stop().await;
    }
}

#[tokio::test]
async fn the_smaller_faults_are_4xx() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let huge = server
            .post(
                "/api/v1/directives",
                &json!({"issuer": c, "title": "t", "body": "", "due": "2099-01-01",
                        "metric": {"name": "grain", "unit": "t", "target_per_unit": 1e308}}),
            )
            .await;
        assert_eq!(
            huge.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            huge.text
        );
        assert_eq!(
            huge.json()["error"]["field"],
            json!("metric.target_per_unit")
        );
        let year_zero = server
            .post(
                "/api/v1/directives",
                &json!({"issuer": c, "title": "t", "body": "", "due": "0000-06-01"}),
            )
            .await;
        assert_eq!(
            year_zero.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            year_zero.text
        );
        let draft = server
            .post(
                "/api/v1/directives",
                &json!({"issuer": c, "title": "t", "body": "", "due": "2099-01-01"}),
            )
            .await;
        let id = draft.json()["id"].as_str().unwrap().to_owned();
        // Unknown query parameters are refused alike on every route.
        for path in [
            format!("/api/v1/directives/{id}/reach?units=all"),
            format!("/api/v1/directives/{id}?x=1"),
            format!("/api/v1/units/{c}?expand=1"),
            "/api/v1/units?bogus=1".to_owned(),
        ] {
            let answer = server.get(&path).await;
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                answer.text
            );
            assert_eq!(answer.error_code(), "invalid_query", "{path}");
        }
        assert_eq!(
            server
                .get(&format!("/api/v1/directives/{id}/reach"))
                .await
                .status,
            StatusCode::OK
        );
        server.stop().await;
    }
}

/// A request another site can make a browser send: its method and its body, if any,
/// with that body's media type.
type CrossSiteForm<'a> = (&'a str, Option<(&'a str, Vec<u8>)>);
