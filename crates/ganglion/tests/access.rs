//! Accounts, sessions and who sees what, as a new user meets them over HTTP.

mod support;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{backends, TestServer};

fn codes(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap().to_owned())
        .collect()
}

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| c.to_string()).collect()
}

#[tokio::test]
async fn each_official_sees_exactly_their_subtree() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let p1 = server.unit(Some(&c), "province", "P1").await;
        let p2 = server.unit(Some(&c), "province", "P2").await;
        let k1 = server.unit(Some(&p1), "city_county", "K1").await;
        let k2 = server.unit(Some(&p1), "city_county", "K2").await;
        let u1 = server.unit(Some(&k1), "primary", "U1").await;
        server.unit(Some(&k2), "primary", "U2").await;
        server.unit(Some(&p2), "city_county", "K3").await;

        server
            .appoint("Ri Province", &p1, "secretary", "p1-secretary")
            .await;
        let county_official = server
            .appoint("Pak County", &k1, "official", "k1-official")
            .await;
        let province = server.as_caller(Some(
            server
                .login("p1-secretary", support::OFFICIAL_PASSWORD)
                .await,
        ));
        let county = server.as_caller(Some(
            server
                .login("k1-official", support::OFFICIAL_PASSWORD)
                .await,
        ));

        // Units: the whole list, a subtree, children, one unit.
        assert_eq!(
            codes(&province.get("/api/v1/units").await.json()),
            set(&["P1", "K1", "K2", "U1", "U2"])
        );
        assert_eq!(
            codes(&county.get("/api/v1/units").await.json()),
            set(&["K1", "U1"])
        );
        assert_eq!(
            codes(&county.get("/api/v1/units?q=u").await.json()),
            set(&["U1"]),
            "search filters alike"
        );
        assert_eq!(
            county.get(&format!("/api/v1/units/{k2}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            county.get(&format!("/api/v1/units/{p1}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            county
                .get(&format!("/api/v1/units?under={p1}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            codes(
                &province
                    .get(&format!("/api/v1/units/{p1}/children"))
                    .await
                    .json()
            ),
            set(&["K1", "K2"])
        );

        // Exports.
        let export = county.get("/api/v1/export/units").await.text;
        assert_eq!(export.lines().count(), 3, "{export}");
        assert!(export.contains("K1,P1,") && export.contains("U1,K1,") && !export.contains("K2"));
        assert_eq!(
            province
                .get("/api/v1/export/units")
                .await
                .text
                .lines()
                .count(),
            6
        );

        // Writes: inside the subtree yes, outside no, and the denial is audited.
        let created = county
            .post(
                "/api/v1/units",
                &json!({"parent": u1, "kind": "cell", "name": "Cell", "code": "X1"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let denied = county
            .post(
                "/api/v1/units",
                &json!({"parent": k2, "kind": "primary", "name": "No", "code": "NO"}),
            )
            .await;
        assert_eq!(
            (denied.status, denied.json()["error"]["code"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("unknown_parent"))
        );
        let renamed = county
            .send(
                Method::PATCH,
                &format!("/api/v1/units/{k2}"),
                Some(&json!({"name": "Mine"})),
            )
            .await;
        assert_eq!(renamed.status, StatusCode::NOT_FOUND);

        // Audit: each sees the entries about its subtree; the denials are there for
        // those above.
        let county_audit = county.get("/api/v1/audit").await.json();
        assert!(!county_audit["items"].as_array().unwrap().is_empty());
        for entry in county_audit["items"].as_array().unwrap() {
            let unit = entry["unit"].as_str().unwrap();
            let visible = server.get(&format!("/api/v1/units/{unit}")).await.json();
            assert!(
                ["K1", "U1", "X1"].contains(&visible["code"].as_str().unwrap()),
                "county sees only its own entries: {entry}"
            );
        }
        let all = server.get("/api/v1/audit?limit=1000").await.json();
        let denials: Vec<&Value> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"].as_str().unwrap().starts_with("denied:"))
            .collect();
        assert!(
            denials.len() >= 2,
            "denied requests are recorded: {denials:?}"
        );
        assert_eq!(
            county.get("/api/v1/audit/verify").await.status,
            StatusCode::FORBIDDEN
        );

        // Ending the county official's post takes effect on the next request.
        let posts = server
            .get(&format!("/api/v1/people/{county_official}/posts"))
            .await
            .json();
        let post = posts[0]["id"].as_str().unwrap().to_owned();
        let ended = server
            .post(&format!("/api/v1/posts/{post}/end"), &json!({}))
            .await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
        assert_eq!(
            county.get(&format!("/api/v1/units/{k1}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert!(
            codes(&county.get("/api/v1/units").await.json()).is_empty(),
            "signed in, sees nothing"
        );
        let history = server
            .get(&format!("/api/v1/units/{k1}/posts"))
            .await
            .json();
        assert!(
            history[0]["end"].is_string(),
            "the ended post stays as history: {history}"
        );

        // Moving K1 under P2 takes it out of the province secretary's sight at once.
        assert_eq!(
            server
                .post(&format!("/api/v1/units/{k1}/move"), &json!({"parent": p2}))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            province.get(&format!("/api/v1/units/{k1}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            codes(&province.get("/api/v1/units").await.json()),
            set(&["P1", "K2", "U2"])
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn sessions_are_revocable_and_sign_in_is_rate_limited() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let anonymous = server.as_caller(None);
        let answer = anonymous.get("/api/v1/units").await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].clone()),
            (StatusCode::UNAUTHORIZED, json!("unauthenticated"))
        );
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
        let forged = server.as_caller(Some("forged-token".into()));
        assert_eq!(
            forged.get("/api/v1/units").await.status,
            StatusCode::UNAUTHORIZED
        );

        let token = server.login("admin", support::ADMIN_PASSWORD).await;
        let admin = server.as_caller(Some(token.clone()));
        assert_eq!(admin.get("/api/v1/units").await.status, StatusCode::OK);
        // The same session carried in the cookie the web pages use.
        let cookie = format!("theme=dark; {}={token}", ganglion_web::SESSION_COOKIE);
        let by_cookie = server
            .send_as(
                None,
                Method::GET,
                "/api/v1/units",
                None,
                &[("cookie", cookie.as_str())],
            )
            .await;
        assert_eq!(by_cookie.status, StatusCode::OK, "{}", by_cookie.text);
        assert_eq!(
            admin
                .send(Method::DELETE, "/api/v1/sessions/current", None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            admin.get("/api/v1/units").await.status,
            StatusCode::UNAUTHORIZED,
            "revoked at once"
        );

        let wrong = json!({"login": "admin", "password": "not it at all"});
        for _ in 0..5 {
            let answer = anonymous.post("/api/v1/sessions", &wrong).await;
            assert_eq!(
                (answer.status, answer.json()["error"]["code"].clone()),
                (StatusCode::UNAUTHORIZED, json!("bad_credentials"))
            );
        }
        let limited = anonymous
            .post(
                "/api/v1/sessions",
                &json!({"login": "admin", "password": support::ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(
            (limited.status, limited.json()["error"]["code"].clone()),
            (StatusCode::TOO_MANY_REQUESTS, json!("rate_limited"))
        );
        let retry_after: u64 = limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after > 0 && retry_after <= 15 * 60);
        let unknown = anonymous
            .post(
                "/api/v1/sessions",
                &json!({"login": "nobody", "password": "whatever it is"}),
            )
            .await;
        assert_eq!(
            unknown.status,
            StatusCode::UNAUTHORIZED,
            "an unknown login is told apart from nothing"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_note_hidden_from_a_subtree_is_not_seen_there() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let p1 = server.unit(Some(&c), "province", "P1").await;
        let k1 = server.unit(Some(&p1), "city_county", "K1").await;
        let u1 = server.unit(Some(&k1), "primary", "U1").await;
        server
            .appoint("Province Secretary", &p1, "secretary", "p1")
            .await;
        server
            .appoint("County Official", &k1, "official", "k1")
            .await;
        server
            .appoint("Primary Secretary", &u1, "secretary", "u1")
            .await;
        let province = server.as_caller(Some(server.login("p1", support::OFFICIAL_PASSWORD).await));
        let county = server.as_caller(Some(server.login("k1", support::OFFICIAL_PASSWORD).await));
        let primary = server.as_caller(Some(server.login("u1", support::OFFICIAL_PASSWORD).await));

        // A complaint-like note about the county, owned by the province.
        let note = province
            .post(
                "/api/v1/notes",
                &json!({"unit": p1, "text": "about the county official", "hidden_from": k1}),
            )
            .await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.text);
        let note = note.json()["id"].as_str().unwrap().to_owned();
        let open = province
            .post(
                "/api/v1/notes",
                &json!({"unit": k1, "text": "an ordinary note"}),
            )
            .await;
        assert_eq!(open.status, StatusCode::CREATED);

        assert_eq!(
            province.get(&format!("/api/v1/notes/{note}")).await.status,
            StatusCode::OK
        );
        assert_eq!(
            server.get(&format!("/api/v1/notes/{note}")).await.status,
            StatusCode::OK,
            "the administrator"
        );
        for hidden in [&county, &primary] {
            assert_eq!(
                hidden.get(&format!("/api/v1/notes/{note}")).await.status,
                StatusCode::NOT_FOUND
            );
        }
        assert_eq!(
            county
                .get(&format!("/api/v1/units/{k1}/notes"))
                .await
                .json()
                .as_array()
                .unwrap()
                .len(),
            1,
            "only the ordinary note"
        );
        let bad = province
            .post(
                "/api/v1/notes",
                &json!({"unit": k1, "text": "x", "hidden_from": p1}),
            )
            .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "hidden only from a unit below"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn people_and_posts_go_through_csv_all_or_nothing() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let p1 = server.unit(Some(&c), "province", "P1").await;
        server.unit(Some(&p1), "city_county", "K1").await;
        let header = "person_ref,name,unit_code,role,title,start,end\n";

        let bad = format!(
            "{header}E1,Kim Chol,P1,secretary,chief secretary,2020-01-01,\n\
             E1,Kim Chul,K1,member,,2021-01-01,\n\
             E2,Ri Song,NOPE,official,,,\n\
             E3,Pak Il,K1,chieftain,,,\n\
             E4,O Nam,K1,member,,2021-05-01,2020-01-01\n\
             E5,Han Su,,member,,,\n"
        );
        let answer = server
            .post_raw("/api/v1/import/people", "text/csv", bad)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        let rows = answer.json()["error"]["rows"].as_array().unwrap().clone();
        let lines: Vec<u64> = rows.iter().map(|r| r["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{rows:?}");
        assert!(
            server.get("/api/v1/people").await.json()["items"]
                .as_array()
                .unwrap()
                .is_empty(),
            "nothing was imported"
        );

        let good = format!(
            "{header}E1,Kim Chol,P1,secretary,chief secretary,2020-01-01,\n\
             E1,Kim Chol,K1,official,\"official of the life guidance section\",2019-01-01,2019-12-31\n\
             E2,Ri Song,K1,member,,2021-03-01,\n\
             E3,Pak Il,,,,,\n"
        );
        let answer = server
            .post_raw("/api/v1/import/people", "text/csv", good.clone())
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(
            answer.json(),
            json!({"people_created": 3, "posts_created": 3})
        );
        let holders = server
            .get(&format!("/api/v1/units/{p1}/posts"))
            .await
            .json();
        assert_eq!(holders[0]["person_name"], json!("Kim Chol"));
        assert_eq!(holders[0]["title"], json!("chief secretary"));

        // Exported, the posts read back as they were written.
        let exported = server.get("/api/v1/export/people").await.text;
        let mut lines: Vec<&str> = exported.lines().skip(1).collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "E1,Kim Chol,K1,official,official of the life guidance section,2019-01-01,2019-12-31",
                "E1,Kim Chol,P1,secretary,chief secretary,2020-01-01,",
                "E2,Ri Song,K1,member,,2021-03-01,",
            ]
        );
        // A second import of the same people finds them by their key.
        let again = server
            .post_raw(
                "/api/v1/import/people",
                "text/csv",
                format!("{header}E2,Ri Song,P1,member,,2022-01-01,\n"),
            )
            .await;
        assert_eq!(
            again.json(),
            json!({"people_created": 0, "posts_created": 1})
        );
        let renamed = server
            .post_raw(
                "/api/v1/import/people",
                "text/csv",
                format!("{header}E2,Ri Sung,P1,member,,,\n"),
            )
            .await;
        assert_eq!(
            renamed.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a stored person's name is not silently changed"
        );
        server.stop().await;
    }
}
