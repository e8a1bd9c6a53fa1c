//! The one place where errors of every layer become MongoDB error replies
//! (`{ok: 0, errmsg, code, codeName}`), encoded in the opcode of the request.
//!
//! Messages say what was refused and no more: never document contents, never the
//! upstream's address or the service user.

use bson::{rawdoc, RawDocument, RawDocumentBuf};
use bytes::Bytes;

pub use crate::error_code::ErrorCode;
use crate::wire::{self, Compressor, WireError};

/// A MongoDB error, ready to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub errmsg: String,
    /// `errorLabels` drivers act on (e.g. RetryableWriteError).
    pub labels: Vec<&'static str>,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, errmsg: impl Into<String>) -> ErrorReply {
        ErrorReply {
            code,
            errmsg: errmsg.into(),
            labels: Vec::new(),
        }
    }

    pub fn unauthorized(errmsg: impl Into<String>) -> ErrorReply {
        ErrorReply::new(ErrorCode::Unauthorized, errmsg)
    }

    pub fn authentication_failed() -> ErrorReply {
        ErrorReply::new(ErrorCode::AuthenticationFailed, "Authentication failed.")
    }

    pub fn host_unreachable(what: &str) -> ErrorReply {
        ErrorReply::new(
            ErrorCode::HostUnreachable,
            format!("upstream unavailable: {what}"),
        )
    }

    pub fn network_timeout(what: &str) -> ErrorReply {
        ErrorReply::new(
            ErrorCode::NetworkTimeout,
            format!("upstream timed out: {what}"),
        )
    }

    pub fn with_label(mut self, label: &'static str) -> ErrorReply {
        self.labels.push(label);
        self
    }

    /// The reply document.
    pub fn to_doc(&self) -> RawDocumentBuf {
        let mut doc = rawdoc! {
            "ok": 0.0,
            "errmsg": self.errmsg.as_str(),
            "code": self.code.code(),
            "codeName": self.code.name(),
        };
        if !self.labels.is_empty() {
            let mut labels = bson::RawArrayBuf::new();
            for l in &self.labels {
                labels.push(*l);
            }
            doc.append("errorLabels", labels);
        }
        doc
    }
}

impl From<&WireError> for ErrorReply {
    fn from(e: &WireError) -> ErrorReply {
        ErrorReply::new(e.error_code(), e.to_string())
    }
}

/// How to frame a reply to one request: its opcode, id and compression.
#[derive(Clone, Copy, Debug)]
pub struct ReplyTo {
    pub op_code: i32,
    pub request_id: i32,
    pub compressor: Option<Compressor>,
}

/// Encodes a proxy-made reply document for the request it answers. OP_QUERY requests
/// get OP_REPLY (flagged QueryFailure for a `$err` document), everything else OP_MSG;
/// compressed when the request was (a driver accepts either, mongod mirrors the request).
pub fn encode(reply_to: &ReplyTo, own_id: i32, doc: &RawDocument) -> Bytes {
    let msg = if reply_to.op_code == wire::OP_QUERY {
        // A `$err` document is a legacy query failure: mongod flags it QueryFailure.
        match doc.get("$err") {
            Ok(Some(_)) => wire::encode_op_reply_flags(
                own_id,
                reply_to.request_id,
                wire::REPLY_QUERY_FAILURE,
                doc,
            ),
            _ => wire::encode_op_reply(own_id, reply_to.request_id, doc),
        }
    } else {
        wire::encode_op_msg(own_id, reply_to.request_id, 0, doc)
    };
    match reply_to.compressor {
        Some(c) if c != Compressor::Noop => wire::compress(&msg, c).unwrap_or(msg),
        _ => msg,
    }
}

#[cfg(test)]
mod tests;
