//! `/api/v1/sessions` and `/api/v1/accounts`: signing in and out, and accounts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ganglion_app::{AccountView, LoginAttempt, NewAccount, SessionView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonWrite;
use crate::limits::Client;
use crate::write::run_write;
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(delete_session))
        .routes(routes!(create_account))
}

/// Signs in: a bearer token for `Authorization: Bearer …`, valid for 12 hours.
#[utoipa::path(
    post, path = "/api/v1/sessions", tag = "access",
    request_body = LoginAttempt,
    responses(
        (status = 201, description = "Signed in", body = SessionView),
        (status = 401, description = "Wrong login or password (`bad_credentials`)", body = ErrorBody),
        (status = 429, description = "Too many attempts for this login or address; see Retry-After", body = ErrorBody),
    )
)]
async fn create_session(
    State(state): State<AppState>,
    client: Client,
    Caller { ctx, .. }: Caller,
    JsonWrite { input: attempt, .. }: JsonWrite<LoginAttempt>,
) -> Result<Response, ApiError> {
    state.limits.check_sign_in(client.address)?;
    let session = state
        .app
        .login(&ctx, attempt, &client.address.to_string())
        .await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

/// Signs out: the token stops working at once.
#[utoipa::path(
    delete, path = "/api/v1/sessions/current", tag = "access",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid session", body = ErrorBody),
    )
)]
async fn delete_session(
    State(state): State<AppState>,
    Caller { ctx, token }: Caller,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .logout(&ctx, token.as_deref().unwrap_or_default())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an account for a person; the instance administrator only.
#[utoipa::path(
    post, path = "/api/v1/accounts", tag = "access",
    request_body = NewAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The account", body = AccountView),
        (status = 403, description = "Only the administrator creates accounts", body = ErrorBody),
        (status = 409, description = "The login is taken (`duplicate_login`)", body = ErrorBody),
        (status = 422, description = "A value is not valid, e.g. a password under 10 characters", body = ErrorBody),
    )
)]
async fn create_account(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewAccount>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.create_account(&ctx, input).await
    })
    .await
}
