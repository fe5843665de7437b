//! The OpenAPI document: a valid OpenAPI 3 document that lists every route the server
//! answers, and every route it lists is answered.

mod support;

use reqwest::Method;
use serde_json::Value;
use support::TestServer;

/// Every endpoint of the API. A new endpoint goes here, and the test then checks that
/// the document and the server both have it.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/units"),
    ("get", "/api/v1/units"),
    ("get", "/api/v1/units/{id}"),
    ("patch", "/api/v1/units/{id}"),
    ("delete", "/api/v1/units/{id}"),
    ("get", "/api/v1/units/{id}/children"),
    ("post", "/api/v1/units/{id}/move"),
    ("post", "/api/v1/import/units"),
    ("get", "/api/v1/export/units"),
    ("post", "/api/v1/import/people"),
    ("get", "/api/v1/export/people"),
    ("post", "/api/v1/sessions"),
    ("delete", "/api/v1/sessions/current"),
    ("post", "/api/v1/accounts"),
    ("post", "/api/v1/people"),
    ("get", "/api/v1/people"),
    ("get", "/api/v1/people/{id}"),
    ("get", "/api/v1/people/{id}/posts"),
    ("post", "/api/v1/posts"),
    ("post", "/api/v1/posts/{id}/end"),
    ("get", "/api/v1/units/{id}/posts"),
    ("post", "/api/v1/notes"),
    ("get", "/api/v1/notes/{id}"),
    ("get", "/api/v1/units/{id}/notes"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/audit/checkpoint"),
    ("get", "/api/v1/audit/key"),
    ("post", "/api/v1/directives"),
    ("get", "/api/v1/directives/{id}"),
    ("patch", "/api/v1/directives/{id}"),
    ("post", "/api/v1/directives/{id}/issue"),
    ("post", "/api/v1/directives/{id}/withdraw"),
    ("post", "/api/v1/directives/{id}/close"),
    ("get", "/api/v1/directives/{id}/reach"),
    ("post", "/api/v1/directives/{id}/guidance"),
    ("get", "/api/v1/directives/{id}/rollup"),
    ("get", "/api/v1/directives/{id}/rollup.csv"),
    ("get", "/api/v1/directives/{id}/rollup.xlsx"),
    ("get", "/api/v1/directives/{id}/laggards"),
    ("get", "/api/v1/directives/{id}/series"),
    ("get", "/api/v1/units/{id}/assignments"),
    ("get", "/api/v1/units/{id}/assignments.ics"),
    ("get", "/api/v1/assignments/{id}"),
    ("post", "/api/v1/assignments/{id}/transition"),
    ("get", "/api/v1/directives/{id}/plans"),
    ("get", "/api/v1/units/{id}/directives"),
    ("get", "/api/v1/units/{id}/attention"),
    ("post", "/api/v1/programmes"),
    ("get", "/api/v1/programmes"),
    ("get", "/api/v1/programmes/{id}"),
    ("get", "/api/v1/programmes/{id}/progress"),
    ("post", "/api/v1/programmes/{id}/projects"),
    ("get", "/api/v1/programmes/{id}/projects"),
    ("post", "/api/v1/programmes/{id}/projects.csv"),
    ("post", "/api/v1/experiences"),
    ("get", "/api/v1/experiences"),
    ("get", "/api/v1/experiences/{id}"),
    ("post", "/api/v1/titles"),
    ("get", "/api/v1/titles"),
    ("get", "/api/v1/titles/awards/{id}"),
    ("post", "/api/v1/titles/awards/{id}/withdraw"),
    ("get", "/api/v1/units/{id}/titles"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_matches_the_server() {
    let server = TestServer::start(ganglion_testkit::TestBackend::Sqlite).await;
    let answer = server.get("/api/v1/openapi.json").await;
    assert_eq!(answer.status, 200);
    let doc = answer.json();

    // The shape of an OpenAPI 3 document, and every reference resolves.
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{target} resolves"
        );
    }

    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path} documents its responses"
                );
                documented.push((method.to_owned(), path.clone()));
            }
        }
    }
    for (method, path) in ROUTES {
        assert!(
            documented.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is documented"
        );
    }
    assert_eq!(
        documented.len(),
        ROUTES.len(),
        "every documented route is in ROUTES: {documented:?}"
    );

    // Every documented route is answered: never the server's "no such route" answers.
    for (method, path) in &documented {
        let concrete = path.replace("{id}", "1");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answer = server
            .send(
                method.clone(),
                &concrete,
                Some(("application/json", b"{}".to_vec())),
                &[],
            )
            .await;
        let code = serde_json::from_str::<Value>(&answer.text)
            .ok()
            .and_then(|body| body["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        assert!(
            code != "route_not_found" && code != "method_not_allowed",
            "{method} {concrete}: {}",
            answer.text
        );
    }
    server.stop().await;
}
