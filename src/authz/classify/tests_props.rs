//! Property tests: random pipelines and random command documents never panic, and a
//! pipeline whose first stage is not an initial source always needs find on its source
//! (aggregation_stages `_rules`).

use bson::{RawArrayBuf, RawBson, RawDocumentBuf};
use proptest::prelude::*;

use super::stages::is_initial_source;
use super::*;
use crate::authz::actions::FIND;
use crate::authz::model::{Formula, Resource};

const STAGES: &[&str] = &[
    "$match",
    "$project",
    "$group",
    "$lookup",
    "$graphLookup",
    "$unionWith",
    "$facet",
    "$out",
    "$merge",
    "$collStats",
    "$indexStats",
    "$currentOp",
    "$listSessions",
    "$changeStream",
    "$documents",
    "$queryStats",
    "$listCatalog",
    "$mergeCursors",
    "$bogus",
    "$sort",
    "$limit",
    "$planCacheStats",
    "$listClusterCatalog",
    "$_internalUnpackBucket",
    "$search",
];

const KEYS: &[&str] = &[
    "from",
    "coll",
    "db",
    "pipeline",
    "into",
    "whenMatched",
    "whenNotMatched",
    "as",
    "a",
    "$doingMerge",
    "transformIdentifiers",
    "allUsers",
];

fn scalar() -> impl Strategy<Value = RawBson> {
    prop_oneof![
        Just(RawBson::String("x".into())),
        Just(RawBson::String("".into())),
        Just(RawBson::String("fail".into())),
        Just(RawBson::String("insert".into())),
        Just(RawBson::String("$x".into())),
        Just(RawBson::Int32(1)),
        Just(RawBson::Boolean(true)),
        Just(RawBson::Null),
    ]
}

/// Values that may themselves hold pipelines, a few levels deep.
fn value() -> impl Strategy<Value = RawBson> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..4)
                .prop_map(|kv| RawBson::Document(doc_of(&kv))),
            prop::collection::vec(stage_with(inner), 0..3).prop_map(|s| RawBson::Array(arr_of(s))),
        ]
    })
}

fn stage_with(v: impl Strategy<Value = RawBson>) -> impl Strategy<Value = RawDocumentBuf> {
    (prop::sample::select(STAGES), v).prop_map(|(name, spec)| doc_of(&[(name, spec)]))
}

fn doc_of(kv: &[(&str, RawBson)]) -> RawDocumentBuf {
    let mut d = RawDocumentBuf::new();
    for (k, v) in kv {
        d.append(*k, v.clone());
    }
    d
}

fn arr_of(stages: Vec<RawDocumentBuf>) -> RawArrayBuf {
    let mut a = RawArrayBuf::new();
    for s in stages {
        a.push(s);
    }
    a
}

fn first_stage_name(stages: &[RawDocumentBuf]) -> Option<String> {
    let first = stages.first()?;
    let (k, _) = first.into_iter().next()?.ok()?;
    Some(k.to_owned())
}

fn has_find_on_source(f: &Formula<'_>) -> bool {
    match f {
        Formula::All(v) => v.iter().any(|r| {
            r.resource == Resource::Namespace { db: "d", coll: "c" } && r.actions.contains(FIND)
        }),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_pipelines_never_panic_and_keep_the_implicit_find(
        stages in prop::collection::vec(stage_with(value()), 0..5)
    ) {
        let first = first_stage_name(&stages);
        let mut body = RawDocumentBuf::new();
        body.append("aggregate", "c");
        body.append("pipeline", arr_of(stages));
        body.append("$db", "d");
        if let Ok(c) = classify(&body, &NoSequences) {
            let initial = first.as_deref().is_some_and(is_initial_source);
            if !initial {
                prop_assert!(has_find_on_source(&c.formula), "{:?}", c.formula);
            }
        }
    }

    #[test]
    fn random_command_documents_never_panic(
        name in prop::sample::select(&[
            "find", "insert", "update", "delete", "findAndModify", "aggregate", "mapReduce",
            "bulkWrite", "explain", "create", "collMod", "renameCollection", "listCollections",
            "listDatabases", "getMore", "killCursors", "applyOps", "createUser", "usersInfo",
            "rolesInfo", "createRole", "profile", "checkMetadataConsistency", "dataSize",
        ][..]),
        first in value(),
        extra in prop::collection::vec((prop::sample::select(&[
            "updates", "upsert", "update", "remove", "out", "ops", "nsInfo", "viewOn",
            "pipeline", "to", "dropTarget", "collection", "cursors", "roles", "privileges",
            "nameOnly", "authorizedCollections", "bypassDocumentValidation", "explain",
        ][..]), value()), 0..4),
        db in prop::sample::select(&["admin", "d"][..]),
    ) {
        let mut body = RawDocumentBuf::new();
        body.append(name, first);
        let mut seen = Vec::new();
        for (k, v) in extra {
            if !seen.contains(&k) {
                seen.push(k);
                body.append(k, v);
            }
        }
        body.append("$db", db);
        let r = classify(&body, &NoSequences);
        if let Err(e) = r {
            // Every error maps to a code the proxy can answer with.
            prop_assert!(e.code() != 0);
            prop_assert!(!e.code_name().is_empty());
        }
    }
}

/// A document frame (length + NUL) around arbitrary bytes: bson accepts it as a
/// RawDocument without looking inside, so the field walk must cope with anything.
fn framed(inner: &[u8]) -> Vec<u8> {
    let len = i32::try_from(inner.len() + 5).unwrap_or(i32::MAX);
    let mut v = len.to_le_bytes().to_vec();
    v.extend_from_slice(inner);
    v.push(0);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(inner in prop::collection::vec(any::<u8>(), 0..64)) {
        let bytes = framed(&inner);
        if let Ok(doc) = bson::RawDocument::from_bytes(&bytes) {
            let _ = classify(doc, &NoSequences);
        }
    }

    #[test]
    fn truncated_valid_commands_never_panic(cut in 0usize..60, flip in any::<u8>(), at in 0usize..60) {
        let body = bson::rawdoc! {"find": "c", "bypassDocumentValidation": 1.5, "$db": "d", "term": 1};
        let mut bytes = body.as_bytes().to_vec();
        if let Some(b) = bytes.get_mut(at) {
            *b ^= flip;
        }
        bytes.truncate(bytes.len().saturating_sub(cut));
        if let Ok(doc) = bson::RawDocument::from_bytes(&bytes) {
            let _ = classify(doc, &NoSequences);
        }
    }
}

#[test]
fn the_field_walk_reads_flags_like_bson_does() {
    // Cross-check of scan.rs against bson's own decoding on every value type we read.
    let b = bson::rawdoc! {"insert": "c", "x": {"a": [1, 2]}, "r": bson::Regex{pattern: "a".into(), options: "i".into()},
    "bypassDocumentValidation": 0.0, "$db": "d"};
    let c = classify(&b, &NoSequences).unwrap();
    assert_eq!(c.db, "d");
    assert_eq!(
        c.formula,
        super::tests::all(vec![super::tests::req(
            super::tests::nsr("d", "c"),
            &[crate::authz::actions::INSERT]
        )])
    );
    let b = bson::rawdoc! {"insert": "c", "bypassDocumentValidation": 2_i64, "$db": "d"};
    let c = classify(&b, &NoSequences).unwrap();
    assert!(
        matches!(c.formula, Formula::All(ref v) if v.iter().any(|r| r.actions.contains(crate::authz::actions::BYPASS_DOCUMENT_VALIDATION)))
    );
    let b =
        bson::rawdoc! {"insert": "c", "bypassDocumentValidation": bson::RawBson::Null, "$db": "d"};
    assert!(
        matches!(classify(&b, &NoSequences).unwrap().formula, Formula::All(ref v) if v.len() == 1 && v.iter().all(|r| !r.actions.contains(crate::authz::actions::BYPASS_DOCUMENT_VALIDATION)))
    );
}
