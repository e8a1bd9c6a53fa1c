//! OP_QUERY decoding (wire spec, legacy OP_QUERY). Modern mongod accepts it only for the
//! connection handshake (`hello`/`isMaster` on `<db>.$cmd`), but drivers still send it there.
//!
//! Layout after the header: int32 flags, cstring fullCollectionName, int32 numberToSkip,
//! int32 numberToReturn, document query, optional document returnFieldsSelector.

use super::bsoncheck::{doc_len_at, validate_document};
use super::compression::Compressor;
use super::error::WireError;
use super::header::{read_cstring, read_i32, read_u32, Header};
use super::{raw_doc, str_at, HEADER_LEN};
use bson::RawDocument;
use bytes::Bytes;
use std::ops::Range;

/// A decoded OP_QUERY.
#[derive(Clone, Debug)]
pub struct OpQuery {
    bytes: Bytes,
    header: Header,
    flags: u32,
    collection: Range<usize>,
    number_to_skip: i32,
    number_to_return: i32,
    query: Range<usize>,
    command: Range<usize>,
    command_name: Range<usize>,
    fields: Option<Range<usize>>,
    compressor: Option<Compressor>,
}

impl OpQuery {
    pub fn header(&self) -> Header {
        self.header
    }

    pub fn flags(&self) -> u32 {
        self.flags
    }

    pub fn full_collection_name(&self) -> &str {
        str_at(&self.bytes, &self.collection)
    }

    pub fn number_to_skip(&self) -> i32 {
        self.number_to_skip
    }

    pub fn number_to_return(&self) -> i32 {
        self.number_to_return
    }

    /// The query document as sent.
    pub fn query(&self) -> &RawDocument {
        raw_doc(&self.bytes, &self.query)
    }

    /// The command: the query itself, or the value of its leading `$query` field when wrapped
    /// (drivers wrap to attach `$readPreference`).
    pub fn command(&self) -> &RawDocument {
        raw_doc(&self.bytes, &self.command)
    }

    pub fn command_name(&self) -> &str {
        str_at(&self.bytes, &self.command_name)
    }

    /// The optional returnFieldsSelector.
    pub fn return_fields_selector(&self) -> Option<&RawDocument> {
        self.fields.as_ref().map(|r| raw_doc(&self.bytes, r))
    }

    pub fn compressor(&self) -> Option<Compressor> {
        self.compressor
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// Decodes a whole, uncompressed OP_QUERY whose header was already checked against the frame.
    pub(crate) fn parse(
        bytes: Bytes,
        header: Header,
        compressor: Option<Compressor>,
        max_bson: usize,
    ) -> Result<OpQuery, WireError> {
        let len = bytes.len();
        let flags = read_u32(&bytes, HEADER_LEN, "OP_QUERY flags")?;
        let collection = read_cstring(&bytes, HEADER_LEN + 4, len, "fullCollectionName")?;
        let pos = collection.end + 1;
        let number_to_skip = read_i32(&bytes, pos, "numberToSkip")?;
        let number_to_return = read_i32(&bytes, pos + 4, "numberToReturn")?;
        let q_start = pos + 8;
        let q_len = doc_len_at(&bytes, q_start, len, max_bson)?;
        let query = q_start..q_start + q_len;
        let (command, command_name) = locate_command(&bytes, query.clone())?;

        let mut fields = None;
        if query.end < len {
            let f_len = doc_len_at(&bytes, query.end, len, max_bson)?;
            let range = query.end..query.end + f_len;
            let f_bytes = bytes.get(range.clone()).unwrap_or_default();
            validate_document(f_bytes, range.start, &mut |_| Ok(()))?;
            if range.end != len {
                return Err(WireError::TrailingBytes {
                    offset: range.end,
                    count: len - range.end,
                });
            }
            fields = Some(range);
        }
        Ok(OpQuery {
            bytes,
            header,
            flags,
            collection,
            number_to_skip,
            number_to_return,
            query,
            command,
            command_name,
            fields,
            compressor,
        })
    }
}

/// A validated top-level element: key, type, key range and value range (absolute).
struct Top<'a> {
    key: &'a str,
    kind: u8,
    key_range: Range<usize>,
    value: Range<usize>,
}

/// Fully validates the document at `range` and returns its top-level elements, refusing an empty
/// document and duplicate keys (the command rules of OP_MSG, minus `$db`).
fn top_fields(bytes: &[u8], range: Range<usize>) -> Result<Vec<Top<'_>>, WireError> {
    let doc = bytes.get(range.clone()).unwrap_or_default();
    let base = range.start;
    let mut tops = Vec::new();
    validate_document(doc, base, &mut |f| {
        tops.push(Top {
            key: f.key,
            kind: f.kind,
            key_range: f.key_range.start + base..f.key_range.end + base,
            value: f.value.start + base..f.value.end + base,
        });
        Ok(())
    })?;
    if tops.is_empty() {
        return Err(WireError::EmptyCommand);
    }
    let mut keys: Vec<&str> = tops.iter().map(|t| t.key).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w.first() == w.get(1)) {
        let key = w.first().copied().unwrap_or_default();
        return Err(WireError::DuplicateField(key.to_string()));
    }
    Ok(tops)
}

/// Validates the query and finds the command inside it: returns the command document's range
/// and its name's range.
fn locate_command(
    bytes: &[u8],
    query: Range<usize>,
) -> Result<(Range<usize>, Range<usize>), WireError> {
    let tops = top_fields(bytes, query.clone())?;
    match tops.iter().position(|t| t.key == "$query") {
        None => {
            let name = tops.first().map(|t| t.key_range.clone()).unwrap_or(0..0);
            Ok((query, name))
        }
        Some(0) => {
            let wrapper = tops.first().ok_or(WireError::EmptyCommand)?;
            if wrapper.kind != 0x03 {
                return Err(WireError::InvalidQueryWrapper("$query is not a document"));
            }
            let inner = wrapper.value.clone();
            let inner_tops = top_fields(bytes, inner.clone())?;
            let name = inner_tops
                .first()
                .map(|t| t.key_range.clone())
                .unwrap_or(0..0);
            Ok((inner, name))
        }
        // mongod only unwraps a leading $query; anywhere else the proxy and mongod could read
        // different commands from the same bytes, so refuse.
        Some(_) => Err(WireError::InvalidQueryWrapper(
            "$query must be the first field",
        )),
    }
}
