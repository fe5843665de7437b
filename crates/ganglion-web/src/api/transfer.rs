//! `/api/v1/import/units` and `/api/v1/export/units`: the tree as CSV.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ganglion_app::{CsvExport, ImportSummary, PeopleImportSummary, Silent};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::errors::api_errors;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{require_content_type, Query, WriteBody};
use crate::write::run_write;
use crate::{AppState, IMPORT_BODY_LIMIT};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_units))
        .routes(routes!(import_people))
        .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT))
        .routes(routes!(export_units))
        .routes(routes!(export_people))
}

api_errors!(ImportUnitsErrors, csv_write, [Forbidden, InvalidRows]);

/// Imports units from CSV (`code,parent_code,kind,name,tags`, tags separated by `;`),
/// all or nothing.
#[utoipa::path(
    post, path = "/api/v1/import/units", tag = "import",
    request_body(content = String, content_type = "text/csv", description = "Header `code,parent_code,kind,name,tags`; a parent is given by code, empty for the top"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 200, description = "Every row was created", body = ImportSummary),
        ImportUnitsErrors,
    )
)]
async fn import_units(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let app = &state.app;
    csv_write(app, ctx, request, |ctx, bytes| async move {
        app.import_units_csv(&ctx, &bytes, &Silent).await
    })
    .await
}

/// Runs an import on a CSV body as a write: same idempotency, same errors.
pub(crate) async fn csv_write<T, F, Fut>(
    app: &ganglion_app::App,
    ctx: ganglion_app::Ctx,
    request: Request,
    use_case: F,
) -> Result<Response, ApiError>
where
    T: serde::Serialize,
    F: FnOnce(ganglion_app::Ctx, axum::body::Bytes) -> Fut,
    Fut: std::future::Future<Output = Result<T, ganglion_app::AppError>>,
{
    require_content_type(request.headers(), "text/csv")?;
    let body = <WriteBody as axum::extract::FromRequest<()>>::from_request(request, &()).await?;
    let bytes = body.bytes.clone();
    run_write(app, ctx, &body, StatusCode::OK, |ctx| use_case(ctx, bytes)).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// Only this unit and those under it.
    under: Option<String>,
}

api_errors!(ExportUnitsErrors, read, [NotFound, InvalidId]);

/// Exports units as CSV in the import format, parents before children.
#[utoipa::path(
    get, path = "/api/v1/export/units", tag = "import",
    params(ExportQuery),
    responses(
        (status = 200, description = "The units as CSV", content_type = "text/csv", body = String),
        ExportUnitsErrors,
    )
)]
async fn export_units(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let export = state.app.export_units(&ctx, query.under.as_deref()).await?;
    csv_response(export, "units.csv").await
}

/// Streams an export. The first piece is read before answering, so that a failure
/// there is still a clean error response.
async fn csv_response(mut export: impl CsvExport, filename: &str) -> Result<Response, ApiError> {
    let first = export.next_chunk().await?.unwrap_or_default();
    let rest = futures::stream::unfold(export, |mut export| async move {
        match export.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), export)),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "export failed part-way");
                Some((Err(std::io::Error::other(error.to_string())), export))
            }
        }
    });
    let stream = futures::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, std::io::Error>(first) }),
        rest,
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

api_errors!(ImportPeopleErrors, csv_write, [Forbidden, InvalidRows]);

/// Imports people and their posts from CSV (`person_ref,name,unit_code,role,title,start,end`),
/// all or nothing. `person_ref` is the person's key in the system the file comes from.
#[utoipa::path(
    post, path = "/api/v1/import/people", tag = "import",
    request_body(content = String, content_type = "text/csv", description = "Header `person_ref,name,unit_code,role,title,start,end`; one row per post, or a row without unit_code for a person only"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 200, description = "Every row was imported", body = PeopleImportSummary),
        ImportPeopleErrors,
    )
)]
async fn import_people(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let app = &state.app;
    csv_write(app, ctx, request, |ctx, bytes| async move {
        app.import_people_csv(&ctx, &bytes).await
    })
    .await
}

api_errors!(ExportPeopleErrors, read, [NotFound, InvalidId]);

/// Exports the posts the caller may see as CSV, in the import format.
#[utoipa::path(
    get, path = "/api/v1/export/people", tag = "import",
    params(ExportQuery),
    responses(
        (status = 200, description = "People and posts as CSV", content_type = "text/csv", body = String),
        ExportPeopleErrors,
    )
)]
async fn export_people(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let export = state
        .app
        .export_people(&ctx, query.under.as_deref())
        .await?;
    csv_response(export, "people.csv").await
}
