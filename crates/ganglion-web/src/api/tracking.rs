//! What is tracked, seen from a unit: everything overdue under it of every kind, the
//! directives it issued, and the plans made under a directive.

use axum::extract::{Path, State};
use axum::Json;
use ganglion_app::{Attention, AttentionQuery, DirectiveListQuery, DirectiveSummary, Page};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::errors::api_errors;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::Query;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(attention))
        .routes(routes!(issued_directives))
        .routes(routes!(plans))
}

api_errors!(
    AttentionErrors,
    read,
    [NotFound, InvalidLimit, InvalidCursor]
);

/// Everything overdue in the unit's subtree, of every kind, by child and most overdue
/// first.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/attention", tag = "directives",
    params(("id" = String, Path, description = "The unit's id"), AttentionQuery),
    responses(
        (status = 200, description = "What is overdue", body = Attention),
        AttentionErrors,
    )
)]
async fn attention(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<AttentionQuery>,
) -> Result<Json<Attention>, ApiError> {
    Ok(Json(state.app.attention(&ctx, &id, query).await?))
}

api_errors!(
    IssuedDirectivesErrors,
    read,
    [NotFound, InvalidLimit, InvalidCursor]
);

/// The directives the unit issued, newest first, with how far each has come.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/directives", tag = "directives",
    params(("id" = String, Path, description = "The unit's id"), DirectiveListQuery),
    responses(
        (status = 200, description = "A page of directives", body = Page<DirectiveSummary>),
        IssuedDirectivesErrors,
    )
)]
async fn issued_directives(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<DirectiveListQuery>,
) -> Result<Json<Page<DirectiveSummary>>, ApiError> {
    Ok(Json(
        state.app.directives().issued_by(&ctx, &id, query).await?,
    ))
}

api_errors!(PlansErrors, read, [NotFound]);

/// The plans units made under a directive (its child directives) that the caller sees.
#[utoipa::path(
    get, path = "/api/v1/directives/{id}/plans", tag = "directives",
    params(("id" = String, Path, description = "The directive's id")),
    responses(
        (status = 200, description = "The plans", body = Vec<DirectiveSummary>),
        PlansErrors,
    )
)]
async fn plans(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<DirectiveSummary>>, ApiError> {
    Ok(Json(state.app.directives().plans(&ctx, &id).await?))
}
