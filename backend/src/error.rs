//! The one error type of the server and its mapping onto GraphQL errors.
//!
//! Every GraphQL error carries `extensions.code`. Internal failures (database, I/O) are logged
//! with their details and reach callers only as `INTERNAL_SERVER_ERROR`.

use async_graphql::ErrorExtensions;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller sent a value that breaks a rule; `field` names the input field.
    #[error("{message}")]
    BadInput { field: String, message: String },
    /// The caller's change was based on a version that someone else has changed since; nothing
    /// was changed. `field` names the input that carried the stale version.
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// The caller's input is well-formed, but the state of what it names refuses the request (the
    /// license has expired, its device slots are all taken): `reason` names the rule
    /// (`SCREAMING_CASE`), `field` the input concerned. Nothing was changed.
    #[error("{message}")]
    Refused { field: String, reason: String, message: String },
    /// The entity the caller named does not exist.
    #[error("{entity} not found")]
    NotFound { entity: &'static str, field: String },
    /// No (valid) credentials; the message says what was wrong without revealing which part.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// An admin who must use 2FA has not enrolled yet: only enrollment is allowed.
    #[error("two-factor authentication must be set up before anything else")]
    TotpEnrollmentRequired,
    /// Too many failed attempts on this account: refused without checking credentials.
    #[error("too many failed attempts; try again after {retry_after}")]
    TooManyAttempts { retry_after: chrono::DateTime<chrono::Utc> },
    /// A rate limit refused the request before doing its work (HTTP 429 with `Retry-After`);
    /// `limit` names the bucket that ran dry, `retry_after` when the request would pass.
    #[error("rate limit exceeded ({limit}); retry in {} s", whole_seconds(*.retry_after))]
    RateLimited { limit: &'static str, retry_after: std::time::Duration },
    /// PostgreSQL cancelled a statement that ran past STATEMENT_TIMEOUT_SECS (SQLSTATE 57014):
    /// the caller asked for too much at once. Logged with its details.
    #[error("the query took longer than the server allows; ask for less at once (a shorter range, a smaller page)")]
    QueryTimeout(sqlx::Error),
    /// Details are logged, never shown; the message is deliberately generic. Constraint
    /// violations a caller can cause never end up here: `From<sqlx::Error>` maps them first.
    #[error("internal server error")]
    Database(sqlx::Error),
    #[error("internal server error")]
    Internal(#[from] anyhow::Error),
    /// A backup or restore is running (on this instance or another): one job at a time.
    /// `running` names the backup it concerns, when one is recorded yet. Nothing was changed.
    #[error("a backup or restore is already running{}; try again once it has finished", (*.running).map(|id| format!(" (backup {id})")).unwrap_or_default())]
    BackupInProgress { running: Option<uuid::Uuid> },
}

/// The code of [`Error::RateLimited`]; the HTTP layer answers such a response with 429.
pub const RATE_LIMITED: &str = "RATE_LIMITED";

/// SQLSTATE `query_canceled`: what PostgreSQL reports when `statement_timeout` ends a statement.
const QUERY_CANCELED: &str = "57014";

/// Seconds to wait, rounded up and at least one (the unit of `Retry-After`).
pub fn whole_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

impl Error {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadInput { field: field.into(), message: message.into() }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Conflict { field: field.into(), message: message.into() }
    }

    pub fn not_found(entity: &'static str, field: impl Into<String>) -> Self {
        Error::NotFound { entity, field: field.into() }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::BadInput { .. } | Error::Refused { .. } => "BAD_USER_INPUT",
            Error::NotFound { .. } => "NOT_FOUND",
            Error::Conflict { .. } => "CONFLICT",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::Forbidden(_) | Error::TotpEnrollmentRequired => "FORBIDDEN",
            Error::TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            Error::RateLimited { .. } => RATE_LIMITED,
            Error::QueryTimeout(_) => "QUERY_TIMEOUT",
            Error::Database(_) | Error::Internal(_) => "INTERNAL_SERVER_ERROR",
            Error::BackupInProgress { .. } => "BACKUP_IN_PROGRESS",
        }
    }
}

/// Every database error converts through here, so `?` alone turns a constraint violation that a
/// caller can cause into an input error naming the field; everything else stays internal.
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.code().as_deref() == Some(QUERY_CANCELED) {
                return Error::QueryTimeout(err);
            }
            if let Some(constraint) = db.constraint() {
                if let Some((field, message)) = constraint_message(constraint) {
                    return Error::bad_input(field, message);
                }
            }
        }
        Error::Database(err)
    }
}

/// Refuses a change based on a read older than the record's last change, with `CONFLICT` naming
/// the `expectedUpdatedAt` argument. `expected` absent: the change applies whatever happened since.
pub fn ensure_unchanged(
    what: &str,
    expected: Option<chrono::DateTime<chrono::Utc>>,
    current: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    match expected {
        Some(expected) if expected != current => Err(Error::conflict(
            "expectedUpdatedAt",
            format!("the {what} was changed by someone else at {current}; read it again and repeat the change"),
        )),
        _ => Ok(()),
    }
}

/// A constraint whose violation is the caller's doing, with the field and message to report.
/// The domain that owns the table registers it beside its SQL with [`input_constraint!`]; `?` on
/// any statement then maps a violation to `BAD_USER_INPUT` without a call-site reminder.
pub struct InputConstraint {
    pub name: &'static str,
    pub field: &'static str,
    pub message: &'static str,
}

inventory::collect!(InputConstraint);

/// Registers constraints: `input_constraint!("customers_email_key" => "email", "message");`.
#[macro_export]
macro_rules! input_constraint {
    ($($name:literal => $field:literal, $message:literal;)+) => {$(
        inventory::submit! {
            $crate::error::InputConstraint { name: $name, field: $field, message: $message }
        }
    )+};
}

/// Every constraint registered by a domain.
pub fn input_constraints() -> impl Iterator<Item = &'static InputConstraint> {
    inventory::iter::<InputConstraint>.into_iter()
}

fn constraint_message(constraint: &str) -> Option<(&'static str, &'static str)> {
    input_constraints().find(|c| c.name == constraint).map(|c| (c.field, c.message))
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        match self {
            Error::Database(_) | Error::Internal(_) => {
                tracing::error!(error = ?self, "internal error while serving a request")
            }
            Error::QueryTimeout(_) => tracing::warn!(error = ?self, "a statement ran into the statement timeout"),
            _ => {}
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Error::BadInput { field, .. } | Error::NotFound { field, .. } | Error::Conflict { field, .. } => {
                    ext.set("field", field.as_str())
                }
                Error::Refused { field, reason, .. } => {
                    ext.set("field", field.as_str());
                    ext.set("reason", reason.as_str());
                }
                Error::TotpEnrollmentRequired => ext.set("reason", "TOTP_ENROLLMENT_REQUIRED"),
                Error::TooManyAttempts { retry_after } => ext.set("retryAfter", retry_after.to_rfc3339()),
                Error::RateLimited { limit, retry_after } => {
                    ext.set("retryAfter", whole_seconds(*retry_after));
                    ext.set("limit", *limit);
                }
                Error::BackupInProgress { running: Some(id) } => ext.set("backupId", id.to_string()),
                _ => {}
            }
        })
    }
}

impl Error {
    /// This error as one that refuses a whole request (no location in the document, no path).
    pub fn into_request_error(self) -> async_graphql::ServerError {
        let mut error = self.extend().into_server_error(async_graphql::Pos::default());
        error.locations.clear();
        error
    }
}

/// `.gql()` converts a domain result into a GraphQL result that keeps the error's code.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for Result<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

impl<T> GqlResultExt<T> for Result<T, sqlx::Error> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| Error::from(e).extend())
    }
}
