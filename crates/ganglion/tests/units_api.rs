//! The Units part of API.md over real HTTP, on every backend this run tests.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{backends, TestServer};

/// centre C ─ province P1 ─ county K1 ─ primary U1 ─ cell C1
///                        └ county K2
///          └ province P2
async fn small_tree(server: &TestServer) -> Vec<String> {
    let c = server.unit(None, "centre", "C").await;
    let p1 = server.unit(Some(&c), "province", "P1").await;
    let p2 = server.unit(Some(&c), "province", "P2").await;
    let k1 = server.unit(Some(&p1), "city_county", "K1").await;
    let k2 = server.unit(Some(&p1), "city_county", "K2").await;
    let u1 = server.unit(Some(&k1), "primary", "U1").await;
    let c1 = server.unit(Some(&u1), "cell", "C1").await;
    vec![c, p1, p2, k1, k2, u1, c1]
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|unit| unit["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn units_are_created_read_listed_changed_moved_and_removed() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let ids = small_tree(&server).await;
        let [c, p1, p2, k1, k2, u1, c1] = ids.as_slice() else {
            unreachable!()
        };

        let cell = server.get(&format!("/api/v1/units/{c1}")).await.json();
        assert_eq!(cell["parent"], json!(u1));
        assert_eq!(cell["depth"], json!(4));
        assert_eq!(cell["kind"], json!("cell"));

        let children = server
            .get(&format!("/api/v1/units/{p1}/children"))
            .await
            .json();
        assert_eq!(codes(&children), ["K1", "K2"]);
        assert_eq!(children["next_cursor"], Value::Null);

        let under = server
            .get(&format!("/api/v1/units?under={p1}"))
            .await
            .json();
        assert_eq!(
            codes(&under),
            ["P1", "K1", "U1", "C1", "K2"],
            "pre-order, parents first"
        );
        let counties = server
            .get(&format!("/api/v1/units?under={c}&kind=city_county"))
            .await
            .json();
        assert_eq!(codes(&counties), ["K1", "K2"]);
        let search = server.get("/api/v1/units?q=u1%20COMM").await.json();
        assert_eq!(codes(&search), ["U1"], "name search ignores case");
        let by_code = server.get("/api/v1/units?q=k").await.json();
        assert_eq!(codes(&by_code), ["K1", "K2"]);

        // Retag, then filter by tag; rename.
        let retagged = server
            .patch(
                &format!("/api/v1/units/{k2}"),
                &json!({"tags": ["Rural", "region:n1"], "name": "  Ok County  "}),
            )
            .await;
        assert_eq!(retagged.status, StatusCode::OK, "{}", retagged.text);
        assert_eq!(retagged.json()["tags"], json!(["region:n1", "rural"]));
        assert_eq!(retagged.json()["name"], json!("Ok County"));
        let rural = server.get("/api/v1/units?tag=rural").await.json();
        assert_eq!(codes(&rural), ["K2"]);

        // Cursor pagination walks the whole list exactly once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/units?limit=2&cursor={cursor}"),
                None => "/api/v1/units?limit=2".to_owned(),
            };
            let page = server.get(&path).await.json();
            assert!(page["items"].as_array().unwrap().len() <= 2);
            seen.extend(codes(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, ["C", "P1", "K1", "U1", "C1", "K2", "P2"]);

        // Move K1 with its subtree under P2: depths and subtree queries follow.
        let moved = server
            .post(&format!("/api/v1/units/{k1}/move"), &json!({"parent": p2}))
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
        assert_eq!(moved.json()["parent"], json!(p2));
        let under_p2 = server
            .get(&format!("/api/v1/units?under={p2}"))
            .await
            .json();
        assert_eq!(codes(&under_p2), ["P2", "K1", "U1", "C1"]);
        let under_p1 = server
            .get(&format!("/api/v1/units?under={p1}"))
            .await
            .json();
        assert_eq!(codes(&under_p1), ["P1", "K2"]);
        assert_eq!(
            server.get(&format!("/api/v1/units/{c1}")).await.json()["depth"],
            json!(4)
        );

        // Remove a leaf; a unit with children is refused.
        let refused = server.delete(&format!("/api/v1/units/{u1}")).await;
        assert_eq!(
            (refused.status, refused.error_code().as_str()),
            (StatusCode::CONFLICT, "unit_not_empty")
        );
        assert_eq!(
            server.delete(&format!("/api/v1/units/{c1}")).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            server.get(&format!("/api/v1/units/{c1}")).await.status,
            StatusCode::NOT_FOUND
        );
        server.stop().await;
    }
}

struct BadCase {
    what: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    status: StatusCode,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    what: &'static str,
    method: Method,
    path: String,
    body: &str,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> BadCase {
    BadCase {
        what,
        method,
        path,
        content_type: "application/json",
        body: body.as_bytes().to_vec(),
        status: StatusCode::from_u16(status).unwrap(),
        code,
        field,
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let ids = small_tree(&server).await;
        let [c, p1, _p2, k1, _k2, u1, c1] = ids.as_slice() else {
            unreachable!()
        };
        let units = "/api/v1/units".to_owned();
        let create = |body: &str| body.to_owned();
        let mut cases = vec![
            case("malformed JSON", Method::POST, units.clone(), "{\"parent\": ", 400, "malformed_json", None),
            case("trailing garbage", Method::POST, units.clone(), &create(&format!("{{\"parent\":\"{c}\",\"kind\":\"province\",\"name\":\"x\",\"code\":\"Z\"}} x")), 400, "malformed_json", None),
            case("wrong type", Method::POST, units.clone(), &format!("{{\"parent\":{c},\"kind\":\"province\",\"name\":\"x\",\"code\":\"Z\"}}"), 422, "invalid_field", Some("parent")),
            case("unknown field", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"province\",\"name\":\"x\",\"code\":\"Z\",\"colour\":\"red\"}}"), 422, "invalid_field", None),
            case("missing field", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"province\",\"name\":\"x\"}}"), 422, "invalid_field", None),
            case("unknown kind", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"village\",\"name\":\"x\",\"code\":\"Z\"}}"), 422, "kind_not_allowed", Some("kind")),
            case("kind not allowed under parent", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"cell\",\"name\":\"x\",\"code\":\"Z\"}}"), 422, "kind_not_allowed", Some("kind")),
            case("second root of a non-root kind", Method::POST, units.clone(), "{\"parent\":null,\"kind\":\"province\",\"name\":\"x\",\"code\":\"Z\"}", 422, "kind_not_allowed", Some("kind")),
            case("duplicate code", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"province\",\"name\":\"x\",\"code\":\"P1\"}}"), 409, "duplicate_code", None),
            case("bad code", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"province\",\"name\":\"x\",\"code\":\"a b\"}}"), 422, "invalid_value", Some("code")),
            case("empty name", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"province\",\"name\":\"  \",\"code\":\"Z\"}}"), 422, "invalid_value", Some("name")),
            case("bad tag", Method::POST, units.clone(), &format!("{{\"parent\":\"{c}\",\"kind\":\"province\",\"name\":\"x\",\"code\":\"Z\",\"tags\":[\"a b\"]}}"), 422, "invalid_value", Some("tags")),
            case("unknown parent", Method::POST, units.clone(), "{\"parent\":\"999999\",\"kind\":\"province\",\"name\":\"x\",\"code\":\"Z\"}", 422, "unknown_parent", Some("parent")),
            case("parent not an id", Method::POST, units.clone(), "{\"parent\":\"P1\",\"kind\":\"province\",\"name\":\"x\",\"code\":\"Z\"}", 422, "invalid_id", Some("parent")),
            case("move into own subtree", Method::POST, format!("/api/v1/units/{p1}/move"), &format!("{{\"parent\":\"{u1}\"}}"), 422, "cycle", Some("parent")),
            case("move under itself", Method::POST, format!("/api/v1/units/{p1}/move"), &format!("{{\"parent\":\"{p1}\"}}"), 422, "cycle", Some("parent")),
            case("move breaking a kind rule", Method::POST, format!("/api/v1/units/{k1}/move"), &format!("{{\"parent\":\"{c}\"}}"), 422, "kind_not_allowed", Some("parent")),
            case("move a missing unit", Method::POST, "/api/v1/units/999999/move".into(), &format!("{{\"parent\":\"{c}\"}}"), 404, "not_found", None),
            case("rename to nothing", Method::PATCH, format!("/api/v1/units/{c1}"), "{\"name\":\"\"}", 422, "invalid_value", Some("name")),
            case("rename a missing unit", Method::PATCH, "/api/v1/units/999999".into(), "{\"name\":\"x\"}", 404, "not_found", None),
            case("remove a unit with children", Method::DELETE, format!("/api/v1/units/{p1}"), "", 409, "unit_not_empty", None),
            case("remove a missing unit", Method::DELETE, "/api/v1/units/999999".into(), "", 404, "not_found", None),
            case("unknown unit", Method::GET, "/api/v1/units/999999".into(), "", 404, "not_found", None),
            case("id that is no id", Method::GET, "/api/v1/units/abc".into(), "", 404, "not_found", None),
            case("children of unknown unit", Method::GET, "/api/v1/units/999999/children".into(), "", 404, "not_found", None),
            case("list under unknown unit", Method::GET, "/api/v1/units?under=999999".into(), "", 404, "not_found", None),
            case("list under a non-id", Method::GET, "/api/v1/units?under=P1".into(), "", 422, "invalid_id", Some("under")),
            case("limit too large", Method::GET, "/api/v1/units?limit=1001".into(), "", 422, "invalid_limit", Some("limit")),
            case("limit not a number", Method::GET, "/api/v1/units?limit=many".into(), "", 422, "invalid_query", None),
            case("unknown query parameter", Method::GET, "/api/v1/units?knd=cell".into(), "", 422, "invalid_query", None),
            case("forged cursor", Method::GET, "/api/v1/units?cursor=%%%".into(), "", 422, "invalid_cursor", Some("cursor")),
            case("unknown route", Method::GET, "/api/v1/nothing".into(), "", 404, "route_not_found", None),
            case("wrong method", Method::PUT, "/api/v1/units".into(), "", 405, "method_not_allowed", None),
            case("export under unknown unit", Method::GET, "/api/v1/export/units?under=999999".into(), "", 404, "not_found", None),
        ];
        let mut wrong_type = case(
            "JSON sent as text",
            Method::POST,
            units.clone(),
            "{}",
            415,
            "unsupported_media_type",
            None,
        );
        wrong_type.content_type = "text/plain";
        cases.push(wrong_type);
        let mut huge = case(
            "body over the limit",
            Method::POST,
            units.clone(),
            "",
            413,
            "body_too_large",
            None,
        );
        huge.body = format!("{{\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024)).into_bytes();
        cases.push(huge);
        let mut csv_as_json = case(
            "CSV sent as JSON",
            Method::POST,
            "/api/v1/import/units".into(),
            "code,parent_code,kind,name,tags\n",
            415,
            "unsupported_media_type",
            None,
        );
        csv_as_json.content_type = "application/json";
        cases.push(csv_as_json);
        let mut bad_key = case(
            "bad idempotency key",
            Method::POST,
            units.clone(),
            "{}",
            400,
            "invalid_idempotency_key",
            None,
        );
        bad_key.path = units.clone();

        let before = server.export().await;
        for case in cases {
            let body = (!case.body.is_empty()
                || case.method == Method::POST
                || case.method == Method::PATCH)
                .then(|| (case.content_type, case.body.clone()));
            let answer = server
                .send(case.method.clone(), &case.path, body, &[])
                .await;
            assert_eq!(
                answer.status, case.status,
                "{} ({:?}): {}",
                case.what, backend, answer.text
            );
            assert_eq!(
                answer.error_code(),
                case.code,
                "{}: {}",
                case.what,
                answer.text
            );
            assert!(answer.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            if let Some(field) = case.field {
                assert_eq!(
                    answer.json()["error"]["field"],
                    json!(field),
                    "{}: {}",
                    case.what,
                    answer.text
                );
            }
        }
        let answer = server
            .send(
                Method::POST,
                &bad_key.path,
                Some(("application/json", b"{}".to_vec())),
                &[("idempotency-key", "")],
            )
            .await;
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_idempotency_key")
        );
        assert_eq!(
            server.export().await,
            before,
            "no bad request changed anything"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        let body =
            json!({"parent": c, "kind": "province", "name": "North", "code": "N"}).to_string();
        let send = |body: String| {
            let server = &server;
            async move {
                server
                    .send(
                        Method::POST,
                        "/api/v1/units",
                        Some(("application/json", body.into_bytes())),
                        &[("idempotency-key", "create-north-1")],
                    )
                    .await
            }
        };
        let first = send(body.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let replay = send(body.clone()).await;
        assert_eq!(replay.status, StatusCode::CREATED);
        assert_eq!(
            replay.json(),
            first.json(),
            "the replay is the first response"
        );
        assert_eq!(replay.headers["idempotent-replayed"], "true");
        let other = send(
            json!({"parent": c, "kind": "province", "name": "South", "code": "S"}).to_string(),
        )
        .await;
        assert_eq!(
            (other.status, other.error_code().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
        );
        let all = server.get("/api/v1/units").await.json();
        assert_eq!(codes(&all), ["C", "N"], "one unit was created, once");

        // Concurrent first uses of one key: exactly one write, every answer the same.
        let body =
            json!({"parent": c, "kind": "province", "name": "East", "code": "E"}).to_string();
        let answers = futures::future::join_all((0..8).map(|_| {
            let server = &server;
            let body = body.clone();
            async move {
                server
                    .send(
                        Method::POST,
                        "/api/v1/units",
                        Some(("application/json", body.into_bytes())),
                        &[("idempotency-key", "create-east")],
                    )
                    .await
            }
        }))
        .await;
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
            assert_eq!(answer.json(), answers[0].json());
        }
        assert_eq!(
            codes(&server.get("/api/v1/units").await.json()),
            ["C", "N", "E"]
        );
        server.stop().await;
    }
}

const HEADER: &str = "code,parent_code,kind,name,tags\n";

#[tokio::test]
async fn csv_import_is_all_or_nothing_and_reports_every_bad_row() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let c = server.unit(None, "centre", "C").await;
        server.unit(Some(&c), "province", "P1").await;
        let before = server.export().await;

        let mut file = HEADER.as_bytes().to_vec();
        file.extend_from_slice(
            b"K1,P1,city_county,Good County,rural\n\
              K2,NOPE,city_county,Orphan County,\n\
              K1,P1,city_county,Twice,\n\
              P1,C,province,Taken,\n\
              X1,P1,cell,Cell under a province,\n\
              A,B,primary,Loop A,\n\
              B,A,primary,Loop B,\n\
              K3,P1,city_county,\xff\xfe broken,\n\
              K4,P1,city_county,Too,many,fields\n",
        );
        let answer = server
            .post_raw("/api/v1/import/units", "text/csv", file)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        assert_eq!(answer.error_code(), "invalid_rows");
        let rows = answer.json()["error"]["rows"].as_array().unwrap().clone();
        // The file is parsed first: encoding and shape errors are reported on their own.
        let lines: Vec<u64> = rows.iter().map(|r| r["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [9, 10], "{rows:?}");
        assert!(rows[0]["reason"].as_str().unwrap().contains("UTF-8"));
        assert!(rows[1]["reason"].as_str().unwrap().contains("5 fields"));

        // Without the unreadable rows, every other rule is reported, each on its line.
        let mut file = HEADER.as_bytes().to_vec();
        file.extend_from_slice(
            b"K1,P1,city_county,Good County,rural\n\
              K2,NOPE,city_county,Orphan County,\n\
              K1,P1,city_county,Twice,\n\
              P1,C,province,Taken,\n\
              X1,P1,cell,Cell under a province,\n\
              A,B,primary,Loop A,\n\
              B,A,primary,Loop B,\n\
              Y1,K1,ri,Bad tags,a b\n",
        );
        let answer = server
            .post_raw("/api/v1/import/units", "text/csv", file)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        let rows = answer.json()["error"]["rows"].as_array().unwrap().clone();
        let expect = [
            (3, "unknown parent"),
            (4, "duplicate code"),
            (5, "already exists"),
            (6, "may not sit under"),
            (7, "cycle"),
            (8, "cycle"),
            (9, "tags"),
        ];
        assert_eq!(rows.len(), expect.len(), "{rows:?}");
        for (row, (line, reason)) in rows.iter().zip(expect) {
            assert_eq!(row["line"], json!(line), "{row}");
            assert!(
                row["reason"].as_str().unwrap().contains(reason),
                "line {line}: {row}"
            );
        }
        assert_eq!(
            server.export().await,
            before,
            "a rejected import creates nothing"
        );

        let good = format!("{HEADER}K1,P1,city_county,Good County,rural\nU1,K1,primary,\"Works, No. 1\",industry;region:n\nC1,U1,cell,셀 1,\n");
        let answer = server
            .post_raw("/api/v1/import/units", "text/csv; charset=utf-8", good)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json(), json!({"created": 3}));
        let cell = server.get("/api/v1/units?q=C1").await.json();
        assert_eq!(cell["items"][0]["name"], json!("셀 1"));
        assert_eq!(cell["items"][0]["depth"], json!(4));
        server.stop().await;
    }
}

#[tokio::test]
async fn export_then_import_into_an_empty_database_gives_the_same_tree() {
    for backend in backends() {
        let source = TestServer::start(backend).await;
        let rows = ganglion_app::demo_rows(ganglion_app::DemoShape { units: 3000 });
        source
            .app
            .import_units(&ganglion_app::Ctx::operator(), rows, &ganglion_app::Silent)
            .await
            .unwrap();
        // Reshape it first, so that the export order is not simply the creation order.
        let k = source
            .get("/api/v1/units?q=P01-K001&kind=city_county")
            .await
            .json()["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let p12 = source.get("/api/v1/units?q=P12&kind=province").await.json()["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            source
                .post(&format!("/api/v1/units/{k}/move"), &json!({"parent": p12}))
                .await
                .status,
            StatusCode::OK
        );
        let exported = source.export().await;
        assert_eq!(exported.lines().count(), 3001);

        let target = TestServer::start(backend).await;
        let answer = target
            .post_raw("/api/v1/import/units", "text/csv", exported.clone())
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json()["created"], json!(3000));
        let mut a: Vec<&str> = exported.lines().collect();
        let again = target.export().await;
        let mut b: Vec<&str> = again.lines().collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(
            a, b,
            "the same units with the same parents, kinds, names and tags"
        );

        let subtree = source
            .get(&format!("/api/v1/export/units?under={p12}"))
            .await
            .text;
        assert!(
            subtree.lines().nth(1).unwrap().starts_with("P12,C,"),
            "the top of the subtree comes first"
        );
        assert!(subtree.contains("P01-K001,P12,"));
        source.stop().await;
        target.stop().await;
    }
}
