//! A lazy walk over the top-level fields of a command body. bson's raw iterator decodes
//! (and UTF-8 checks) every key and value; the classifier needs the values of only a
//! few fields, so this walk reads each element's type and length and decodes nothing
//! else. The wire layer has already validated the body; any inconsistency here is still
//! reported, never indexed past (every read is a checked `get`).

use bson::RawDocument;

use super::ctx::Generic;
use super::error::ClassifyError;

fn bad(reason: &str) -> ClassifyError {
    ClassifyError::malformed("body", reason)
}

fn i32_at(b: &[u8], at: usize) -> Result<i32, ClassifyError> {
    let end = at.checked_add(4).ok_or_else(|| bad("length overflow"))?;
    let bytes: [u8; 4] = b
        .get(at..end)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| bad("truncated element"))?;
    Ok(i32::from_le_bytes(bytes))
}

fn len_at(b: &[u8], at: usize) -> Result<usize, ClassifyError> {
    usize::try_from(i32_at(b, at)?).map_err(|_| bad("negative length"))
}

/// Index of the NUL ending the C string that starts at `at`.
fn cstring_end(b: &[u8], at: usize) -> Result<usize, ClassifyError> {
    let rest = b.get(at..).ok_or_else(|| bad("truncated key"))?;
    let n = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or_else(|| bad("unterminated key"))?;
    at.checked_add(n).ok_or_else(|| bad("length overflow"))
}

/// Size of the value of type `t` starting at `at`.
fn value_len(b: &[u8], t: u8, at: usize) -> Result<usize, ClassifyError> {
    let plus = |x: usize, y: usize| x.checked_add(y).ok_or_else(|| bad("length overflow"));
    match t {
        0x06 | 0x0A | 0xFF | 0x7F => Ok(0),
        0x08 => Ok(1),
        0x10 => Ok(4),
        0x01 | 0x09 | 0x11 | 0x12 => Ok(8),
        0x07 => Ok(12),
        0x13 => Ok(16),
        0x02 | 0x0D | 0x0E => plus(len_at(b, at)?, 4),
        0x03 | 0x04 | 0x0F => len_at(b, at),
        0x05 => plus(len_at(b, at)?, 5),
        0x0C => plus(len_at(b, at)?, 16),
        0x0B => {
            let p = cstring_end(b, at)?;
            let o = cstring_end(b, plus(p, 1)?)?;
            let n = o.checked_sub(at).ok_or_else(|| bad("bad regex"))?;
            plus(n, 1)
        }
        _ => Err(bad("invalid element type")),
    }
}

/// `trueValue()` of a value from its raw bytes (see ctx::truthy).
fn truthy_raw(b: &[u8], t: u8, at: usize) -> Result<bool, ClassifyError> {
    let word = |n: usize| -> Result<&[u8], ClassifyError> {
        b.get(at..at.saturating_add(n))
            .ok_or_else(|| bad("truncated value"))
    };
    Ok(match t {
        0x08 => word(1)?.first().is_some_and(|&v| v != 0),
        0x10 => word(4)?.iter().any(|&v| v != 0),
        0x12 => word(8)?.iter().any(|&v| v != 0),
        0x01 => {
            let bytes: [u8; 8] = word(8)?.try_into().map_err(|_| bad("truncated value"))?;
            f64::from_le_bytes(bytes) != 0.0
        }
        0x06 | 0x0A => false,
        _ => true,
    })
}

/// A UTF-8 string value (type 0x02) at `at`.
fn string_at(b: &[u8], at: usize) -> Result<&str, ClassifyError> {
    let len = len_at(b, at)?;
    let start = at.checked_add(4).ok_or_else(|| bad("length overflow"))?;
    let end = start
        .checked_add(len.saturating_sub(1))
        .ok_or_else(|| bad("length overflow"))?;
    let bytes = b.get(start..end).ok_or_else(|| bad("truncated string"))?;
    std::str::from_utf8(bytes).map_err(|_| bad("invalid UTF-8"))
}

/// One pass over the top-level fields: `$db` and the generic flags.
pub(crate) fn scan(body: &RawDocument) -> Result<Generic<'_>, ClassifyError> {
    let b = body.as_bytes();
    let mut g = Generic::default();
    let mut at = 4usize;
    loop {
        let t = *b.get(at).ok_or_else(|| bad("missing terminator"))?;
        if t == 0 {
            return Ok(g);
        }
        let key_start = at.checked_add(1).ok_or_else(|| bad("length overflow"))?;
        let key_end = cstring_end(b, key_start)?;
        let key = b
            .get(key_start..key_end)
            .ok_or_else(|| bad("truncated key"))?;
        let v = key_end
            .checked_add(1)
            .ok_or_else(|| bad("length overflow"))?;
        match key {
            b"$db" if t == 0x02 => g.db_str = Some(string_at(b, v)?),
            b"$db" => g.db_str = None,
            b"term" => g.term = true,
            b"bypassDocumentValidation" => g.bypass = truthy_raw(b, t, v)?,
            b"$tenant" => g.tenant = true,
            b"$audit" | b"$impersonatedUser" | b"$impersonatedUsers" | b"$impersonatedRoles" => {
                g.impersonate = true
            }
            _ => {}
        }
        at = v
            .checked_add(value_len(b, t, v)?)
            .ok_or_else(|| bad("length overflow"))?;
    }
}
