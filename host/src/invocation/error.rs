//! Errors raised while reading the function app definition or translating an invocation.

use std::fmt;
use std::path::PathBuf;

/// A function app definition (host.json or a function.json) that cannot be used.
#[derive(Debug)]
pub enum FunctionJsonError {
    /// A file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file is not valid JSON or does not have the expected shape.
    Invalid { path: PathBuf, reason: String },
}

impl fmt::Display for FunctionJsonError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => {
                write!(formatter, "failed to read {}: {source}", path.display())
            }
            Self::Invalid { path, reason } => {
                write!(
                    formatter,
                    "invalid function app file {}: {reason}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for FunctionJsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::Invalid { .. } => None,
        }
    }
}

/// A JSON invocation from the Functions host that cannot be turned into a component request.
///
/// Messages name the offending field by its path in the invocation (for example
/// `Data.req.Method`) and never include header values or bodies, because those can carry
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationError {
    /// The invocation body is not JSON.
    InvalidJson { reason: String },
    /// A required field is absent or null.
    MissingField { field: String },
    /// A field has the wrong JSON type or an unusable value.
    InvalidField { field: String, expected: String },
    /// The function's trigger type has no translation.
    UnsupportedTrigger {
        function: String,
        trigger_type: String,
    },
    /// The function.json of the function declares no trigger binding.
    NoTrigger { function: String },
}

impl fmt::Display for InvocationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidJson { reason } => {
                write!(formatter, "invocation body is not valid JSON: {reason}")
            }
            Self::MissingField { field } => {
                write!(formatter, "invocation field `{field}` is missing")
            }
            Self::InvalidField { field, expected } => {
                write!(
                    formatter,
                    "invocation field `{field}` is invalid: expected {expected}"
                )
            }
            Self::UnsupportedTrigger {
                function,
                trigger_type,
            } => write!(
                formatter,
                "function `{function}` has trigger type `{trigger_type}`, which the handler \
                 cannot translate; use an httpTrigger or a timerTrigger"
            ),
            Self::NoTrigger { function } => write!(
                formatter,
                "function `{function}` has no trigger binding in its function.json"
            ),
        }
    }
}

impl std::error::Error for InvocationError {}

impl InvocationError {
    pub(crate) fn missing(field: impl Into<String>) -> Self {
        Self::MissingField {
            field: field.into(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            expected: expected.into(),
        }
    }
}
