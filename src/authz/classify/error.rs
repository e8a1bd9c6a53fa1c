//! Classification errors, each mapped to the code mongod answers with so the proxy can
//! reply exactly like the server would.

use crate::error_code::ErrorCode;

/// Why a command could not be classified. The proxy never forwards such a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    /// commands.json general_rules authorization_error: reported before authorization.
    #[error("no such command: '{0}'")]
    UnknownCommand(String),
    /// commands.json general_rules admin_only.
    #[error("{0} may only be run against the admin database.")]
    AdminOnly(String),
    #[error("Unrecognized pipeline stage name: '{0}'")]
    UnknownStage(String),
    /// A privilege-deciding field has the wrong BSON type.
    #[error("{field} must be {expected}")]
    TypeMismatch {
        field: String,
        expected: &'static str,
    },
    /// A privilege-deciding field cannot be parsed (shape, missing field).
    #[error("{field}: {reason}")]
    Malformed { field: String, reason: String },
    /// A privilege-deciding field has a value mongod rejects.
    #[error("{field}: {reason}")]
    BadValue { field: String, reason: String },
    /// A document read to decide privileges repeats a key: we refuse to guess which
    /// copy the server would use.
    #[error("duplicate field '{0}'")]
    DuplicateField(String),
    #[error("Invalid namespace specified '{0}'")]
    InvalidNamespace(String),
    /// Pipelines nested too deep or too long to classify in bounded time.
    #[error("{0}")]
    TooComplex(String),
    /// A kind-1 document sequence that is not a field of the command (mongod's IDL).
    #[error("BSON field '{0}' is an unknown field.")]
    UnknownField(String),
    /// A kind-1 document sequence on a command that takes none.
    #[error("The {0} command does not support document sequences.")]
    NoDocumentSequences(String),
}

impl ClassifyError {
    /// The numeric mongod error code.
    pub fn code(&self) -> i32 {
        self.error_code().code()
    }

    /// The mongod error code name.
    pub fn code_name(&self) -> &'static str {
        self.error_code().name()
    }

    /// The mongod error this refusal is reported as.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ClassifyError::UnknownCommand(_) => ErrorCode::CommandNotFound,
            ClassifyError::AdminOnly(_) => ErrorCode::Unauthorized,
            ClassifyError::UnknownStage(_) => ErrorCode::Location40324,
            ClassifyError::TypeMismatch { .. } => ErrorCode::TypeMismatch,
            ClassifyError::Malformed { .. } => ErrorCode::FailedToParse,
            ClassifyError::BadValue { .. } => ErrorCode::BadValue,
            ClassifyError::DuplicateField(_) => ErrorCode::BadValue,
            ClassifyError::InvalidNamespace(_) => ErrorCode::InvalidNamespace,
            ClassifyError::TooComplex(_) => ErrorCode::BadValue,
            ClassifyError::UnknownField(_) => ErrorCode::Location40415,
            ClassifyError::NoDocumentSequences(_) => ErrorCode::Location40472,
        }
    }

    pub(crate) fn type_mismatch(field: &str, expected: &'static str) -> Self {
        ClassifyError::TypeMismatch {
            field: field.to_owned(),
            expected,
        }
    }

    pub(crate) fn malformed(field: &str, reason: &str) -> Self {
        ClassifyError::Malformed {
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn bad_value(field: &str, reason: &str) -> Self {
        ClassifyError::BadValue {
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }
}
