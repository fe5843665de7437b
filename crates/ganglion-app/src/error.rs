use ganglion_store::{Constraint, StoreError};
use serde::Serialize;

/// Declares the closed set of error codes: each with its one spelling and its one
/// HTTP status.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($text:literal, $status:literal), )*) => {
        /// Every error code the API answers: one closed set, each code with one
        /// spelling (snake_case, part of the API) and one HTTP status. A new failure
        /// gets a variant here; the OpenAPI document lists, per operation, which of
        /// these it may answer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as the API spells it.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }

            /// The HTTP status every answer with this code carries.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }
        }
    };
}

error_codes! {
    /// 400: the body is not valid JSON.
    MalformedJson = ("malformed_json", 400),
    /// 400: the `Idempotency-Key` header is not 1 to 255 visible ASCII characters.
    InvalidIdempotencyKey = ("invalid_idempotency_key", 400),
    /// 400: the body could not be read.
    UnreadableBody = ("unreadable_body", 400),
    /// 401: no valid credentials.
    Unauthenticated = ("unauthenticated", 401),
    /// 401: the login or the password is wrong.
    BadCredentials = ("bad_credentials", 401),
    /// 403: the caller may see the thing but not do this to it.
    Forbidden = ("forbidden", 403),
    /// 403: a write authenticated by the session cookie without its CSRF token.
    CsrfTokenRequired = ("csrf_token_required", 403),
    /// 403: a page form without this browser's form token.
    InvalidFormToken = ("invalid_form_token", 403),
    /// 404: no such thing, or not visible to the caller.
    NotFound = ("not_found", 404),
    /// 404: no such endpoint.
    RouteNotFound = ("route_not_found", 404),
    /// 405: the endpoint does not answer that method.
    MethodNotAllowed = ("method_not_allowed", 405),
    /// 409: a unit with this code exists.
    DuplicateCode = ("duplicate_code", 409),
    /// 409: the login is taken.
    DuplicateLogin = ("duplicate_login", 409),
    /// 409: units are still under the unit.
    UnitNotEmpty = ("unit_not_empty", 409),
    /// 409: something tracked refers to the unit; its history is kept.
    UnitHasHistory = ("unit_has_history", 409),
    /// 409: the post has ended already.
    PostEnded = ("post_ended", 409),
    /// 409: the directive is no longer a draft.
    NotDraft = ("not_draft", 409),
    /// 409: the directive was withdrawn or closed, or is not issued.
    DirectiveNotOpen = ("directive_not_open", 409),
    /// 409: the database already holds an organization on another template.
    AlreadyInitialized = ("already_initialized", 409),
    /// 409: the database is not empty.
    NotEmpty = ("not_empty", 409),
    /// 409: the demo needs the party template.
    WrongTemplate = ("wrong_template", 409),
    /// 409: the award of a title was withdrawn already.
    AwardWithdrawn = ("award_withdrawn", 409),
    /// 409: a request with this Idempotency-Key is under way.
    IdempotencyKeyInUse = ("idempotency_key_in_use", 409),
    /// 413: the body is larger than the endpoint accepts.
    BodyTooLarge = ("body_too_large", 413),
    /// 415: the body is not of the media type the endpoint reads.
    UnsupportedMediaType = ("unsupported_media_type", 415),
    /// 422: a value breaks its rule.
    InvalidValue = ("invalid_value", 422),
    /// 422: a field has the wrong type, is missing or is unknown.
    InvalidField = ("invalid_field", 422),
    /// 422: an id in a body or a query is not an id.
    InvalidId = ("invalid_id", 422),
    /// 422: a query parameter is unknown or ill-typed.
    InvalidQuery = ("invalid_query", 422),
    /// 422: `limit` is not between 1 and 1000.
    InvalidLimit = ("invalid_limit", 422),
    /// 422: the cursor is not one this server gave.
    InvalidCursor = ("invalid_cursor", 422),
    /// 422: rows of an import are bad; each is listed in `rows`.
    InvalidRows = ("invalid_rows", 422),
    /// 422: a page form could not be read.
    InvalidForm = ("invalid_form", 422),
    /// 422: a page form without a file.
    MissingFile = ("missing_file", 422),
    /// 422: a page form that needs its confirmation box ticked.
    ConfirmationRequired = ("confirmation_required", 422),
    /// 422: the parent named is no unit the caller may see.
    UnknownParent = ("unknown_parent", 422),
    /// 422: the unit named is no unit the caller may see.
    UnknownUnit = ("unknown_unit", 422),
    /// 422: the person named is no person the caller may see.
    UnknownPerson = ("unknown_person", 422),
    /// 422: the kind is not one of the template's.
    UnknownKind = ("unknown_kind", 422),
    /// 422: no built-in template has that name.
    UnknownTemplate = ("unknown_template", 422),
    /// 422: the template does not let that kind sit there.
    KindNotAllowed = ("kind_not_allowed", 422),
    /// 422: the move would put a unit under itself.
    Cycle = ("cycle", 422),
    /// 422: the password is too short.
    WeakPassword = ("weak_password", 422),
    /// 422: this Idempotency-Key was used for another request.
    IdempotencyKeyReused = ("idempotency_key_reused", 422),
    /// 422: the state machine forbids that transition.
    TransitionNotAllowed = ("transition_not_allowed", 422),
    /// 422: that transition needs a note giving the reason.
    ReasonRequired = ("reason_required", 422),
    /// 422: the directive has no metric to report a value of.
    NoMetric = ("no_metric", 422),
    /// 422: the target lies outside the issuer's subtree.
    TargetOutsideIssuer = ("target_outside_issuer", 422),
    /// 422: the issuer did not receive the parent directive.
    ParentNotReceived = ("parent_not_received", 422),
    /// 422: the unit is not on the directive's way.
    NotOnTheWay = ("not_on_the_way", 422),
    /// 422: a project's unit lies outside the programme owner's subtree.
    UnitOutsideOwner = ("unit_outside_owner", 422),
    /// 422: the year is not one of the programme's.
    YearOutsideProgramme = ("year_outside_programme", 422),
    /// 422: the directive named is no directive the caller may see.
    UnknownDirective = ("unknown_directive", 422),
    /// 422: the programme named is no programme the caller may see.
    UnknownProgramme = ("unknown_programme", 422),
    /// 422: the event named is no event the caller may see.
    UnknownEvent = ("unknown_event", 422),
    /// 422: the unit acting (awarding a title) is not above the unit it acts on.
    NotAbove = ("not_above", 422),
    /// 422: a file holds more rows than one import takes.
    TooManyRows = ("too_many_rows", 422),
    /// 429: too many requests or sign-in attempts; see `Retry-After`.
    RateLimited = ("rate_limited", 429),
    /// 500: the server could not complete the request; the cause is in its log.
    Internal = ("internal", 500),
    /// 503: the server cannot take the request now.
    Unavailable = ("unavailable", 503),
}

impl ErrorCode {
    /// The code of this spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {text:?}")))
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Self::ALL.iter().map(|code| code.as_str())))
            .description(Some("A stable snake_case code programs can branch on."))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

/// One bad row of an import: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line of the file, counting the header as line 1.
    pub line: u64,
    /// The code of the row, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub reason: String,
}

/// Why a use case did not do what was asked. Each answer carries one [`ErrorCode`],
/// whose status it has.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 401: no valid credentials.
    #[error("sign in first: this needs a valid session")]
    Unauthenticated,
    /// 401: the login or the password is wrong.
    #[error("wrong login or password")]
    BadCredentials,
    /// 403: the caller may see the thing but not do this to it.
    #[error("you may not do this")]
    Forbidden,
    /// 429: too many attempts; try again after this many seconds.
    #[error("too many attempts; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    /// 404: the thing does not exist (or, with accounts, is not visible).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// 422: well-formed but breaks a rule.
    #[error("{message}")]
    Invalid {
        code: ErrorCode,
        message: String,
        field: Option<String>,
    },
    /// 409: conflicts with the current state.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// 422: an import with bad rows; nothing was written.
    #[error("{} rows of the file are not valid; nothing was imported", rows.len())]
    Rows { rows: Vec<RowError> },
    /// A fault of the store that is no fault of the request.
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// The code the API answers this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Unauthenticated => ErrorCode::Unauthenticated,
            AppError::BadCredentials => ErrorCode::BadCredentials,
            AppError::Forbidden => ErrorCode::Forbidden,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::NotFound { .. } => ErrorCode::NotFound,
            AppError::Invalid { code, .. } | AppError::Conflict { code, .. } => *code,
            AppError::Rows { .. } => ErrorCode::InvalidRows,
            AppError::Store(_) | AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub(crate) fn invalid(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            code,
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            // A concurrent writer took the code between our check and our insert.
            StoreError::Duplicate(Constraint::UnitCode) => AppError::Conflict {
                code: ErrorCode::DuplicateCode,
                message: "a unit with this code already exists".into(),
            },
            other => AppError::Store(other),
        }
    }
}
