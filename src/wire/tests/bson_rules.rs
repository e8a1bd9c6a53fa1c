//! Recursive BSON validation of command bodies.

use super::msg::{elem_doc, elem_str, raw_doc_bytes};
use super::*;

/// Decodes an OP_MSG whose body is `find: "c"`, `$db: "t"` plus the given extra element.
fn with_elem(extra: Vec<u8>) -> Result<OpMsg, WireError> {
    let body = raw_doc_bytes(&[elem_str("find", "c"), elem_str("$db", "t"), extra]);
    decode_msg(raw_msg(0, &section0(&body)))
}

fn elem(kind: u8, key: &str, value: &[u8]) -> Vec<u8> {
    let mut e = vec![kind];
    e.extend_from_slice(key.as_bytes());
    e.push(0);
    e.extend_from_slice(value);
    e
}

fn is_invalid_bson(r: Result<OpMsg, WireError>) -> bool {
    matches!(r, Err(WireError::InvalidBson { .. }))
}

#[test]
fn every_valid_type_accepted() {
    let d = raw(doc! {
        "find": "c", "$db": "t",
        "d": 1.5, "s": "é", "o": { "a": [1, 2, { "b": null }] },
        "bin": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2] },
        "old": bson::Binary { subtype: bson::spec::BinarySubtype::BinaryOld, bytes: vec![1, 2] },
        "u": bson::Bson::Undefined, "oid": bson::oid::ObjectId::from_bytes([1; 12]),
        "t": true, "dt": bson::DateTime::from_millis(5), "n": bson::Bson::Null,
        "re": bson::Regex { pattern: "a.*".into(), options: "i".into() },
        "js": bson::Bson::JavaScriptCode("x".into()),
        "sym": bson::Bson::Symbol("y".into()),
        "jsw": bson::JavaScriptCodeWithScope { code: "z".into(), scope: doc! { "v": 1 } },
        "i": 7, "ts": bson::Timestamp { time: 1, increment: 2 }, "l": 9i64,
        "dec": bson::Decimal128::from_bytes([0; 16]),
        "min": bson::Bson::MinKey, "max": bson::Bson::MaxKey,
    });
    let m = decode_msg(encode_op_msg(1, 0, 0, &d).to_vec());
    assert!(m.is_ok(), "{m:?}");
}

#[test]
fn db_pointer() {
    let mut v = Vec::new();
    v.extend_from_slice(&2i32.to_le_bytes());
    v.extend_from_slice(b"n\0");
    v.extend_from_slice(&[3; 12]);
    assert!(with_elem(elem(0x0C, "p", &v)).is_ok());
    v.pop();
    assert!(is_invalid_bson(with_elem(elem(0x0C, "p", &v))));
}

#[test]
fn strings() {
    assert!(with_elem(elem_str("x", "ok")).is_ok());
    // Length 0 (must count the NUL).
    assert!(is_invalid_bson(with_elem(elem(0x02, "x", &[0, 0, 0, 0]))));
    // Negative length.
    assert!(is_invalid_bson(with_elem(elem(
        0x02,
        "x",
        &[0xFF, 0xFF, 0xFF, 0xFF, 0]
    ))));
    // Length says 3 but NUL is not at the end.
    assert!(is_invalid_bson(with_elem(elem(
        0x02,
        "x",
        &[3, 0, 0, 0, b'a', b'b', b'c']
    ))));
    // Invalid UTF-8.
    assert!(is_invalid_bson(with_elem(elem(
        0x02,
        "x",
        &[2, 0, 0, 0, 0xFF, 0]
    ))));
    // Length overruns the document.
    assert!(is_invalid_bson(with_elem(elem(
        0x02,
        "x",
        &[100, 0, 0, 0, b'a', 0]
    ))));
}

#[test]
fn keys_must_be_utf8_and_terminated() {
    let mut e = elem_str("x", "v");
    e[1] = 0xC3; // lone lead byte
    assert!(is_invalid_bson(with_elem(e)));
    // A key running into the terminator: element type byte then nothing.
    let body = {
        let mut b = raw_doc_bytes(&[elem_str("find", "c"), elem_str("$db", "t")]);
        let n = b.len();
        b.insert(n - 1, 0x10); // int32 type with no key/value
        b[0] += 1;
        b
    };
    assert!(is_invalid_bson(decode_msg(raw_msg(0, &section0(&body)))));
}

#[test]
fn nested_documents() {
    let inner = raw_doc_bytes(&[elem_str("a", "b")]);
    assert!(with_elem(elem_doc("o", &inner)).is_ok());
    // Inner length one too big: would swallow the outer terminator.
    let mut long = inner.clone();
    long[0] += 1;
    assert!(is_invalid_bson(with_elem(elem_doc("o", &long))));
    // Inner length one too small: inner elements overrun the inner document.
    let mut short = inner.clone();
    short[0] -= 1;
    assert!(with_elem(elem_doc("o", &short)).is_err());
    // Inner not terminated by 0.
    let mut unterminated = inner.clone();
    let last = unterminated.len() - 1;
    unterminated[last] = 1;
    assert!(is_invalid_bson(with_elem(elem_doc("o", &unterminated))));
    // Invalid UTF-8 deep inside an array.
    let mut bad = elem_str("0", "v");
    bad[7] = 0xFF;
    let arr = raw_doc_bytes(&[bad]);
    let mut e = elem_doc("a", &raw_doc_bytes(&[elem_doc("x", &arr)]));
    e[0] = 0x04;
    assert!(is_invalid_bson(with_elem(e)));
}

#[test]
fn fixed_size_and_special_types() {
    assert!(is_invalid_bson(with_elem(elem(0x01, "d", &[0; 7]))));
    assert!(is_invalid_bson(with_elem(elem(0x07, "o", &[0; 11]))));
    assert!(with_elem(elem(0x08, "b", &[1])).is_ok());
    assert!(is_invalid_bson(with_elem(elem(0x08, "b", &[2]))));
    assert!(is_invalid_bson(with_elem(elem(0x13, "x", &[0; 15]))));
    assert!(
        is_invalid_bson(with_elem(elem(0x14, "x", &[]))),
        "unknown type"
    );
    assert!(
        is_invalid_bson(with_elem(elem(0x00, "x", &[]))),
        "early terminator"
    );
    // Regex options must be terminated.
    assert!(is_invalid_bson(with_elem(elem(0x0B, "r", b"a\0i"))));
    assert!(with_elem(elem(0x0B, "r", b"a\0i\0")).is_ok());
    // Binary: negative length, overrun, old-binary inner length mismatch.
    assert!(is_invalid_bson(with_elem(elem(
        0x05,
        "b",
        &[0xFF, 0xFF, 0xFF, 0xFF, 0]
    ))));
    assert!(is_invalid_bson(with_elem(elem(
        0x05,
        "b",
        &[9, 0, 0, 0, 0, 1]
    ))));
    assert!(is_invalid_bson(with_elem(elem(
        0x05,
        "b",
        &[5, 0, 0, 0, 2, 2, 0, 0, 0, 9]
    ))));
    assert!(with_elem(elem(0x05, "b", &[5, 0, 0, 0, 2, 1, 0, 0, 0, 9])).is_ok());
}

#[test]
fn code_with_scope_lengths() {
    let scope = raw_doc_bytes(&[]);
    let mut v = Vec::new();
    let total = 4 + 4 + 2 + scope.len();
    v.extend_from_slice(&i32::try_from(total).unwrap_or(0).to_le_bytes());
    v.extend_from_slice(&2i32.to_le_bytes());
    v.extend_from_slice(b"x\0");
    v.extend_from_slice(&scope);
    assert!(with_elem(elem(0x0F, "c", &v)).is_ok());
    let mut wrong = v.clone();
    wrong[0] += 1;
    assert!(is_invalid_bson(with_elem(elem(0x0F, "c", &wrong))));
    let mut tiny = v;
    tiny[0] = 13;
    assert!(is_invalid_bson(with_elem(elem(0x0F, "c", &tiny))));
}

#[test]
fn nesting_depth_limited() {
    fn nest(depth: usize) -> Vec<u8> {
        let mut d = raw_doc_bytes(&[]);
        for _ in 0..depth {
            d = raw_doc_bytes(&[elem_doc("a", &d)]);
        }
        d
    }
    assert!(with_elem(elem_doc("deep", &nest(150))).is_ok());
    assert!(matches!(
        with_elem(elem_doc("deep", &nest(300))),
        Err(WireError::NestingTooDeep { .. })
    ));
}

#[test]
fn outer_length_inconsistent() {
    let mut body = find_body().as_bytes().to_vec();
    body[0] -= 1; // claims one byte less than the section holds
    assert!(decode_msg(raw_msg(0, &section0(&body))).is_err());
}
