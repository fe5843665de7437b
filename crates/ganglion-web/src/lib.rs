//! The HTTP face of Ganglion. Only this crate speaks HTTP: it parses requests, calls the
//! use cases of `ganglion-app`, and renders their answers as JSON (and, for imports
//! and exports, CSV) under `/api/v1`, and as web pages everywhere else. Rules live in
//! the use cases, never in a handler.

mod api;
mod caller;
mod error;
mod extract;
mod ical;
mod pages;
mod write;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Json, Router};
use ganglion_app::App;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use caller::SESSION_COOKIE;
pub use error::{ApiError, ErrorBody};

/// The largest JSON body a write accepts.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// The largest CSV file an import accepts (a million units is about 60 MiB).
pub const IMPORT_BODY_LIMIT: usize = 512 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ganglion",
        description = "Decisions go down, results come up: the organization tree, its directives and their roll-ups.",
        version = env!("CARGO_PKG_VERSION")
    ),
    tags(
        (name = "units", description = "The organization tree"),
        (name = "import", description = "Bulk import and export as CSV"),
        (name = "access", description = "Sessions and accounts"),
        (name = "people", description = "People and their posts in units"),
        (name = "records", description = "Confidential notes and the audit trail"),
        (name = "directives", description = "Directives, their assignments and roll-ups"),
        (name = "programmes", description = "Multi-year programmes and their projects"),
        (name = "meta", description = "The API itself")
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

#[derive(Clone)]
pub(crate) struct AppState {
    app: App,
}

/// The whole HTTP application with its OpenAPI document.
pub fn router(app: App) -> Router {
    let state = AppState { app };
    let (api_routes, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::units::routes())
        .merge(api::transfer::routes())
        .merge(api::access::routes())
        .merge(api::people::routes())
        .merge(api::records::routes())
        .merge(api::directives::routes())
        .merge(api::programmes::routes())
        .merge(api::tracking::routes())
        .split_for_parts();
    let openapi = Arc::new(openapi);
    api_routes
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { Json(openapi.as_ref().clone()) }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .merge(pages::routes())
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "route_not_found",
                "there is no such endpoint",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not answer that method",
            )
        })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(pages::security_headers))
        .layer(middleware::from_fn(request_id))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Gives every request an id, echoed in `x-request-id`, carried into the use case and
/// (with the audit trail) into the record of what it did.
async fn request_id(mut request: Request, next: Next) -> Response {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!("{started:x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
        });
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub String);

/// Serves until `shutdown` completes, then finishes the requests under way.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Background work — following the other servers' changes, letting idle sources
    // leave memory — runs under one supervisor for as long as the server does.
    let jobs = app.start_jobs();
    let served = axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    jobs.stop().await;
    served
}
