//! The HTTP face of Ganglion. Only this crate speaks HTTP: it parses requests, calls the
//! use cases of `ganglion-app`, and renders their answers as JSON (and, for imports
//! and exports, CSV) under `/api/v1`, and as web pages everywhere else. Rules live in
//! the use cases, never in a handler.

mod api;
mod caller;
mod error;
mod extract;
mod ical;
mod limits;
mod pages;
mod write;

use ganglion_app::ErrorCode;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Json, Router};
use ganglion_app::App;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use caller::{CSRF_HEADER, SESSION_COOKIE};
pub use error::{ApiError, ErrorBody};
pub use limits::{Network, RateLimit, Settings};

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
        (name = "experience", description = "The library of good experience, searched in full text, and honours"),
        (name = "meta", description = "The API itself")
    ),
    components(schemas(ErrorBody, ganglion_app::ErrorCode))
)]
struct ApiDoc;

#[derive(Clone)]
pub(crate) struct AppState {
    app: App,
    limits: Arc<limits::Limits>,
}

/// The whole HTTP application with its OpenAPI document, with the default settings.
pub fn router(app: App) -> Router {
    router_with(app, Settings::default())
}

/// The whole HTTP application with its OpenAPI document.
pub fn router_with(app: App, settings: Settings) -> Router {
    let state = AppState {
        app,
        limits: limits::Limits::new(settings),
    };
    let (api_routes, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::units::routes())
        .merge(api::transfer::routes())
        .merge(api::access::routes())
        .merge(api::people::routes())
        .merge(api::records::routes())
        .merge(api::directives::routes())
        .merge(api::programmes::routes())
        .merge(api::experiences::routes())
        .merge(api::tracking::routes())
        .split_for_parts();
    let mut openapi = openapi;
    api::errors::describe_shared_inputs(&mut openapi);
    let openapi = Arc::new(openapi);
    let query_names = Arc::new(documented_query_names(&openapi));
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
        .fallback(pages::unknown_address)
        .method_not_allowed_fallback(pages::wrong_method)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            query_names,
            refuse_unknown_query,
        ))
        .layer(middleware::from_fn(caller::api_csrf))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_clients,
        ))
        .layer(middleware::from_fn(pages::security_headers))
        .layer(middleware::from_fn(request_id))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The query parameters each operation documents, by method and path template.
type QueryNames = std::collections::HashMap<(String, String), Vec<String>>;

fn documented_query_names(openapi: &utoipa::openapi::OpenApi) -> QueryNames {
    use utoipa::openapi::path::ParameterIn;
    let mut names = QueryNames::new();
    for (path, item) in &openapi.paths.paths {
        let operations = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let query = operation
                .parameters
                .iter()
                .flatten()
                .filter(|parameter| matches!(parameter.parameter_in, ParameterIn::Query))
                .map(|parameter| parameter.name.clone())
                .collect();
            names.insert((method.to_owned(), path.clone()), query);
        }
    }
    names
}

/// Every operation of the API refuses a query parameter its document does not name,
/// alike: one rule, read from the document itself, so that no route ignores what a
/// client meant to ask.
async fn refuse_unknown_query(
    axum::extract::State(names): axum::extract::State<Arc<QueryNames>>,
    request: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let template = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let known =
        template.and_then(|template| names.get(&(request.method().as_str().to_owned(), template)));
    if let (Some(known), Some(query)) = (known, request.uri().query()) {
        let unknown = form_urlencoded::parse(query.as_bytes())
            .map(|(key, _)| key.into_owned())
            .find(|key| !known.contains(key));
        if let Some(key) = unknown {
            return ApiError::new(
                ErrorCode::InvalidQuery,
                format!("this endpoint takes no query parameter {key:?}"),
            )
            .with_field(key)
            .into_response();
        }
    }
    next.run(request).await
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

/// Serves with the default settings until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, Settings::default(), shutdown).await
}

/// Serves until `shutdown` completes, then finishes the requests under way.
pub async fn serve_with(
    listener: TcpListener,
    app: App,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Background work — following the other servers' changes, letting idle sources
    // leave memory — runs under one supervisor for as long as the server does.
    let jobs = app.start_jobs();
    let served = axum::serve(
        listener,
        router_with(app, settings).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    jobs.stop().await;
    served
}
