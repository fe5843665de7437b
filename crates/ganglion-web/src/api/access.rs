//! `/api/v1/sessions` and `/api/v1/accounts`: signing in and out, and accounts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ganglion_app::{AccountView, LoginAttempt, NewAccount, SessionView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::errors::api_errors;
use crate::caller::Caller;
use crate::error::ApiError;
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

api_errors!(CreateSessionErrors, sign_in, [BadCredentials]);

/// Signs in: a bearer token for `Authorization: Bearer …`, valid for 12 hours.
#[utoipa::path(
    post, path = "/api/v1/sessions", tag = "access",
    request_body = LoginAttempt,
    responses(
        (status = 201, description = "Signed in", body = SessionView),
        CreateSessionErrors,
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

api_errors!(DeleteSessionErrors, read, [CsrfTokenRequired]);

/// Signs out: the token stops working at once.
#[utoipa::path(
    delete, path = "/api/v1/sessions/current", tag = "access",
    responses(
        (status = 204, description = "Signed out"),
        DeleteSessionErrors,
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

api_errors!(
    CreateAccountErrors,
    json_write,
    [
        Forbidden,
        InvalidId,
        InvalidValue,
        WeakPassword,
        UnknownPerson,
        DuplicateLogin
    ]
);

/// Creates an account for a person; the instance administrator only.
#[utoipa::path(
    post, path = "/api/v1/accounts", tag = "access",
    request_body = NewAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The account", body = AccountView),
        CreateAccountErrors,
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
