//! Classification errors, each mapped to the code mongod answers with so the proxy can
//! reply exactly like the server would.

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
        match self {
            ClassifyError::UnknownCommand(_) => 59,
            ClassifyError::AdminOnly(_) => 13,
            ClassifyError::UnknownStage(_) => 40324,
            ClassifyError::TypeMismatch { .. } => 14,
            ClassifyError::Malformed { .. } => 9,
            ClassifyError::BadValue { .. } => 2,
            ClassifyError::DuplicateField(_) => 2,
            ClassifyError::InvalidNamespace(_) => 73,
            ClassifyError::TooComplex(_) => 2,
            ClassifyError::UnknownField(_) => 40415,
            ClassifyError::NoDocumentSequences(_) => 40472,
        }
    }

    /// The mongod error code name.
    pub fn code_name(&self) -> &'static str {
        match self.code() {
            59 => "CommandNotFound",
            13 => "Unauthorized",
            40324 => "Location40324",
            14 => "TypeMismatch",
            9 => "FailedToParse",
            73 => "InvalidNamespace",
            40415 => "Location40415",
            40472 => "Location40472",
            _ => "BadValue",
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
