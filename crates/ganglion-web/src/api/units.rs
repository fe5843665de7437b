//! `/api/v1/units`: the organization tree.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use ganglion_app::{ListUnits, MoveUnit, NewUnitInput, Page, UnitPatch, UnitView};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::errors::api_errors;
use crate::caller::Caller;
use crate::error::ApiError;
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

api_errors!(
    CreateUnitErrors,
    json_write,
    [
        Forbidden,
        InvalidValue,
        InvalidId,
        UnknownParent,
        KindNotAllowed,
        DuplicateCode
    ]
);

/// Creates a unit under `parent`, or at the top of the tree.
#[utoipa::path(
    post, path = "/api/v1/units", tag = "units",
    request_body = NewUnitInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The new unit", body = UnitView),
        CreateUnitErrors,
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

api_errors!(
    ListUnitsErrors,
    read,
    [NotFound, InvalidId, InvalidLimit, InvalidCursor]
);

/// Lists units, filtered and in tree order (parents before children).
#[utoipa::path(
    get, path = "/api/v1/units", tag = "units",
    params(ListUnits),
    responses(
        (status = 200, description = "A page of units", body = Page<UnitView>),
        ListUnitsErrors,
    )
)]
async fn list_units(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<ListUnits>,
) -> Result<Json<Page<UnitView>>, ApiError> {
    Ok(Json(state.app.list_units(&ctx, query).await?))
}

api_errors!(GetUnitErrors, read, [NotFound]);

/// One unit.
#[utoipa::path(
    get, path = "/api/v1/units/{id}", tag = "units",
    params(("id" = String, Path, description = "The unit's id")),
    responses(
        (status = 200, description = "The unit", body = UnitView),
        GetUnitErrors,
    )
)]
async fn get_unit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<UnitView>, ApiError> {
    Ok(Json(state.app.unit(&ctx, &id).await?))
}

api_errors!(
    UpdateUnitErrors,
    json_write,
    [NotFound, Forbidden, InvalidValue]
);

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
        UpdateUnitErrors,
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

api_errors!(
    RemoveUnitErrors,
    bare_write,
    [NotFound, Forbidden, UnitNotEmpty, UnitHasHistory]
);

/// Removes a unit that has no units under it.
#[utoipa::path(
    delete, path = "/api/v1/units/{id}", tag = "units",
    params(
        ("id" = String, Path, description = "The unit's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 204, description = "Removed"),
        RemoveUnitErrors,
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

api_errors!(
    ChildrenErrors,
    read,
    [NotFound, InvalidLimit, InvalidCursor]
);

/// The units directly under a unit.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/children", tag = "units",
    params(("id" = String, Path, description = "The unit's id"), PageQuery),
    responses(
        (status = 200, description = "A page of children", body = Page<UnitView>),
        ChildrenErrors,
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

api_errors!(
    MoveUnitErrors,
    json_write,
    [
        NotFound,
        Forbidden,
        InvalidId,
        UnknownParent,
        Cycle,
        KindNotAllowed
    ]
);

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
        MoveUnitErrors,
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
