//! `/api/v1/directives` and `/api/v1/assignments`: decisions down, results up.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ganglion_app::ErrorCode;
use ganglion_app::{
    AssignmentView, AtQuery, DirectivePatch, DirectiveView, GuidanceView, InboxItem, InboxQuery,
    Issued, Laggard, NewDirective, NewGuidance, Page, Reach, Rollup, Series, Transition,
};
use ganglion_core::DirectiveState;
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
        .routes(routes!(create_directive))
        .routes(routes!(get_directive, update_directive))
        .routes(routes!(issue_directive))
        .routes(routes!(withdraw_directive))
        .routes(routes!(close_directive))
        .routes(routes!(reach))
        .routes(routes!(add_guidance))
        .routes(routes!(rollup))
        .routes(routes!(rollup_csv))
        .routes(routes!(rollup_xlsx))
        .routes(routes!(laggards))
        .routes(routes!(series))
        .routes(routes!(unit_assignments))
        .routes(routes!(unit_calendar))
        .routes(routes!(get_assignment))
        .routes(routes!(transition))
}

api_errors!(
    CreateDirectiveErrors,
    json_write,
    [
        NotFound,
        Forbidden,
        InvalidId,
        InvalidValue,
        UnknownUnit,
        UnknownKind,
        TargetOutsideIssuer,
        ParentNotReceived
    ]
);

/// Drafts a directive of a unit to a target in its subtree.
#[utoipa::path(
    post, path = "/api/v1/directives", tag = "directives",
    request_body = NewDirective,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe")),
    responses(
        (status = 201, description = "The draft", body = DirectiveView),
        CreateDirectiveErrors,
    )
)]
async fn create_directive(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    JsonWrite { input, body }: JsonWrite<NewDirective>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.directives().create(&ctx, input).await
    })
    .await
}

api_errors!(GetDirectiveErrors, read, [NotFound]);

/// One directive, if it was issued by or conveyed to a unit the caller sees.
#[utoipa::path(
    get, path = "/api/v1/directives/{id}", tag = "directives",
    params(("id" = String, Path, description = "The directive's id")),
    responses(
        (status = 200, description = "The directive", body = DirectiveView),
        GetDirectiveErrors,
    )
)]
async fn get_directive(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<DirectiveView>, ApiError> {
    Ok(Json(state.app.directives().get(&ctx, &id).await?))
}

api_errors!(
    UpdateDirectiveErrors,
    json_write,
    [
        NotFound,
        Forbidden,
        InvalidId,
        InvalidValue,
        UnknownUnit,
        UnknownKind,
        TargetOutsideIssuer,
        NotDraft
    ]
);

/// Edits a draft.
#[utoipa::path(
    patch, path = "/api/v1/directives/{id}", tag = "directives",
    params(
        ("id" = String, Path, description = "The directive's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    request_body = DirectivePatch,
    responses(
        (status = 200, description = "The draft as it is now", body = DirectiveView),
        UpdateDirectiveErrors,
    )
)]
async fn update_directive(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    JsonWrite { input, body }: JsonWrite<DirectivePatch>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.directives().update(&ctx, &id, input).await
    })
    .await
}

api_errors!(
    IssueDirectiveErrors,
    bare_write,
    [NotFound, Forbidden, NotDraft]
);

/// Issues a draft: one assignment per targeted unit, at once.
#[utoipa::path(
    post, path = "/api/v1/directives/{id}/issue", tag = "directives",
    params(
        ("id" = String, Path, description = "The directive's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 200, description = "Issued, with the number of assignments", body = Issued),
        IssueDirectiveErrors,
    )
)]
async fn issue_directive(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    body: WriteBody,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.directives().issue(&ctx, &id).await
    })
    .await
}

api_errors!(
    WithdrawDirectiveErrors,
    bare_write,
    [NotFound, Forbidden, DirectiveNotOpen]
);

/// Withdraws a directive: its assignments stop and stay as history.
#[utoipa::path(
    post, path = "/api/v1/directives/{id}/withdraw", tag = "directives",
    params(
        ("id" = String, Path, description = "The directive's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 200, description = "Withdrawn", body = DirectiveView),
        WithdrawDirectiveErrors,
    )
)]
async fn withdraw_directive(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    body: WriteBody,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.directives()
            .end(&ctx, &id, DirectiveState::Withdrawn)
            .await
    })
    .await
}

api_errors!(
    CloseDirectiveErrors,
    bare_write,
    [NotFound, Forbidden, DirectiveNotOpen]
);

/// Closes a directive whose work is concluded.
#[utoipa::path(
    post, path = "/api/v1/directives/{id}/close", tag = "directives",
    params(
        ("id" = String, Path, description = "The directive's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    responses(
        (status = 200, description = "Closed", body = DirectiveView),
        CloseDirectiveErrors,
    )
)]
async fn close_directive(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    body: WriteBody,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.directives()
            .end(&ctx, &id, DirectiveState::Closed)
            .await
    })
    .await
}

api_errors!(ReachErrors, read, [NotFound]);

/// How many units the directive reaches (if issued now, for a draft).
#[utoipa::path(
    get, path = "/api/v1/directives/{id}/reach", tag = "directives",
    params(("id" = String, Path, description = "The directive's id")),
    responses(
        (status = 200, description = "The number of units", body = Reach),
        ReachErrors,
    )
)]
async fn reach(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<Reach>, ApiError> {
    Ok(Json(state.app.directives().reach(&ctx, &id).await?))
}

api_errors!(
    AddGuidanceErrors,
    json_write,
    [
        NotFound,
        Forbidden,
        InvalidId,
        InvalidValue,
        UnknownUnit,
        NotOnTheWay,
        DirectiveNotOpen
    ]
);

/// Adds guidance for a unit's subtree ("convey with added instructions").
#[utoipa::path(
    post, path = "/api/v1/directives/{id}/guidance", tag = "directives",
    params(
        ("id" = String, Path, description = "The directive's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    request_body = NewGuidance,
    responses(
        (status = 201, description = "The note", body = GuidanceView),
        AddGuidanceErrors,
    )
)]
async fn add_guidance(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    JsonWrite { input, body }: JsonWrite<NewGuidance>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::CREATED, |ctx| async move {
        app.directives().add_guidance(&ctx, &id, input).await
    })
    .await
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AtOnly {
    /// The unit whose subtree is counted.
    at: Option<String>,
}

api_errors!(RollupErrors, read, [NotFound, InvalidId]);

/// Progress over a unit's whole subtree, with each child's.
#[utoipa::path(
    get, path = "/api/v1/directives/{id}/rollup", tag = "directives",
    params(("id" = String, Path, description = "The directive's id"), AtOnly),
    responses(
        (status = 200, description = "The roll-up", body = Rollup),
        RollupErrors,
    )
)]
async fn rollup(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<AtOnly>,
) -> Result<Json<Rollup>, ApiError> {
    Ok(Json(
        state
            .app
            .directives()
            .rollup(&ctx, &id, query.at.as_deref())
            .await?,
    ))
}

api_errors!(
    LaggardsErrors,
    read,
    [NotFound, InvalidId, InvalidLimit, InvalidCursor]
);

/// The units that lag most under a unit, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/directives/{id}/laggards", tag = "directives",
    params(("id" = String, Path, description = "The directive's id"), AtQuery),
    responses(
        (status = 200, description = "A page of lagging units", body = Page<Laggard>),
        LaggardsErrors,
    )
)]
async fn laggards(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<AtQuery>,
) -> Result<Json<Page<Laggard>>, ApiError> {
    Ok(Json(
        state.app.directives().laggards(&ctx, &id, query).await?,
    ))
}

api_errors!(SeriesErrors, read, [NotFound, InvalidId]);

/// The counts per state at the end of each day since issue.
#[utoipa::path(
    get, path = "/api/v1/directives/{id}/series", tag = "directives",
    params(("id" = String, Path, description = "The directive's id"), AtOnly),
    responses(
        (status = 200, description = "The daily series", body = Series),
        SeriesErrors,
    )
)]
async fn series(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<AtOnly>,
) -> Result<Json<Series>, ApiError> {
    Ok(Json(
        state
            .app
            .directives()
            .series(&ctx, &id, query.at.as_deref())
            .await?,
    ))
}

api_errors!(
    UnitAssignmentsErrors,
    read,
    [NotFound, InvalidValue, InvalidLimit, InvalidCursor]
);

/// A unit's own assignments: what it must act on, overdue first.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/assignments", tag = "directives",
    params(("id" = String, Path, description = "The unit's id"), InboxQuery),
    responses(
        (status = 200, description = "A page of the unit's assignments", body = Page<InboxItem>),
        UnitAssignmentsErrors,
    )
)]
async fn unit_assignments(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<InboxQuery>,
) -> Result<Json<Page<InboxItem>>, ApiError> {
    Ok(Json(state.app.directives().inbox(&ctx, &id, query).await?))
}

api_errors!(GetAssignmentErrors, read, [NotFound]);

/// An assignment with the guidance on its path and its history.
#[utoipa::path(
    get, path = "/api/v1/assignments/{id}", tag = "directives",
    params(("id" = String, Path, description = "The assignment's id")),
    responses(
        (status = 200, description = "The assignment", body = AssignmentView),
        GetAssignmentErrors,
    )
)]
async fn get_assignment(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Json<AssignmentView>, ApiError> {
    Ok(Json(state.app.directives().assignment(&ctx, &id).await?))
}

api_errors!(
    TransitionErrors,
    json_write,
    [
        NotFound,
        Forbidden,
        InvalidValue,
        DirectiveNotOpen,
        TransitionNotAllowed,
        ReasonRequired,
        NoMetric,
        IdempotencyKeyInUse
    ]
);

/// Moves an assignment to another state.
#[utoipa::path(
    post, path = "/api/v1/assignments/{id}/transition", tag = "directives",
    params(
        ("id" = String, Path, description = "The assignment's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried write safe"),
    ),
    request_body = Transition,
    responses(
        (status = 200, description = "The assignment as it is now", body = AssignmentView),
        TransitionErrors,
    )
)]
async fn transition(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    JsonWrite { input, body }: JsonWrite<Transition>,
) -> Result<Response, ApiError> {
    let app = &state.app;
    run_write(app, ctx, &body, StatusCode::OK, |ctx| async move {
        app.directives().transition(&ctx, &id, input).await
    })
    .await
}

api_errors!(UnitCalendarErrors, read, [NotFound]);

/// A unit's tasks as an iCalendar feed (RFC 5545): one VTODO per assignment, with its
/// due date, status, how far along it is, and the directive it carries out.
#[utoipa::path(
    get, path = "/api/v1/units/{id}/assignments.ics", tag = "directives",
    params(("id" = String, Path, description = "The unit's id")),
    responses(
        (status = 200, description = "The unit's tasks", content_type = "text/calendar", body = String),
        UnitCalendarErrors,
    )
)]
async fn unit_calendar(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let page = state
        .app
        .directives()
        .inbox(
            &ctx,
            &id,
            InboxQuery {
                limit: Some(1000),
                ..InboxQuery::default()
            },
        )
        .await?;
    let body = crate::ical::tasks(&id, &page.items);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/calendar; charset=utf-8",
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "inline; filename=\"tasks.ics\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The roll-up table: the unit itself, then each child.
struct RollupTable {
    header: Vec<&'static str>,
    rows: Vec<(Vec<String>, Vec<Option<f64>>)>,
}

async fn rollup_table(
    state: &AppState,
    ctx: &ganglion_app::Ctx,
    id: &str,
    at: Option<&str>,
) -> Result<RollupTable, ApiError> {
    let rollup = state.app.directives().rollup(ctx, id, at).await?;
    let unit = state.app.unit(ctx, &rollup.unit).await?;
    let numbers = |total: u32,
                   states: &ganglion_app::StateCounts,
                   overdue: u32,
                   metric: &Option<ganglion_app::MetricSum>| {
        let mut values: Vec<Option<f64>> = std::iter::once(total)
            .chain(states.0.iter().map(|(_, count)| *count))
            .chain(std::iter::once(overdue))
            .map(|n| Some(f64::from(n)))
            .collect();
        values.push(metric.as_ref().map(|m| m.sum));
        values.push(metric.as_ref().map(|m| m.target));
        values
    };
    let mut rows = vec![(
        vec![unit.id.clone(), unit.code.clone(), unit.name.clone()],
        numbers(rollup.total, &rollup.states, rollup.overdue, &rollup.metric),
    )];
    for child in &rollup.children {
        rows.push((
            vec![child.unit.clone(), child.code.clone(), child.name.clone()],
            numbers(child.total, &child.states, child.overdue, &child.metric),
        ));
    }
    let header = ["unit", "code", "name", "total"]
        .into_iter()
        .chain(rollup.states.0.iter().map(|(state, _)| *state))
        .chain(["overdue", "metric_sum", "metric_target"])
        .collect();
    Ok(RollupTable { header, rows })
}

fn number_text(value: Option<f64>) -> String {
    match value {
        Some(value) if value.fract() == 0.0 => format!("{value:.0}"),
        Some(value) => value.to_string(),
        None => String::new(),
    }
}

api_errors!(RollupCsvErrors, read, [NotFound, InvalidId]);

/// The roll-up table as CSV: the unit's own line first, then each child's.
#[utoipa::path(
    get, path = "/api/v1/directives/{id}/rollup.csv", tag = "directives",
    params(("id" = String, Path, description = "The directive's id"), AtOnly),
    responses(
        (status = 200, description = "The table", content_type = "text/csv", body = String),
        RollupCsvErrors,
    )
)]
async fn rollup_csv(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<AtOnly>,
) -> Result<Response, ApiError> {
    let table = rollup_table(&state, &ctx, &id, query.at.as_deref()).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |error: csv::Error| ApiError::new(ErrorCode::Internal, error.to_string());
    out.write_record(&table.header).map_err(internal)?;
    for (texts, numbers) in &table.rows {
        let record: Vec<String> = texts
            .iter()
            .map(|text| ganglion_app::guard_cell(text).into_owned())
            .chain(numbers.iter().map(|n| number_text(*n)))
            .collect();
        out.write_record(&record).map_err(internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|error| ApiError::new(ErrorCode::Internal, error.to_string()))?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"rollup-{id}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

api_errors!(RollupXlsxErrors, read, [NotFound, InvalidId]);

/// The roll-up table as an Excel workbook.
#[utoipa::path(
    get, path = "/api/v1/directives/{id}/rollup.xlsx", tag = "directives",
    params(("id" = String, Path, description = "The directive's id"), AtOnly),
    responses(
        (status = 200, description = "The table", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = String),
        RollupXlsxErrors,
    )
)]
async fn rollup_xlsx(
    State(state): State<AppState>,
    Caller { ctx, .. }: Caller,
    Path(id): Path<String>,
    Query(query): Query<AtOnly>,
) -> Result<Response, ApiError> {
    let table = rollup_table(&state, &ctx, &id, query.at.as_deref()).await?;
    let internal =
        |error: rust_xlsxwriter::XlsxError| ApiError::new(ErrorCode::Internal, error.to_string());
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (column, title) in table.header.iter().enumerate() {
        sheet
            .write_string_with_format(0, column as u16, *title, &bold)
            .map_err(internal)?;
    }
    for (index, (texts, numbers)) in table.rows.iter().enumerate() {
        let row = index as u32 + 1;
        for (column, text) in texts.iter().enumerate() {
            sheet
                .write_string(row, column as u16, text)
                .map_err(internal)?;
        }
        for (offset, number) in numbers.iter().enumerate() {
            if let Some(number) = number {
                sheet
                    .write_number(row, (texts.len() + offset) as u16, *number)
                    .map_err(internal)?;
            }
        }
    }
    let bytes = workbook.save_to_buffer().map_err(internal)?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"rollup-{id}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
