//! OP_MSG decoding (wire spec, OP_MSG): uint32 flagBits, sections, optional CRC-32C checksum.
//!
//! The decoded message keeps the very bytes it checked (`Bytes`) plus offsets into them, so
//! the proxy forwards exactly what it authorized, and documents are never copied.

use super::bsoncheck::{doc_len_at, validate_document, Field};
use super::compression::Compressor;
use super::error::WireError;
use super::header::{read_array, read_cstring, read_u32, Header};
use super::{raw_doc, str_at, HEADER_LEN};
use bson::RawDocument;
use bytes::Bytes;
use std::ops::Range;

/// flagBits: the last 4 bytes are a CRC-32C of everything before them.
pub const FLAG_CHECKSUM_PRESENT: u32 = 1;
/// flagBits: the sender will send another message without waiting for a reply.
pub const FLAG_MORE_TO_COME: u32 = 1 << 1;
/// flagBits: the client accepts multiple replies (exhaust cursors).
pub const FLAG_EXHAUST_ALLOWED: u32 = 1 << 16;
/// Low 16 bits are "required": a receiver must refuse any it does not know (spec).
const REQUIRED_MASK: u32 = 0xFFFF;
const KNOWN_REQUIRED: u32 = FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME;
const FLAGS_END: usize = HEADER_LEN + 4;
/// Real commands carry one or two sequences; the cap bounds the per-message bookkeeping a peer
/// can make us allocate (each section costs it only 6 bytes).
pub const MAX_SEQUENCES: usize = 1024;

/// Which side sent the message: requests get the command rules ($db, no duplicate fields).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Reply,
}

#[derive(Clone, Debug)]
struct SeqInfo {
    identifier: Range<usize>,
    docs: Range<usize>,
    count: usize,
}

/// A decoded OP_MSG.
#[derive(Clone, Debug)]
pub struct OpMsg {
    bytes: Bytes,
    header: Header,
    flags: u32,
    body: Range<usize>,
    command_name: Range<usize>,
    db: Option<Range<usize>>,
    sequences: Vec<SeqInfo>,
    compressor: Option<Compressor>,
}

/// One kind-1 section: an identifier and the documents it carries.
#[derive(Clone, Copy, Debug)]
pub struct DocSequence<'a> {
    identifier: &'a str,
    docs: &'a [u8],
    count: usize,
}

impl<'a> DocSequence<'a> {
    pub fn identifier(&self) -> &'a str {
        self.identifier
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The documents in order. Their framing was checked at decode time; their contents were not
    /// (the upstream validates them).
    pub fn documents(&self) -> Documents<'a> {
        Documents { rest: self.docs }
    }
}

/// Iterator of [`DocSequence::documents`]: a named type, so callers can hold it without
/// boxing (the authorization path reads a sequence per write command).
pub struct Documents<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Documents<'a> {
    type Item = &'a RawDocument;

    fn next(&mut self) -> Option<&'a RawDocument> {
        let len = read_array::<4>(self.rest, 0, "document length")
            .map(i32::from_le_bytes)
            .ok()
            .and_then(|l| usize::try_from(l).ok())?;
        let doc = self.rest.get(..len)?;
        self.rest = self.rest.get(len..)?;
        RawDocument::from_bytes(doc).ok()
    }
}

impl OpMsg {
    pub fn header(&self) -> Header {
        self.header
    }

    pub fn flags(&self) -> u32 {
        self.flags
    }

    pub fn checksum_present(&self) -> bool {
        self.flags & FLAG_CHECKSUM_PRESENT != 0
    }

    pub fn more_to_come(&self) -> bool {
        self.flags & FLAG_MORE_TO_COME != 0
    }

    pub fn exhaust_allowed(&self) -> bool {
        self.flags & FLAG_EXHAUST_ALLOWED != 0
    }

    /// The kind-0 section.
    pub fn body(&self) -> &RawDocument {
        raw_doc(&self.bytes, &self.body)
    }

    /// First key of the body.
    pub fn command_name(&self) -> &str {
        str_at(&self.bytes, &self.command_name)
    }

    /// The body's `$db` (always present in decoded requests; replies do not carry it).
    pub fn db(&self) -> Option<&str> {
        self.db.as_ref().map(|r| str_at(&self.bytes, r))
    }

    /// The kind-1 sections, in message order.
    pub fn sequences(&self) -> impl Iterator<Item = DocSequence<'_>> {
        self.sequences.iter().map(|s| self.make_sequence(s))
    }

    pub fn sequence(&self, identifier: &str) -> Option<DocSequence<'_>> {
        self.sequences().find(|s| s.identifier == identifier)
    }

    /// The whole uncompressed message, header included: exactly the bytes that were checked.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// `Some` when the message arrived as OP_COMPRESSED.
    pub fn compressor(&self) -> Option<Compressor> {
        self.compressor
    }

    fn make_sequence(&self, s: &SeqInfo) -> DocSequence<'_> {
        DocSequence {
            identifier: str_at(&self.bytes, &s.identifier),
            docs: self.bytes.get(s.docs.clone()).unwrap_or_default(),
            count: s.count,
        }
    }

    /// Decodes a whole, uncompressed OP_MSG whose header was already checked against the frame.
    pub(crate) fn parse(
        bytes: Bytes,
        header: Header,
        compressor: Option<Compressor>,
        dir: Direction,
        max_bson: usize,
    ) -> Result<OpMsg, WireError> {
        let flags = read_u32(&bytes, HEADER_LEN, "OP_MSG flagBits")?;
        let unknown = flags & REQUIRED_MASK & !KNOWN_REQUIRED;
        if unknown != 0 {
            return Err(WireError::UnknownRequiredFlags(unknown));
        }
        let end = sections_end(&bytes, flags)?;
        let sections = split_sections(&bytes, end, max_bson)?;
        let body_range = sections.body.ok_or(WireError::MissingBody)?;
        let body_bytes = bytes.get(body_range.clone()).unwrap_or_default();
        let info = check_body(body_bytes, body_range.start, dir)?;
        if dir == Direction::Request {
            check_identifiers(&bytes, &sections.sequences, &info.keys)?;
        }
        let shift = |r: Range<usize>| r.start + body_range.start..r.end + body_range.start;
        Ok(OpMsg {
            header,
            flags,
            command_name: shift(info.command_name),
            db: info.db.map(shift),
            body: body_range,
            sequences: sections.sequences,
            compressor,
            bytes,
        })
    }
}

/// Where the sections stop: before the checksum (verified here) if there is one.
fn sections_end(bytes: &[u8], flags: u32) -> Result<usize, WireError> {
    if flags & FLAG_CHECKSUM_PRESENT == 0 {
        return Ok(bytes.len());
    }
    let end = bytes
        .len()
        .checked_sub(4)
        .filter(|&e| e > FLAGS_END)
        .ok_or(WireError::Truncated {
            what: "OP_MSG checksum",
            need: FLAGS_END + 4 + 1,
            have: bytes.len(),
        })?;
    let expected = read_u32(bytes, end, "OP_MSG checksum")?;
    let actual = crc32c::crc32c(bytes.get(..end).unwrap_or_default());
    if expected != actual {
        return Err(WireError::ChecksumMismatch { expected, actual });
    }
    Ok(end)
}

struct Sections {
    body: Option<Range<usize>>,
    sequences: Vec<SeqInfo>,
}

/// Splits `bytes[20..end]` into sections, which must fill it exactly.
fn split_sections(bytes: &[u8], end: usize, max_bson: usize) -> Result<Sections, WireError> {
    let mut out = Sections {
        body: None,
        sequences: Vec::new(),
    };
    let mut pos = FLAGS_END;
    while pos < end {
        let kind = read_array::<1>(bytes, pos, "section kind")?[0];
        let start = pos + 1;
        match kind {
            0 => {
                let len = doc_len_at(bytes, start, end, max_bson)?;
                if out.body.replace(start..start + len).is_some() {
                    return Err(WireError::DuplicateBody);
                }
                pos = start + len;
            }
            1 => {
                if out.sequences.len() >= MAX_SEQUENCES {
                    return Err(WireError::InvalidSequence {
                        offset: pos,
                        reason: "too many document sequences",
                    });
                }
                let seq = parse_sequence(bytes, start, end, max_bson)?;
                pos = seq.docs.end;
                out.sequences.push(seq);
            }
            _ => return Err(WireError::UnknownSectionKind { kind, offset: pos }),
        }
    }
    if pos != end {
        return Err(WireError::TrailingBytes {
            offset: end,
            count: pos.saturating_sub(end),
        });
    }
    Ok(out)
}

/// A kind-1 section at `start`: int32 size (covering itself, the identifier and the documents),
/// identifier cstring, then documents that must fill the size exactly.
fn parse_sequence(
    bytes: &[u8],
    start: usize,
    end: usize,
    max_bson: usize,
) -> Result<SeqInfo, WireError> {
    let bad = |reason| WireError::InvalidSequence {
        offset: start,
        reason,
    };
    let size = super::header::read_i32(bytes, start, "document sequence size")?;
    let size = usize::try_from(size).map_err(|_| bad("negative size"))?;
    let seq_end = start
        .checked_add(size)
        .filter(|&e| e <= end)
        .ok_or(bad("size extends past the end of the message"))?;
    if size < 4 + 1 {
        return Err(bad("size too small for an identifier"));
    }
    let identifier = read_cstring(bytes, start + 4, seq_end, "sequence identifier")?;
    if identifier.is_empty() {
        return Err(bad("empty identifier"));
    }
    let docs_start = identifier.end + 1;
    let mut pos = docs_start;
    let mut count = 0usize;
    while pos < seq_end {
        pos += doc_len_at(bytes, pos, seq_end, max_bson)?;
        count += 1;
    }
    Ok(SeqInfo {
        identifier,
        docs: docs_start..seq_end,
        count,
    })
}

/// What body validation learned (ranges relative to the body).
pub(crate) struct BodyInfo<'a> {
    pub command_name: Range<usize>,
    pub db: Option<Range<usize>>,
    /// Top-level keys (requests only).
    pub keys: KeySet<'a>,
}

/// Top-level keys of a body, for the duplicate check: a command has a handful, compared
/// pairwise without allocating; past `FEW` they are sorted, so a body with thousands of
/// keys costs n log n, not n squared.
#[derive(Default)]
pub(crate) struct KeySet<'a> {
    few: [&'a str; FEW],
    n: usize,
    more: Vec<&'a str>,
}

const FEW: usize = 16;

impl<'a> KeySet<'a> {
    fn push(&mut self, key: &'a str) {
        match self.few.get_mut(self.n) {
            Some(slot) => {
                *slot = key;
                self.n += 1;
            }
            None => self.more.push(key),
        }
    }

    /// A key that occurs twice, if any. Leaves the spilled keys sorted for `contains`.
    fn duplicate(&mut self) -> Option<&'a str> {
        if self.more.is_empty() {
            let few = self.few.get(..self.n).unwrap_or_default();
            let mut seen = few.iter().enumerate();
            return seen.find_map(|(i, k)| few.get(..i)?.contains(k).then_some(*k));
        }
        let few = self.few.get(..self.n).unwrap_or_default();
        self.more.extend_from_slice(few);
        self.n = 0;
        self.more.sort_unstable();
        let w = self.more.windows(2).find(|w| w.first() == w.get(1))?;
        w.first().copied()
    }

    /// Whether `key` is one of the keys (after `duplicate`, which sorts the spilled ones).
    fn contains(&self, key: &str) -> bool {
        let few = self.few.get(..self.n).unwrap_or_default();
        few.contains(&key) || self.more.binary_search(&key).is_ok()
    }
}

/// Full validation of a command/reply body; for requests also the command rules.
pub(crate) fn check_body(
    body: &[u8],
    base: usize,
    dir: Direction,
) -> Result<BodyInfo<'_>, WireError> {
    let mut first: Option<Range<usize>> = None;
    let mut db = None;
    let mut db_kind = 0u8;
    let mut keys = KeySet::default();
    validate_document(body, base, &mut |f: Field<'_>| {
        first.get_or_insert(f.key_range.clone());
        if f.key == "$db" && db.is_none() {
            db_kind = f.kind;
            // String value: int32 length, bytes, NUL.
            db = Some(f.value.start + 4..f.value.end.saturating_sub(1));
        }
        if dir == Direction::Request {
            keys.push(f.key);
        }
        Ok(())
    })?;
    let command_name = first.ok_or(WireError::EmptyCommand)?;
    if dir == Direction::Request {
        if let Some(key) = keys.duplicate() {
            return Err(WireError::DuplicateField(key.to_string()));
        }
        if db.is_none() {
            return Err(WireError::MissingDb);
        }
    }
    if db.is_some() && db_kind != 0x02 {
        if dir == Direction::Request {
            return Err(WireError::DbNotString);
        }
        db = None;
    }
    Ok(BodyInfo {
        command_name,
        db,
        keys,
    })
}

/// mongod merges sequences into the body as fields: an identifier may not repeat, nor equal a
/// body key (it would be a duplicate field).
fn check_identifiers(
    bytes: &[u8],
    seqs: &[SeqInfo],
    body_keys: &KeySet<'_>,
) -> Result<(), WireError> {
    let mut ids: Vec<&str> = Vec::with_capacity(seqs.len());
    for s in seqs {
        let id = str_at(bytes, &s.identifier);
        if body_keys.contains(id) {
            return Err(WireError::SequenceShadowsField(id.to_string()));
        }
        ids.push(id);
    }
    ids.sort_unstable();
    match ids.windows(2).find(|w| w.first() == w.get(1)) {
        Some(w) => Err(WireError::DuplicateSequence(
            w.first().copied().unwrap_or_default().to_string(),
        )),
        None => Ok(()),
    }
}
