//! Every JSON write of the API, through the whole HTTP application (extractors,
//! idempotency, use cases, the store), with the administrator's token: any body, any id
//! in the path, is answered, and never with a 5xx. The first byte picks the operation
//! among those the OpenAPI document lists, the second how long the path's id is.
#![no_main]

mod common;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Http {
    router: axum::Router,
    token: String,
    /// (method, path template) of every operation with a JSON body.
    operations: Vec<(Method, String)>,
}

fn http() -> &'static Http {
    static HTTP: OnceLock<Http> = OnceLock::new();
    HTTP.get_or_init(|| {
        let world = common::world();
        let settings = ganglion_web::Settings {
            rate_limit: "off".parse().expect("a rate limit"),
            trusted_proxies: Vec::new(),
        };
        let router = ganglion_web::router_with(world.app.clone(), settings);
        world.runtime.block_on(async {
            let session = serde_json::json!({"login": "admin", "password": common::ADMIN_PASSWORD});
            let (_, body) = send(&router, Method::POST, "/api/v1/sessions", None, session.to_string().into_bytes()).await;
            let token = serde_json::from_slice::<serde_json::Value>(&body).expect("a session")["token"]
                .as_str()
                .expect("a token")
                .to_owned();
            let (_, document) = send(&router, Method::GET, "/api/v1/openapi.json", None, Vec::new()).await;
            let document: serde_json::Value = serde_json::from_slice(&document).expect("the document");
            let mut operations = Vec::new();
            for (path, item) in document["paths"].as_object().expect("paths") {
                for (method, operation) in item.as_object().expect("operations") {
                    if operation["requestBody"]["content"].get("application/json").is_some() {
                        operations.push((method.to_uppercase().parse().expect("a method"), path.clone()));
                    }
                }
            }
            Http { router: router.clone(), token, operations }
        })
    })
}

async fn send(
    router: &axum::Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body)).expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body");
    (status, bytes.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let [which, id_length, rest @ ..] = data else {
        return;
    };
    let http = http();
    let (method, template) = &http.operations[*which as usize % http.operations.len()];
    let id_length = (*id_length as usize % 24).min(rest.len());
    let (id, body) = rest.split_at(id_length);
    let id: String = id
        .iter()
        .map(|byte| match byte {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => (*byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect();
    let id = if id.is_empty() { "1".to_owned() } else { id };
    let path = template.replace("{id}", &id);
    let (status, answer) = common::world().runtime.block_on(send(
        &http.router,
        method.clone(),
        &path,
        Some(&http.token),
        body.to_vec(),
    ));
    assert!(
        status < 500,
        "{method} {path} answered {status}: {}",
        String::from_utf8_lossy(&answer)
    );
});
