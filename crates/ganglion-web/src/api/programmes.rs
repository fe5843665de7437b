//! `/api/v1/programmes`: multi-year programmes, their projects, and plan against
//! actual by year and by region.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use ganglion_app::{
    NewProgramme, NewProject, Page, ProgrammeProgress, ProgrammeView, ProjectImportSummary,
    ProjectQuery, ProjectView,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::errors::api_errors;
use crate::api::transfer::csv_write;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{JsonWrite, Query};
use crate::write::run_write;
use crate::{AppState, IMPORT_BODY_LIMIT};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_projects))
        .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT))
        .routes(routes!(create_programme, list_programmes))
        .routes(routes!(get_programme))
        .routes(routes!(add_project, list_projects))
        .routes(routes!(progress))
}

api_errors!(
    CreateProgrammeErrors,
    json_write,
    [Forbidden, InvalidId, UnknownUnit, InvalidValue]
);

/// Makes a programme: a directive of kind `project` for each of its years, issued by
/// the owner, to which projects are added.
#[utoipa::path(
    post, path = "/api/v1/programmes", tag = "programmes",
    request_body = NewProgramme,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The programme", body = ProgrammeView),
        CreateProgrammeErrors,
    )
)]
async fn create_programme(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewProgramme>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.programmes().create(&ctx, input).await
    })
    .await
}

api_errors!(ListProgrammesErrors, read, []);

/// The programmes the caller may see.
#[utoipa::path(
    get, path = "/api/v1/programmes", tag = "programmes",
    responses(
        (status = 200, description = "The programmes", body = Vec<ProgrammeView>),
        ListProgrammesErrors,
    )
)]
async fn list_programmes(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
) -> Result<Json<Vec<ProgrammeView>>, ApiError> {
    Ok(Json(state.app.programmes().list(&ctx).await?))
}

api_errors!(GetProgrammeErrors, read, [NotFound]);

/// One programme: visible to those with authority over its owner, and to the units
/// with a project under them.
#[utoipa::path(
    get, path = "/api/v1/programmes/{id}", tag = "programmes",
    params(("id" = String, Path, description = "The programme's id")),
    responses(
        (status = 200, description = "The programme", body = ProgrammeView),
        GetProgrammeErrors,
    )
)]
async fn get_programme(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<ProgrammeView>, ApiError> {
    Ok(Json(state.app.programmes().get(&ctx, &id).await?))
}

api_errors!(
    AddProjectErrors,
    json_write,
    [
        NotFound,
        Forbidden,
        InvalidId,
        UnknownUnit,
        UnitOutsideOwner,
        YearOutsideProgramme,
        InvalidValue
    ]
);

/// Adds a project for a unit in the owner's subtree and a year of the programme.
#[utoipa::path(
    post, path = "/api/v1/programmes/{id}/projects", tag = "programmes",
    request_body = NewProject,
    params(
        ("id" = String, Path, description = "The programme's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 201, description = "The project, planned", body = ProjectView),
        AddProjectErrors,
    )
)]
async fn add_project(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    JsonWrite { input, body }: JsonWrite<NewProject>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.programmes().add_project(&ctx, &id, input).await
    })
    .await
}

api_errors!(
    ImportProjectsErrors,
    csv_write,
    [NotFound, Forbidden, InvalidRows, TooManyRows]
);

/// Adds projects from CSV (`unit_code,year,kind,title,due`), all or nothing.
#[utoipa::path(
    post, path = "/api/v1/programmes/{id}/projects.csv", tag = "programmes",
    request_body(content = String, content_type = "text/csv", description = "Header `unit_code,year,kind,title,due`; `due` may be empty (the year's last day)"),
    params(
        ("id" = String, Path, description = "The programme's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 200, description = "Every row was added", body = ProjectImportSummary),
        ImportProjectsErrors,
    )
)]
async fn import_projects(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let app = &state.app;
    csv_write(app, ctx, request, |ctx, bytes| async move {
        app.programmes().import_projects(&ctx, &id, &bytes).await
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AtOnly {
    /// The unit whose subtree is counted: by default the owner, or the caller's highest
    /// unit with a project under it.
    at: Option<String>,
}

api_errors!(ProgressErrors, read, [NotFound, InvalidId]);

/// Plan against actual by year (every year of the span) and by region.
#[utoipa::path(
    get, path = "/api/v1/programmes/{id}/progress", tag = "programmes",
    params(("id" = String, Path, description = "The programme's id"), AtOnly),
    responses(
        (status = 200, description = "Progress by year and by child", body = ProgrammeProgress),
        ProgressErrors,
    )
)]
async fn progress(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<AtOnly>,
) -> Result<Json<ProgrammeProgress>, ApiError> {
    Ok(Json(
        state
            .app
            .programmes()
            .progress(&ctx, &id, query.at.as_deref())
            .await?,
    ))
}

api_errors!(
    ListProjectsErrors,
    read,
    [
        NotFound,
        InvalidId,
        InvalidLimit,
        InvalidCursor,
        InvalidValue,
        YearOutsideProgramme
    ]
);

/// The programme's projects under a unit, by year, milestone and kind, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/programmes/{id}/projects", tag = "programmes",
    params(("id" = String, Path, description = "The programme's id"), ProjectQuery),
    responses(
        (status = 200, description = "A page of projects", body = Page<ProjectView>),
        ListProjectsErrors,
    )
)]
async fn list_projects(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<ProjectQuery>,
) -> Result<Json<Page<ProjectView>>, ApiError> {
    Ok(Json(
        state.app.programmes().projects(&ctx, &id, query).await?,
    ))
}
