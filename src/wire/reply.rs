//! OP_REPLY decoding (wire spec, legacy OP_REPLY): mongod's answer to an OP_QUERY.
//!
//! Layout after the header: int32 responseFlags, int64 cursorID, int32 startingFrom,
//! int32 numberReturned, then exactly numberReturned documents filling the message.

use super::bsoncheck::{doc_len_at, validate_document};
use super::compression::Compressor;
use super::error::WireError;
use super::header::{read_i32, read_i64, Header};
use super::{raw_doc, HEADER_LEN};
use bson::RawDocument;
use bytes::Bytes;
use std::ops::Range;

const DOCS_START: usize = HEADER_LEN + 20;

/// A decoded OP_REPLY.
#[derive(Clone, Debug)]
pub struct OpReply {
    bytes: Bytes,
    header: Header,
    response_flags: i32,
    cursor_id: i64,
    starting_from: i32,
    docs: Vec<Range<usize>>,
    compressor: Option<Compressor>,
}

impl OpReply {
    pub fn header(&self) -> Header {
        self.header
    }

    pub fn response_flags(&self) -> i32 {
        self.response_flags
    }

    pub fn cursor_id(&self) -> i64 {
        self.cursor_id
    }

    pub fn starting_from(&self) -> i32 {
        self.starting_from
    }

    pub fn number_returned(&self) -> usize {
        self.docs.len()
    }

    pub fn documents(&self) -> impl Iterator<Item = &RawDocument> {
        self.docs.iter().map(|r| raw_doc(&self.bytes, r))
    }

    pub fn first_document(&self) -> Option<&RawDocument> {
        self.docs.first().map(|r| raw_doc(&self.bytes, r))
    }

    pub fn compressor(&self) -> Option<Compressor> {
        self.compressor
    }

    /// The whole uncompressed message, header included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// Decodes a whole, uncompressed OP_REPLY whose header was already checked against the frame.
    /// Documents are fully validated: the proxy reads handshake replies it gets this way.
    pub(crate) fn parse(
        bytes: Bytes,
        header: Header,
        compressor: Option<Compressor>,
        max_bson: usize,
    ) -> Result<OpReply, WireError> {
        let response_flags = read_i32(&bytes, HEADER_LEN, "responseFlags")?;
        let cursor_id = read_i64(&bytes, HEADER_LEN + 4, "cursorID")?;
        let starting_from = read_i32(&bytes, HEADER_LEN + 12, "startingFrom")?;
        let declared = read_i32(&bytes, HEADER_LEN + 16, "numberReturned")?;
        let mut docs = Vec::new();
        let mut pos = DOCS_START;
        while pos < bytes.len() {
            let len = doc_len_at(&bytes, pos, bytes.len(), max_bson)?;
            let doc = bytes.get(pos..pos + len).unwrap_or_default();
            validate_document(doc, pos, &mut |_| Ok(()))?;
            docs.push(pos..pos + len);
            pos += len;
        }
        if usize::try_from(declared).ok() != Some(docs.len()) {
            return Err(WireError::NumberReturnedMismatch {
                declared,
                actual: docs.len(),
            });
        }
        Ok(OpReply {
            bytes,
            header,
            response_flags,
            cursor_id,
            starting_from,
            docs,
            compressor,
        })
    }
}
