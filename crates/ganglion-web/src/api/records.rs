//! `/api/v1/notes` and `/api/v1/audit`: confidential notes and the audit trail.

use axum::extract::{Path, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ganglion_app::{AuditQuery, AuditView, ChainStatus, NewNote, NoteView, Page};
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
        .routes(routes!(create_note))
        .routes(routes!(get_note))
        .routes(routes!(unit_notes))
        .routes(routes!(audit))
        .routes(routes!(verify_audit))
        .routes(routes!(audit_checkpoint))
        .routes(routes!(audit_key))
}

api_errors!(
    CreateNoteErrors,
    json_write,
    [Forbidden, InvalidId, InvalidValue, UnknownUnit]
);

/// Adds a note to a unit, optionally hidden from the subtree of a unit under it.
#[utoipa::path(
    post, path = "/api/v1/notes", tag = "records",
    request_body = NewNote,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The note", body = NoteView),
        CreateNoteErrors,
    )
)]
async fn create_note(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewNote>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.create_note(&ctx, input).await
    })
    .await
}

api_errors!(GetNoteErrors, read, [NotFound]);

/// One note.
#[utoipa::path(
    get, path = "/api/v1/notes/{id}", tag = "records",
    params(("id" = String, Path, description = "The note's id")),
    responses(
        (status = 200, description = "The note", body = NoteView),
        GetNoteErrors,
    )
)]
async fn get_note(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<NoteView>, ApiError> {
    Ok(Json(state.app.note(&ctx, &id).await?))
}

api_errors!(UnitNotesErrors, read, [NotFound]);

/// A unit's notes that the caller may read.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/notes", tag = "records",
    params(("id" = String, Path, description = "The unit's id")),
    responses(
        (status = 200, description = "The notes", body = Vec<NoteView>),
        UnitNotesErrors,
    )
)]
async fn unit_notes(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<NoteView>>, ApiError> {
    Ok(Json(state.app.unit_notes(&ctx, &id).await?))
}

api_errors!(
    AuditErrors,
    read,
    [NotFound, InvalidId, InvalidLimit, InvalidCursor]
);

/// Audit entries about a subtree, newest first.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "records",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = Page<AuditView>),
        AuditErrors,
    )
)]
async fn audit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    Ok(Json(state.app.audit(&ctx, query).await?))
}

api_errors!(VerifyAuditErrors, read, [Forbidden]);

/// Recomputes the audit chain; the administrator only.
#[utoipa::path(
    get, path = "/api/v1/audit/verify", tag = "records",
    responses(
        (status = 200, description = "Whether the chain is intact, and where it breaks", body = ChainStatus),
        VerifyAuditErrors,
    )
)]
async fn verify_audit(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
) -> Result<Json<ChainStatus>, ApiError> {
    Ok(Json(state.app.verify_audit(&ctx).await?))
}

api_errors!(AuditCheckpointErrors, read, [NotFound]);

/// The latest signed checkpoint of the audit log: its size and Merkle root (RFC 6962)
/// as a c2sp.org/tlog-checkpoint signed note, checkable with the public key from
/// `GET /api/v1/audit/key`. Keep it: a history rewritten after it fails against it
/// (`ganglion audit verify --checkpoint FILE`). Every signed-in account may read it.
#[utoipa::path(
    get, path = "/api/v1/audit/checkpoint", tag = "records",
    responses(
        (status = 200, description = "The signed checkpoint note", content_type = "text/plain", body = String),
        AuditCheckpointErrors,
    )
)]
async fn audit_checkpoint(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
) -> Result<Response, ApiError> {
    let checkpoint = state.app.audit_log().checkpoint(&ctx).await?;
    Ok(plain_text(checkpoint.note))
}

api_errors!(AuditKeyErrors, read, [NotFound]);

/// The public key the audit log's checkpoints are signed with (a signed-note Ed25519
/// verifier key, `name+id+key`). Every signed-in account may read it.
#[utoipa::path(
    get, path = "/api/v1/audit/key", tag = "records",
    responses(
        (status = 200, description = "The public key, one line", content_type = "text/plain", body = String),
        AuditKeyErrors,
    )
)]
async fn audit_key(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
) -> Result<Response, ApiError> {
    let key = state.app.audit_log().public_key(&ctx).await?;
    Ok(plain_text(format!("{key}\n")))
}

fn plain_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
