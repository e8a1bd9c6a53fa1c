//! The cheap walk must agree with bson's own decoder on every well-formed document, and
//! never panic on anything else.

use super::*;
use bson::{rawdoc, Binary, Bson, Document, RawBsonRef, RawDocumentBuf};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<f64>().prop_map(Bson::Double),
        any::<bool>().prop_map(Bson::Boolean),
        "\\PC{0,12}".prop_map(Bson::String),
        Just(Bson::Null),
        Just(Bson::Undefined),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
        any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(bson::oid::ObjectId::from_bytes(b))),
        any::<i64>().prop_map(|t| Bson::DateTime(bson::DateTime::from_millis(t))),
        ("[a-z]{0,5}", "[imsx]{0,3}").prop_map(|(p, o)| Bson::RegularExpression(bson::Regex {
            pattern: p,
            options: o
        })),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(|bytes| Bson::Binary(Binary {
            subtype: bson::spec::BinarySubtype::Generic,
            bytes
        })),
        (any::<u32>(), any::<u32>())
            .prop_map(|(time, increment)| Bson::Timestamp(bson::Timestamp { time, increment })),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|m| Bson::Document(m.into_iter().collect())),
        ]
    })
}

fn doc() -> impl Strategy<Value = RawDocumentBuf> {
    prop::collection::vec(("[a-z$]{1,6}", value()), 0..8).prop_map(|fields| {
        let mut d = Document::new();
        for (k, v) in fields {
            d.insert(k, v);
        }
        RawDocumentBuf::from_document(&d).expect("encodable")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn agrees_with_bson_on_well_formed_documents(d in doc()) {
        let ours: Vec<_> = elements(d.as_bytes()).collect::<Result<_, _>>().expect("well formed");
        let theirs: Vec<_> = d.iter_elements().map(|e| e.expect("well formed")).collect();
        prop_assert_eq!(ours.len(), theirs.len());
        for (o, t) in ours.iter().zip(&theirs) {
            prop_assert_eq!(o.key, t.key().as_bytes());
            prop_assert_eq!(o.kind, t.element_type() as u8);
            let looked_up = get(d.as_bytes(), t.key()).expect("present");
            prop_assert_eq!(looked_up.value, o.value);
            match t.value().expect("decodes") {
                RawBsonRef::Int32(v) => prop_assert_eq!(o.as_i32(), Some(v)),
                RawBsonRef::Int64(v) => prop_assert_eq!(o.as_i64(), Some(v)),
                RawBsonRef::String(v) => prop_assert_eq!(o.as_str(), Some(v)),
                RawBsonRef::Document(v) => prop_assert_eq!(o.as_document().map(|x| x.as_bytes()), Some(v.as_bytes())),
                RawBsonRef::Binary(v) => prop_assert_eq!(o.as_binary(), Some(v.bytes)),
                RawBsonRef::Boolean(v) => prop_assert_eq!(o.truthy(), v),
                _ => {}
            }
        }
    }

    #[test]
    fn never_panics_on_damaged_documents(d in doc(), cut in any::<prop::sample::Index>(), flip in any::<u8>()) {
        let mut bytes = d.as_bytes().to_vec();
        let i = cut.index(bytes.len());
        bytes[i] ^= flip;
        let _ = elements(&bytes).count();
        let _ = get(&bytes, "a");
        bytes.truncate(i);
        let _ = elements(&bytes).count();
        let _ = get(&bytes, "zz");
    }
}

#[test]
fn wrong_types_are_not_coerced() {
    let d = rawdoc! { "n": 1_i64, "s": 5, "d": "x", "b": false, "z": 0.0, "nil": null };
    let b = d.as_bytes();
    assert_eq!(get(b, "n").and_then(|e| e.as_i32()), None);
    assert_eq!(get(b, "s").and_then(|e| e.as_str()), None);
    assert!(get(b, "d").and_then(|e| e.as_document()).is_none());
    assert!(!get(b, "b").is_some_and(|e| e.truthy()));
    assert!(!get(b, "z").is_some_and(|e| e.truthy()));
    assert!(!get(b, "nil").is_some_and(|e| e.truthy()));
    assert!(get(b, "missing").is_none());
}

#[test]
fn a_malformed_element_stops_the_walk_with_an_error() {
    let mut bytes = rawdoc! { "a": 1, "b": 2 }.into_bytes();
    bytes[4] = 0x42; // unknown type
    let all: Vec<_> = elements(&bytes).collect();
    assert_eq!(all.len(), 1);
    assert!(all[0].is_err());
    assert!(get(&bytes, "b").is_none());
}
