//! BSON validation over raw bytes.
//!
//! `RawDocument::from_bytes` only checks the outer length and trailing NUL; the proxy authorizes
//! what it reads from command bodies, so a body must be validated element by element, recursively,
//! exactly as mongod's BSON validator would, before anything interprets it. Kind-1 sequence
//! documents get only the O(1) framing check (`doc_len_at`) so cost does not grow with content.

use super::error::WireError;
use super::header::read_i32;
use std::ops::Range;

/// Maximum nesting depth; mongod's default `maxBSONDepth` is 200, and deeper input is refused
/// also to bound our recursion.
pub(crate) const MAX_DEPTH: usize = 200;

/// One top-level element seen during validation (offsets relative to the document start).
pub(crate) struct Field<'a> {
    pub key: &'a str,
    pub key_range: Range<usize>,
    pub kind: u8,
    pub value: Range<usize>,
}

/// Framing check of the document starting at `pos` in `buf` that must end by `limit`:
/// length >= 5, fits, ends with 0x00, and is at most `max_size`. Returns its length.
pub(crate) fn doc_len_at(
    buf: &[u8],
    pos: usize,
    limit: usize,
    max_size: usize,
) -> Result<usize, WireError> {
    let bad = |reason| WireError::InvalidBson {
        offset: pos,
        reason,
    };
    let raw = read_i32(buf, pos, "document length")?;
    let len = usize::try_from(raw).map_err(|_| bad("negative document length"))?;
    if len < 5 {
        return Err(bad("document length below 5"));
    }
    let end = pos
        .checked_add(len)
        .ok_or(bad("document length overflows"))?;
    if end > limit || end > buf.len() {
        return Err(bad("document extends past its container"));
    }
    if len > max_size {
        return Err(WireError::ObjectTooLarge {
            size: len,
            max: max_size,
        });
    }
    if buf.get(end - 1) != Some(&0) {
        return Err(bad("document not terminated by 0x00"));
    }
    Ok(len)
}

/// Fully validates `doc` (exactly one framed document; `base` is its offset in the message, for
/// error messages) and calls `on_field` for each top-level element, in order.
pub(crate) fn validate_document<'a>(
    doc: &'a [u8],
    base: usize,
    on_field: &mut dyn FnMut(Field<'a>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let len = doc_len_at(doc, 0, doc.len(), usize::MAX)?;
    if len != doc.len() {
        return Err(WireError::InvalidBson {
            offset: base,
            reason: "document length does not match its slot",
        });
    }
    walk(doc, base, 0, on_field)
}

/// Walks the elements of a framed document (length and trailing NUL already checked).
fn walk<'a>(
    doc: &'a [u8],
    base: usize,
    depth: usize,
    on_field: &mut dyn FnMut(Field<'a>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::NestingTooDeep { max: MAX_DEPTH });
    }
    // Elements must end exactly at the terminating NUL.
    let end = doc.len().saturating_sub(1);
    let mut pos = 4;
    while pos < end {
        let kind = *doc.get(pos).ok_or(bad(base + pos, "truncated element"))?;
        let key_start = pos + 1;
        let key_end = cstring_end(doc, key_start, end, base, "invalid field name")?;
        let key = std::str::from_utf8(doc.get(key_start..key_end).unwrap_or_default())
            .map_err(|_| bad(base + key_start, "field name is not valid UTF-8"))?;
        let value_start = key_end + 1;
        let value_end = value_end(doc, kind, value_start, end, base, depth)?;
        on_field(Field {
            key,
            key_range: key_start..key_end,
            kind,
            value: value_start..value_end,
        })?;
        pos = value_end;
    }
    if pos != end {
        return Err(bad(base + pos, "element extends past end of document"));
    }
    Ok(())
}

fn bad(offset: usize, reason: &'static str) -> WireError {
    WireError::InvalidBson { offset, reason }
}

/// Position of the NUL ending the cstring at `start`, which must come before `end`.
fn cstring_end(
    doc: &[u8],
    start: usize,
    end: usize,
    base: usize,
    reason: &'static str,
) -> Result<usize, WireError> {
    doc.get(start..end)
        .and_then(|r| r.iter().position(|&c| c == 0))
        .map(|n| start + n)
        .ok_or(bad(base + start, reason))
}

/// `start + n`, if that stays within `end`.
fn fixed(start: usize, n: usize, end: usize, base: usize) -> Result<usize, WireError> {
    start
        .checked_add(n)
        .filter(|&e| e <= end)
        .ok_or(bad(base + start, "element extends past end of document"))
}

/// Checks a BSON string (int32 length incl. NUL, UTF-8 bytes, NUL) at `start`; returns its end.
fn string_end(doc: &[u8], start: usize, end: usize, base: usize) -> Result<usize, WireError> {
    let len =
        read_i32(doc, start, "string length").map_err(|_| bad(base + start, "truncated string"))?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l >= 1)
        .ok_or(bad(base + start, "invalid string length"))?;
    let stop = fixed(start + 4, len, end, base)?;
    if doc.get(stop - 1) != Some(&0) {
        return Err(bad(base + start, "string not terminated by 0x00"));
    }
    let text = doc.get(start + 4..stop - 1).unwrap_or_default();
    std::str::from_utf8(text).map_err(|_| bad(base + start, "string is not valid UTF-8"))?;
    Ok(stop)
}

/// Checks an embedded document/array at `start` and recurses into it; returns its end.
fn subdoc_end(
    doc: &[u8],
    start: usize,
    end: usize,
    base: usize,
    depth: usize,
) -> Result<usize, WireError> {
    let len = doc_len_at(doc, start, end, usize::MAX).map_err(|e| match e {
        WireError::InvalidBson { offset, reason } => bad(base + offset, reason),
        other => other,
    })?;
    let sub = doc.get(start..start + len).unwrap_or_default();
    walk(sub, base + start, depth + 1, &mut |_| Ok(()))?;
    Ok(start + len)
}

/// Validates the value of type `kind` at `start`; returns where the value ends.
fn value_end(
    doc: &[u8],
    kind: u8,
    start: usize,
    end: usize,
    base: usize,
    depth: usize,
) -> Result<usize, WireError> {
    match kind {
        0x01 | 0x09 | 0x11 | 0x12 => fixed(start, 8, end, base), // double, date, timestamp, int64
        0x02 | 0x0D | 0x0E => string_end(doc, start, end, base), // string, code, symbol
        0x03 | 0x04 => subdoc_end(doc, start, end, base, depth), // document, array
        0x05 => binary_end(doc, start, end, base),
        0x06 | 0x0A | 0x7F | 0xFF => Ok(start), // undefined, null, maxKey, minKey
        0x07 => fixed(start, 12, end, base),    // ObjectId
        0x08 => match doc.get(start) {
            Some(0) | Some(1) if start < end => Ok(start + 1),
            _ => Err(bad(base + start, "invalid boolean")),
        },
        0x0B => {
            // regex: pattern and options cstrings
            let p = cstring_end(doc, start, end, base, "invalid regex pattern")?;
            utf8_at(doc, start..p, base)?;
            let o = cstring_end(doc, p + 1, end, base, "invalid regex options")?;
            utf8_at(doc, p + 1..o, base)?;
            Ok(o + 1)
        }
        0x0C => {
            // DBPointer: namespace string + ObjectId
            let s = string_end(doc, start, end, base)?;
            fixed(s, 12, end, base)
        }
        0x0F => code_with_scope_end(doc, start, end, base, depth),
        0x10 => fixed(start, 4, end, base),  // int32
        0x13 => fixed(start, 16, end, base), // decimal128
        _ => Err(bad(base + start, "unknown BSON element type")),
    }
}

fn utf8_at(doc: &[u8], r: Range<usize>, base: usize) -> Result<(), WireError> {
    let start = r.start;
    std::str::from_utf8(doc.get(r).unwrap_or_default())
        .map(|_| ())
        .map_err(|_| bad(base + start, "cstring is not valid UTF-8"))
}

fn binary_end(doc: &[u8], start: usize, end: usize, base: usize) -> Result<usize, WireError> {
    let len =
        read_i32(doc, start, "binary length").map_err(|_| bad(base + start, "truncated binary"))?;
    let len = usize::try_from(len).map_err(|_| bad(base + start, "negative binary length"))?;
    let stop = fixed(start + 5, len, end, base)?;
    // Subtype 2 (old binary) repeats the length inside the payload; both must agree.
    if doc.get(start + 4) == Some(&2) {
        let inner = read_i32(doc, start + 5, "old binary length").ok();
        if len < 4 || inner.and_then(|v| usize::try_from(v).ok()) != Some(len - 4) {
            return Err(bad(base + start, "invalid old binary (subtype 2) length"));
        }
    }
    Ok(stop)
}

fn code_with_scope_end(
    doc: &[u8],
    start: usize,
    end: usize,
    base: usize,
    depth: usize,
) -> Result<usize, WireError> {
    let total = read_i32(doc, start, "code with scope length")
        .map_err(|_| bad(base + start, "truncated code with scope"))?;
    let total = usize::try_from(total)
        .ok()
        .filter(|&t| t >= 14)
        .ok_or(bad(base + start, "invalid code with scope length"))?;
    let stop = fixed(start, total, end, base)?;
    let s = string_end(doc, start + 4, stop, base)?;
    if subdoc_end(doc, s, stop, base, depth)? != stop {
        return Err(bad(
            base + start,
            "code with scope length does not match contents",
        ));
    }
    Ok(stop)
}
