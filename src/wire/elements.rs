//! A cheap walk over the top-level elements of a raw BSON document.
//!
//! bson's raw iterator decodes and UTF-8-checks every key and value it passes; the hot
//! paths (classifying a command, reading a reply's cursor id and error code, noting a
//! session id) need a few fields, so this walk reads each element's type and length and
//! decodes only what the caller asks for. Keys are compared as bytes. Nothing is indexed
//! past: every read is a checked `get`, and a malformed element ends the walk with an error.

use bson::RawDocument;

/// One top-level element.
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    pub key: &'a [u8],
    /// The BSON type byte.
    pub kind: u8,
    /// Exactly the value's encoded bytes.
    pub value: &'a [u8],
}

/// Why the walk stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_le_bytes(bytes))
}

fn len_at(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(i32_at(b, at)?).ok()
}

/// Index of the NUL ending the C string that starts at `at`.
fn cstring_end(b: &[u8], at: usize) -> Option<usize> {
    let n = b.get(at..)?.iter().position(|&c| c == 0)?;
    at.checked_add(n)
}

/// Size of the value of type `t` starting at `at`; None for an unknown type or a
/// length that does not fit.
pub fn value_len(b: &[u8], t: u8, at: usize) -> Option<usize> {
    match t {
        0x06 | 0x0A | 0xFF | 0x7F => Some(0),
        0x08 => Some(1),
        0x10 => Some(4),
        0x01 | 0x09 | 0x11 | 0x12 => Some(8),
        0x07 => Some(12),
        0x13 => Some(16),
        0x02 | 0x0D | 0x0E => len_at(b, at)?.checked_add(4),
        0x03 | 0x04 | 0x0F => len_at(b, at),
        0x05 => len_at(b, at)?.checked_add(5),
        0x0C => len_at(b, at)?.checked_add(16),
        0x0B => {
            let pattern_end = cstring_end(b, at)?;
            let options_end = cstring_end(b, pattern_end.checked_add(1)?)?;
            options_end.checked_sub(at)?.checked_add(1)
        }
        _ => None,
    }
}

/// The elements of `doc` (a whole document: length, elements, NUL), in order.
pub fn elements(doc: &[u8]) -> Elements<'_> {
    Elements {
        b: doc,
        at: 4,
        done: false,
    }
}

/// Iterator of [`elements`].
pub struct Elements<'a> {
    b: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> Elements<'a> {
    fn step(&mut self) -> Result<Option<Element<'a>>, Malformed> {
        let b = self.b;
        let t = *b.get(self.at).ok_or(Malformed("missing terminator"))?;
        if t == 0 {
            return Ok(None);
        }
        let key_start = self.at + 1;
        let key_end = cstring_end(b, key_start).ok_or(Malformed("unterminated key"))?;
        let v = key_end + 1;
        let len = value_len(b, t, v).ok_or(Malformed("invalid element"))?;
        let end = v.checked_add(len).ok_or(Malformed("length overflow"))?;
        let value = b.get(v..end).ok_or(Malformed("truncated element"))?;
        self.at = end;
        Ok(Some(Element {
            key: b
                .get(key_start..key_end)
                .ok_or(Malformed("truncated key"))?,
            kind: t,
            value,
        }))
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Element<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// The first top-level element named `key`; None when absent or the document is malformed
/// before it.
pub fn get<'a>(doc: &'a [u8], key: &str) -> Option<Element<'a>> {
    elements(doc)
        .map_while(Result::ok)
        .find(|e| e.key == key.as_bytes())
}

impl<'a> Element<'a> {
    pub fn as_i32(&self) -> Option<i32> {
        (self.kind == 0x10).then(|| i32_at(self.value, 0)).flatten()
    }

    pub fn as_i64(&self) -> Option<i64> {
        let bytes: [u8; 8] = self.value.try_into().ok()?;
        (self.kind == 0x12).then(|| i64::from_le_bytes(bytes))
    }

    /// A UTF-8 string value (type 0x02), without its length and NUL.
    pub fn as_str(&self) -> Option<&'a str> {
        if self.kind != 0x02 {
            return None;
        }
        let bytes = self.value.get(4..self.value.len().checked_sub(1)?)?;
        std::str::from_utf8(bytes).ok()
    }

    /// An embedded document (type 0x03); only its framing is checked.
    pub fn as_document(&self) -> Option<&'a RawDocument> {
        (self.kind == 0x03)
            .then(|| RawDocument::from_bytes(self.value).ok())
            .flatten()
    }

    /// The bytes of a binary value (type 0x05), any subtype.
    pub fn as_binary(&self) -> Option<&'a [u8]> {
        (self.kind == 0x05).then(|| self.value.get(5..)).flatten()
    }

    /// mongod's `trueValue()`: false for false, zero numbers, null and undefined.
    pub fn truthy(&self) -> bool {
        match self.kind {
            0x08 | 0x10 | 0x12 => self.value.iter().any(|&v| v != 0),
            0x01 => self
                .value
                .try_into()
                .map(|b: [u8; 8]| f64::from_le_bytes(b) != 0.0)
                .unwrap_or(false),
            0x06 | 0x0A => false,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests;
