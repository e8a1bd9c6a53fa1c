//! A minimal BSON writer that appends straight into a reused output buffer, so the fast
//! upstream builds replies without intermediate documents (no allocation once the buffer
//! has grown to its working size). Only the element types the replies need.

/// Opens a document (or array) at the end of `out`; returns its start for [`end`].
pub fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    start
}

/// Closes the document opened at `start` and patches its length.
pub fn end(out: &mut Vec<u8>, start: usize) {
    out.push(0);
    let len = i32::try_from(out.len() - start).unwrap_or(i32::MAX);
    if let Some(slot) = out.get_mut(start..start + 4) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
}

fn key(out: &mut Vec<u8>, kind: u8, name: &str) {
    out.push(kind);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
}

/// Array keys are decimal indexes; formatted on the stack.
pub fn index_key(out: &mut Vec<u8>, kind: u8, index: usize) {
    out.push(kind);
    let mut digits = [0u8; 20];
    let mut n = index;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.push(0);
}

pub fn f64(out: &mut Vec<u8>, name: &str, v: f64) {
    key(out, 0x01, name);
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn str(out: &mut Vec<u8>, name: &str, v: &str) {
    key(out, 0x02, name);
    string_value(out, v);
}

/// A string value made of two parts (e.g. `db` "." `coll`), without formatting a String.
pub fn str2(out: &mut Vec<u8>, name: &str, a: &str, sep: &str, b: &str) {
    key(out, 0x02, name);
    let len = i32::try_from(a.len() + sep.len() + b.len() + 1).unwrap_or(i32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(a.as_bytes());
    out.extend_from_slice(sep.as_bytes());
    out.extend_from_slice(b.as_bytes());
    out.push(0);
}

fn string_value(out: &mut Vec<u8>, v: &str) {
    let len = i32::try_from(v.len() + 1).unwrap_or(i32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(v.as_bytes());
    out.push(0);
}

pub fn bool(out: &mut Vec<u8>, name: &str, v: bool) {
    key(out, 0x08, name);
    out.push(u8::from(v));
}

pub fn i32(out: &mut Vec<u8>, name: &str, v: i32) {
    key(out, 0x10, name);
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn i64(out: &mut Vec<u8>, name: &str, v: i64) {
    key(out, 0x12, name);
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn datetime(out: &mut Vec<u8>, name: &str, millis: i64) {
    key(out, 0x09, name);
    out.extend_from_slice(&millis.to_le_bytes());
}

/// Opens an embedded document field; close it with [`end`].
pub fn begin_doc(out: &mut Vec<u8>, name: &str) -> usize {
    key(out, 0x03, name);
    begin(out)
}

/// Opens an array field; close it with [`end`] (elements via [`index_key`]).
pub fn begin_array(out: &mut Vec<u8>, name: &str) -> usize {
    key(out, 0x04, name);
    begin(out)
}

/// Appends an already encoded document as array element `index`.
pub fn doc_element(out: &mut Vec<u8>, index: usize, doc: &[u8]) {
    index_key(out, 0x03, index);
    out.extend_from_slice(doc);
}
