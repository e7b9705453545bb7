//! Domain errors name what happened; the HTTP layer maps them once to the wire.

use scim_proto::error::ScimError;

/// What the storage layer may report. Backend errors are converted at the store's edge into
/// these; `Conflict` is the one place a unique-index violation becomes meaningful.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same {0} already exists")]
    Conflict(String),
    #[error("the record was changed concurrently")]
    Stale,
    #[error("storage failure: {0}")]
    Backend(String),
    /// The database cannot be reached (connections refused or lost, the pool starved): a
    /// passing condition. Callers answer 503 with `Retry-After`, never a verdict such as
    /// "invalid token".
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database's storage is full: writes fail until space returns (reads still work).
    /// A passing condition as well: callers answer 503 with `Retry-After`.
    #[error("the database's storage is full: {0}")]
    Full(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named a version that is no longer current.
    #[error("the resource has changed since version {0}")]
    PreconditionFailed(String),
    /// Client authentication at the token endpoint failed. Deliberately says nothing about
    /// whether the client exists.
    #[error("client authentication failed")]
    InvalidClient,
    /// Too many failed client authentications from this client or address; retry after
    /// this many seconds.
    #[error("too many failed attempts; retry after {0} s")]
    TooManyAttempts(i64),
    /// The client is known and authenticated, but may not get a token from where it stands.
    #[error("{0}")]
    Forbidden(String),
    /// The provider's mass-deletion guard refuses its deletes and deactivations until an
    /// administrator releases it: a passing condition for the provider (503, retry later).
    #[error("{}", .0.detail())]
    Guarded(crate::lifecycle::GuardRefusal),
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => CoreError::Conflict(format!("a record with the same {what} already exists")),
            other => CoreError::Store(other),
        }
    }
}
