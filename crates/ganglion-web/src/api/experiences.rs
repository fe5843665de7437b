//! `/api/v1/experiences` and `/api/v1/titles`: the library of good experience, searched
//! in full text, and the honours awarded to units.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use ganglion_app::{
    AwardView, Awarded, ExperienceQuery, ExperienceResults, ExperienceView, NewExperience,
    NewTitle, Page, TitleQuery, TitleView, Withdrawal,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::errors::api_errors;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{JsonWrite, Query};
use crate::write::run_write;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_experience, search_experiences))
        .routes(routes!(get_experience))
        .routes(routes!(award_title, list_titles))
        .routes(routes!(get_award))
        .routes(routes!(withdraw_award))
        .routes(routes!(unit_titles))
}

api_errors!(
    CreateExperienceErrors,
    json_write,
    [
        Forbidden,
        InvalidId,
        InvalidValue,
        UnknownUnit,
        UnknownDirective,
        UnknownProgramme,
        UnknownEvent
    ]
);

/// Writes a piece of good experience for a unit the caller acts for.
#[utoipa::path(
    post, path = "/api/v1/experiences", tag = "experience",
    request_body = NewExperience,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The experience", body = ExperienceView),
        CreateExperienceErrors,
    )
)]
async fn create_experience(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewExperience>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.experiences().create(&ctx, input).await
    })
    .await
}

api_errors!(
    SearchExperiencesErrors,
    read,
    [
        NotFound,
        InvalidId,
        InvalidValue,
        InvalidLimit,
        InvalidCursor
    ]
);

/// Searches the library in full text (Korean and English), ranked by relevance, each
/// result with a snippet marking the match; or, without `q`, the newest experiences.
/// Only what the caller may read is found and counted.
#[utoipa::path(
    get, path = "/api/v1/experiences", tag = "experience",
    params(ExperienceQuery),
    responses(
        (status = 200, description = "A page of experiences found, and how many in all", body = ExperienceResults),
        SearchExperiencesErrors,
    )
)]
async fn search_experiences(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<ExperienceQuery>,
) -> Result<Json<ExperienceResults>, ApiError> {
    Ok(Json(state.app.experiences().search(&ctx, query).await?))
}

api_errors!(GetExperienceErrors, read, [NotFound]);

/// One experience the caller may read.
#[utoipa::path(
    get, path = "/api/v1/experiences/{id}", tag = "experience",
    params(("id" = String, Path, description = "The experience's id")),
    responses(
        (status = 200, description = "The experience", body = ExperienceView),
        GetExperienceErrors,
    )
)]
async fn get_experience(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExperienceView>, ApiError> {
    Ok(Json(state.app.experiences().get(&ctx, &id).await?))
}

api_errors!(
    AwardTitleErrors,
    json_write,
    [Forbidden, InvalidId, InvalidValue, UnknownUnit, NotAbove]
);

/// Awards a title to a unit in the name of a unit above it (`awarded_by`, a strict
/// ancestor), for which the caller acts. Awarded again, the title counts once more.
#[utoipa::path(
    post, path = "/api/v1/titles", tag = "experience",
    request_body = NewTitle,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The award, and how many times the unit now holds the title", body = Awarded),
        AwardTitleErrors,
    )
)]
async fn award_title(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewTitle>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.honours().award(&ctx, input).await
    })
    .await
}

api_errors!(
    ListTitlesErrors,
    read,
    [NotFound, InvalidId, InvalidLimit, InvalidCursor]
);

/// The units holding a title now, by title and then in tree order, each with `times`
/// and its awards. Every account sees honours.
#[utoipa::path(
    get, path = "/api/v1/titles", tag = "experience",
    params(TitleQuery),
    responses(
        (status = 200, description = "A page of titled units", body = Page<TitleView>),
        ListTitlesErrors,
    )
)]
async fn list_titles(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<TitleQuery>,
) -> Result<Json<Page<TitleView>>, ApiError> {
    Ok(Json(state.app.honours().list(&ctx, query).await?))
}

api_errors!(GetAwardErrors, read, [NotFound]);

/// One award of a title.
#[utoipa::path(
    get, path = "/api/v1/titles/awards/{id}", tag = "experience",
    params(("id" = String, Path, description = "The award's id")),
    responses(
        (status = 200, description = "The award", body = AwardView),
        GetAwardErrors,
    )
)]
async fn get_award(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<AwardView>, ApiError> {
    Ok(Json(state.app.honours().get_award(&ctx, &id).await?))
}

api_errors!(
    WithdrawAwardErrors,
    json_write,
    [
        NotFound,
        Forbidden,
        InvalidValue,
        ReasonRequired,
        AwardWithdrawn
    ]
);

/// Withdraws an award, with the reason, by those who may award in its awarding unit's
/// name; it no longer counts in `times`.
#[utoipa::path(
    post, path = "/api/v1/titles/awards/{id}/withdraw", tag = "experience",
    request_body = Withdrawal,
    params(
        ("id" = String, Path, description = "The award's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 200, description = "The award, withdrawn", body = AwardView),
        WithdrawAwardErrors,
    )
)]
async fn withdraw_award(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    JsonWrite { input, body }: JsonWrite<Withdrawal>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.honours().withdraw(&ctx, &id, input).await
    })
    .await
}

api_errors!(UnitTitlesErrors, read, [NotFound]);

/// Every title the unit was ever awarded (held now first), each with `times` and its
/// awards; read as the unit is.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/titles", tag = "experience",
    params(("id" = String, Path, description = "The unit's id")),
    responses(
        (status = 200, description = "The unit's titles", body = Vec<TitleView>),
        UnitTitlesErrors,
    )
)]
async fn unit_titles(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<TitleView>>, ApiError> {
    Ok(Json(state.app.honours().of_unit(&ctx, &id).await?))
}
