//! `/api/v1/units`: the organization tree.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use ganglion_app::{ListUnits, MoveUnit, NewUnitInput, Page, UnitPatch, UnitView};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonWrite, Query, WriteBody};
use crate::write::run_write;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_unit, list_units))
        .routes(routes!(get_unit, update_unit, remove_unit))
        .routes(routes!(children))
        .routes(routes!(move_unit))
}

/// Creates a unit under `parent`, or at the top of the tree.
#[utoipa::path(
    post, path = "/api/v1/units", tag = "units",
    request_body = NewUnitInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The new unit", body = UnitView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The code is taken (`duplicate_code`)", body = ErrorBody),
        (status = 422, description = "A value or the kind rule is broken", body = ErrorBody),
    )
)]
async fn create_unit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewUnitInput>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.create_unit(&ctx, input).await
    })
    .await
}

/// Lists units, filtered and in tree order (parents before children).
#[utoipa::path(
    get, path = "/api/v1/units", tag = "units",
    params(ListUnits),
    responses(
        (status = 200, description = "A page of units", body = Page<UnitView>),
        (status = 404, description = "`under` names no unit", body = ErrorBody),
        (status = 422, description = "A parameter is not valid", body = ErrorBody),
    )
)]
async fn list_units(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<ListUnits>,
) -> Result<Json<Page<UnitView>>, ApiError> {
    Ok(Json(state.app.list_units(&ctx, query).await?))
}

/// One unit.
#[utoipa::path(
    get, path = "/api/v1/units/{id}", tag = "units",
    params(("id" = String, Path, description = "The unit's id")),
    responses(
        (status = 200, description = "The unit", body = UnitView),
        (status = 404, description = "No such unit", body = ErrorBody),
    )
)]
async fn get_unit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<UnitView>, ApiError> {
    Ok(Json(state.app.unit(&ctx, &id).await?))
}

/// Renames or retags a unit.
#[utoipa::path(
    patch, path = "/api/v1/units/{id}", tag = "units",
    params(
        ("id" = String, Path, description = "The unit's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    request_body = UnitPatch,
    responses(
        (status = 200, description = "The unit as it is now", body = UnitView),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 422, description = "A value is not valid", body = ErrorBody),
    )
)]
async fn update_unit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    JsonWrite { input, body }: JsonWrite<UnitPatch>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.update_unit(&ctx, &id, input).await
    })
    .await
}

/// Removes a unit that has no units under it.
#[utoipa::path(
    delete, path = "/api/v1/units/{id}", tag = "units",
    params(
        ("id" = String, Path, description = "The unit's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 409, description = "Units are still under it (`unit_not_empty`)", body = ErrorBody),
    )
)]
async fn remove_unit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    body: WriteBody,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::NO_CONTENT, |ctx| async move {
        app.remove_unit(&ctx, &id).await
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// At most this many items (1 to 1000, default 100).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The units directly under a unit.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/children", tag = "units",
    params(("id" = String, Path, description = "The unit's id"), PageQuery),
    responses(
        (status = 200, description = "A page of children", body = Page<UnitView>),
        (status = 404, description = "No such unit", body = ErrorBody),
    )
)]
async fn children(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<UnitView>>, ApiError> {
    Ok(Json(
        state
            .app
            .children(&ctx, &id, page.limit, page.cursor.as_deref())
            .await?,
    ))
}

/// Moves a unit, with everything under it, to a new parent.
#[utoipa::path(
    post, path = "/api/v1/units/{id}/move", tag = "units",
    params(
        ("id" = String, Path, description = "The unit's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    request_body = MoveUnit,
    responses(
        (status = 200, description = "The unit in its new place", body = UnitView),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 422, description = "A cycle (`cycle`) or a kind rule (`kind_not_allowed`)", body = ErrorBody),
    )
)]
async fn move_unit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    JsonWrite { input, body }: JsonWrite<MoveUnit>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.move_unit(&ctx, &id, input).await
    })
    .await
}
