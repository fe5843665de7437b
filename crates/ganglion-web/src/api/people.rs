//! `/api/v1/people` and `/api/v1/posts`: people and the posts they hold.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use ganglion_app::{EndPost, NewPerson, NewPost, Page, PeopleQuery, PersonView, PostView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::errors::api_errors;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{parse_json, JsonWrite, Query, WriteBody};
use crate::write::run_write;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_person, list_people))
        .routes(routes!(get_person))
        .routes(routes!(person_posts))
        .routes(routes!(create_post))
        .routes(routes!(end_post))
        .routes(routes!(unit_posts))
}

api_errors!(CreatePersonErrors, json_write, [Forbidden, InvalidValue]);

/// Adds a person; any secretary or official may, to appoint them.
#[utoipa::path(
    post, path = "/api/v1/people", tag = "people",
    request_body = NewPerson,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The person", body = PersonView),
        CreatePersonErrors,
    )
)]
async fn create_person(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewPerson>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.create_person(&ctx, input).await
    })
    .await
}

api_errors!(
    ListPeopleErrors,
    read,
    [NotFound, InvalidId, InvalidLimit, InvalidCursor]
);

/// People holding or having held a post in what the caller may see.
#[utoipa::path(
    get, path = "/api/v1/people", tag = "people",
    params(PeopleQuery),
    responses(
        (status = 200, description = "A page of people", body = Page<PersonView>),
        ListPeopleErrors,
    )
)]
async fn list_people(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<PeopleQuery>,
) -> Result<Json<Page<PersonView>>, ApiError> {
    Ok(Json(state.app.list_people(&ctx, query).await?))
}

api_errors!(GetPersonErrors, read, [NotFound]);

/// One person.
#[utoipa::path(
    get, path = "/api/v1/people/{id}", tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The person", body = PersonView),
        GetPersonErrors,
    )
)]
async fn get_person(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(state.app.person(&ctx, &id).await?))
}

api_errors!(PersonPostsErrors, read, [NotFound]);

/// A person's posts, current and past, as far as the caller may see.
#[utoipa::path(
    get, path = "/api/v1/people/{id}/posts", tag = "people",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The posts", body = Vec<PostView>),
        PersonPostsErrors,
    )
)]
async fn person_posts(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<PostView>>, ApiError> {
    Ok(Json(state.app.person_posts(&ctx, &id).await?))
}

api_errors!(
    CreatePostErrors,
    json_write,
    [
        Forbidden,
        InvalidId,
        InvalidValue,
        UnknownUnit,
        UnknownPerson
    ]
);

/// Appoints a person to a post in a unit.
#[utoipa::path(
    post, path = "/api/v1/posts", tag = "people",
    request_body = NewPost,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The post", body = PostView),
        CreatePostErrors,
    )
)]
async fn create_post(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewPost>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.create_post(&ctx, input).await
    })
    .await
}

api_errors!(
    EndPostErrors,
    bare_write,
    [
        MalformedJson,
        InvalidField,
        NotFound,
        Forbidden,
        InvalidValue,
        PostEnded
    ]
);

/// Ends a post (today, or on `end`); it stays in the unit's history.
#[utoipa::path(
    post, path = "/api/v1/posts/{id}/end", tag = "people",
    params(
        ("id" = String, Path, description = "The post's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    request_body(content = Option<EndPost>, description = "Optional; `{\"end\": \"YYYY-MM-DD\"}`"),
    responses(
        (status = 200, description = "The ended post", body = PostView),
        EndPostErrors,
    )
)]
async fn end_post(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    body: WriteBody,
) -> Result<Response, ApiError> {
    let input: EndPost = if body.bytes.is_empty() {
        EndPost::default()
    } else {
        parse_json(&body.bytes)?
    };
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.end_post(&ctx, &id, input).await
    })
    .await
}

api_errors!(UnitPostsErrors, read, [NotFound]);

/// A unit's post holders, current first, then past ones.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/posts", tag = "people",
    params(("id" = String, Path, description = "The unit's id")),
    responses(
        (status = 200, description = "The posts", body = Vec<PostView>),
        UnitPostsErrors,
    )
)]
async fn unit_posts(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<PostView>>, ApiError> {
    Ok(Json(state.app.unit_posts(&ctx, &id).await?))
}
