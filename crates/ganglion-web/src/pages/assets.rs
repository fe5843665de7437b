//! The pages' style sheet and script, embedded in the binary: nothing is fetched from
//! elsewhere. Their addresses carry a digest of their content, so that browsers may keep
//! them for a year and still see a new version at once.

use ganglion_app::ErrorCode;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Name, media type, content.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "ganglion.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ganglion.css"),
    ),
    (
        "ganglion.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ganglion.js"),
    ),
];

static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(_, _, bytes)| hex::encode(&Sha256::digest(bytes)[..6]))
        .collect()
});

/// The address of an asset, with its version.
pub(crate) fn url(name: &str) -> String {
    let index = ASSETS
        .iter()
        .position(|(known, _, _)| *known == name)
        .unwrap_or(0);
    format!("/assets/{name}?v={}", VERSIONS[index])
}

pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(known, _, _)| *known == name) {
        Some((_, media_type, bytes)) => {
            let mut response = (StatusCode::OK, *bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            response
        }
        None => crate::ApiError::new(ErrorCode::NotFound, "there is no such file").into_response(),
    }
}
