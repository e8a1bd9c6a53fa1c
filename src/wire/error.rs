//! Errors of the wire codec. Every malformed input maps to one of these values (never a panic);
//! `code()` gives the MongoDB error code the proxy puts into an error reply when it answers
//! instead of forwarding.

use crate::error_code::ErrorCode;

const BAD_VALUE: ErrorCode = ErrorCode::BadValue;
const FAILED_TO_PARSE: ErrorCode = ErrorCode::FailedToParse;
const OVERFLOW: ErrorCode = ErrorCode::Overflow;
const PROTOCOL_ERROR: ErrorCode = ErrorCode::ProtocolError;
const INVALID_BSON: ErrorCode = ErrorCode::InvalidBson;
const BSON_OBJECT_TOO_LARGE: ErrorCode = ErrorCode::BsonObjectTooLarge;

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message truncated: {what} needs {need} bytes, {have} available")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("invalid messageLength {length} for opcode {op_code} (minimum {min})")]
    InvalidMessageLength {
        length: i32,
        op_code: i32,
        min: usize,
    },
    #[error("message of {size} bytes exceeds the maximum message size {max}")]
    MessageTooLarge { size: usize, max: usize },
    #[error("header messageLength {header} does not match the frame length {actual}")]
    LengthMismatch { header: i32, actual: usize },
    #[error("unsupported opcode {0}")]
    UnsupportedOpCode(i32),
    #[error("opcode {op_code} is not allowed in a {context}")]
    UnexpectedOpCode { op_code: i32, context: &'static str },
    #[error("OP_MSG has unknown required flag bits {0:#x}")]
    UnknownRequiredFlags(u32),
    #[error(
        "OP_MSG checksum mismatch: message says {expected:#010x}, contents give {actual:#010x}"
    )]
    ChecksumMismatch { expected: u32, actual: u32 },
    #[error("unknown OP_MSG section kind {kind} at offset {offset}")]
    UnknownSectionKind { kind: u8, offset: usize },
    #[error("OP_MSG has no body (kind 0) section")]
    MissingBody,
    #[error("OP_MSG has more than one body (kind 0) section")]
    DuplicateBody,
    #[error("invalid OP_MSG document sequence at offset {offset}: {reason}")]
    InvalidSequence { offset: usize, reason: &'static str },
    #[error("duplicate document sequence identifier {0:?}")]
    DuplicateSequence(String),
    #[error("document sequence {0:?} duplicates a field of the command body")]
    SequenceShadowsField(String),
    #[error("{count} unexpected trailing bytes at offset {offset}")]
    TrailingBytes { offset: usize, count: usize },
    #[error("invalid C string ({what}) at offset {offset}")]
    InvalidCString { what: &'static str, offset: usize },
    #[error("invalid BSON at offset {offset}: {reason}")]
    InvalidBson { offset: usize, reason: &'static str },
    #[error("BSON document of {size} bytes exceeds the maximum {max}")]
    ObjectTooLarge { size: usize, max: usize },
    #[error("BSON nesting deeper than {max} levels")]
    NestingTooDeep { max: usize },
    #[error("command document is empty")]
    EmptyCommand,
    #[error("duplicate top-level field {0:?} in command")]
    DuplicateField(String),
    #[error("OP_MSG request has no $db field")]
    MissingDb,
    #[error("$db must be a string")]
    DbNotString,
    #[error("invalid OP_QUERY $query wrapper: {0}")]
    InvalidQueryWrapper(&'static str),
    #[error("OP_REPLY numberReturned is {declared} but {actual} documents follow")]
    NumberReturnedMismatch { declared: i32, actual: usize },
    #[error("unknown compressor id {0}")]
    UnknownCompressor(u8),
    #[error("OP_COMPRESSED cannot wrap opcode {0} here")]
    InvalidCompressedOpCode(i32),
    #[error("invalid OP_COMPRESSED uncompressedSize {0}")]
    InvalidUncompressedSize(i32),
    #[error("decompressed {actual} bytes but uncompressedSize is {expected}")]
    UncompressedSizeMismatch { expected: usize, actual: usize },
    #[error("{compressor} decompression failed: {reason}")]
    Decompress {
        compressor: &'static str,
        reason: String,
    },
    #[error("{compressor} compression failed: {reason}")]
    Compress {
        compressor: &'static str,
        reason: String,
    },
}

impl WireError {
    /// The MongoDB error code in an error reply.
    pub fn code(&self) -> i32 {
        self.error_code().code()
    }

    /// The MongoDB error that best describes this error in an error reply.
    pub fn error_code(&self) -> ErrorCode {
        use WireError::*;
        match self {
            InvalidBson { .. } => INVALID_BSON,
            ObjectTooLarge { .. } | MessageTooLarge { .. } => BSON_OBJECT_TOO_LARGE,
            NestingTooDeep { .. } => OVERFLOW,
            EmptyCommand
            | MissingDb
            | DbNotString
            | InvalidQueryWrapper(_)
            | DuplicateField(_)
            | DuplicateSequence(_)
            | SequenceShadowsField(_) => FAILED_TO_PARSE,
            UnknownCompressor(_) | InvalidCompressedOpCode(_) | Compress { .. } => BAD_VALUE,
            Truncated { .. }
            | InvalidMessageLength { .. }
            | LengthMismatch { .. }
            | UnsupportedOpCode(_)
            | UnexpectedOpCode { .. }
            | UnknownRequiredFlags(_)
            | ChecksumMismatch { .. }
            | UnknownSectionKind { .. }
            | MissingBody
            | DuplicateBody
            | InvalidSequence { .. }
            | TrailingBytes { .. }
            | InvalidCString { .. }
            | NumberReturnedMismatch { .. }
            | InvalidUncompressedSize(_)
            | UncompressedSizeMismatch { .. }
            | Decompress { .. } => PROTOCOL_ERROR,
        }
    }

    /// The MongoDB code name matching [`WireError::code`].
    pub fn code_name(&self) -> &'static str {
        self.error_code().name()
    }
}
