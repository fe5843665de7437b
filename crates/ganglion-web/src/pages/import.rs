//! Importing units from a CSV file, with a row-by-row report of what is wrong; nothing
//! is created unless every row is right (the same use case as the API and the CLI).

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use ganglion_app::ErrorCode;
use ganglion_app::{RowError, Silent};
use maud::html;

use super::forms::{check_token, Viewer, CSRF_FIELD};
use super::shell::{csrf_field, error_box, page, refusal};
use super::{PageError, PageResult};
use crate::error::ApiError;
use crate::AppState;

pub(crate) async fn import_form(viewer: Viewer) -> PageResult {
    viewer.require_sign_in()?;
    Ok(import_page(&viewer, StatusCode::OK, None, None))
}

/// The outcome shown under the form.
enum Outcome<'a> {
    Created(u64),
    Refused(&'a ApiError),
}

fn import_page(
    viewer: &Viewer,
    status: StatusCode,
    file_name: Option<&str>,
    outcome: Option<Outcome<'_>>,
) -> axum::response::Response {
    let texts = viewer.texts;
    let body = html! {
        h1 { (texts.t("import.title")) }
        p class="lead" { (texts.t("import.lead")) }
        pre class="sample" { "code,parent_code,kind,name,tags\nP01-K001-F9,P01-K001,primary,Ryongsong Machine Complex,industry\n" }
        @match &outcome {
            Some(Outcome::Created(count)) => {
                p class="ok" role="status" data-created=(count) {
                    (texts.f("import.created", &[("count", &texts.number(*count)), ("file", &file_name.unwrap_or_default())]))
                }
            },
            Some(Outcome::Refused(error)) => {
                (error_box(texts, error))
                @if let Some(rows) = &error.detail.rows {
                    table class="report" aria-label=(texts.t("import.report")) {
                        thead { tr {
                            th class="number" { (texts.t("import.line")) }
                            th { (texts.t("unit.code")) }
                            th { (texts.t("import.reason")) }
                        } }
                        tbody {
                            @for row in rows.iter() { (report_row(row)) }
                        }
                    }
                }
            },
            None => {},
        }
        form method="post" action="/import" enctype="multipart/form-data" class="stack" {
            (csrf_field(viewer))
            label for="file" { (texts.t("import.file")) }
            input id="file" name="file" type="file" accept=".csv,text/csv" required;
            button type="submit" { (texts.t("import.submit")) }
        }
    };
    page(viewer, status, texts.t("import.title"), "/import", body)
}

fn report_row(row: &RowError) -> maud::Markup {
    html! {
        tr {
            td class="number" { (row.line) }
            td { @if let Some(code) = &row.code { code { (code) } } }
            td { (row.reason) }
        }
    }
}

pub(crate) async fn import(State(state): State<AppState>, request: Request) -> PageResult {
    let (mut parts, body) = request.into_parts();
    let viewer = <Viewer as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &state,
    )
    .await?;
    viewer.require_sign_in()?;
    let texts = viewer.texts;
    let bad_form = |message: String| PageError::status(ErrorCode::InvalidForm, &message, texts);
    let mut multipart = Multipart::from_request(Request::from_parts(parts, body), &state)
        .await
        .map_err(|rejection| bad_form(rejection.body_text()))?;
    let mut token = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| bad_form(error.body_text()))?
    {
        match field.name() {
            Some(CSRF_FIELD) => {
                token = Some(field.text().await.map_err(|e| bad_form(e.body_text()))?)
            }
            Some("file") => {
                // The token comes first in the form; a file before it is not read.
                check_token(&viewer, token.as_deref())?;
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| bad_form(e.body_text()))?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    check_token(&viewer, token.as_deref())?;
    let Some((name, bytes)) = file else {
        let error =
            ApiError::new(ErrorCode::MissingFile, texts.t("import.no_file")).with_field("file");
        return Ok(import_page(
            &viewer,
            error.status,
            None,
            Some(Outcome::Refused(&error)),
        ));
    };
    match state
        .app
        .import_units_csv(&viewer.ctx, &bytes, &Silent)
        .await
    {
        Ok(summary) => Ok(import_page(
            &viewer,
            StatusCode::OK,
            Some(&name),
            Some(Outcome::Created(summary.created)),
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            Ok(import_page(
                &viewer,
                error.status,
                Some(&name),
                Some(Outcome::Refused(&error)),
            ))
        }
    }
}
