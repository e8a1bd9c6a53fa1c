//! Stages with sub-pipelines or targets: $lookup, $graphLookup, $unionWith, $facet,
//! $out, $merge; unknown/malformed/duplicate-key stages; bounds.

use bson::{rawdoc, RawBson, RawDocumentBuf};

use super::tests::{all, err, formula, nsr, req};
use super::*;
use crate::authz::actions::*;

fn agg(coll: &str, stage: RawDocumentBuf) -> RawDocumentBuf {
    rawdoc! {"aggregate": coll, "pipeline": [stage], "cursor": {}, "$db": "d"}
}

#[test]
fn lookup_graph_lookup_union_with() {
    let b = agg(
        "c",
        rawdoc! {"$lookup": {"from": "f", "localField": "a", "foreignField": "b", "as": "x"}},
    );
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "f"), &[FIND])
        ])
    );
    let b = agg(
        "c",
        rawdoc! {"$lookup": {"from": {"db": "config", "coll": "cache.chunks.x"}, "as": "x", "pipeline": []}},
    );
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("config", "cache.chunks.x"), &[FIND])
        ])
    );
    let b = agg(
        "c",
        rawdoc! {"$lookup": {"as": "x", "pipeline": [{"$documents": [{}]}]}},
    );
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
    assert_eq!(
        err(&agg(
            "c",
            rawdoc! {"$lookup": {"as": "x", "pipeline": [{"$match": {}}]}}
        ))
        .code(),
        9
    );
    assert_eq!(
        err(&agg("c", rawdoc! {"$lookup": {"from": 1, "as": "x"}})).code(),
        14
    );
}

#[test]
fn graph_lookup_and_union_with() {
    let b = agg(
        "c",
        rawdoc! {"$graphLookup": {"from": "g", "startWith": "$a", "connectFromField": "a", "connectToField": "b", "as": "x"}},
    );
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "g"), &[FIND])
        ])
    );
    assert_eq!(
        err(&agg("c", rawdoc! {"$graphLookup": {"from": ["g"]}})).code(),
        14
    );
    assert_eq!(
        err(&agg("c", rawdoc! {"$graphLookup": {"as": "x"}})).code(),
        9
    );
    let b = agg("c", rawdoc! {"$unionWith": "u"});
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "u"), &[FIND])
        ])
    );
    let b = agg(
        "c",
        rawdoc! {"$unionWith": {"coll": "u", "pipeline": [{"$unionWith": "v"}]}},
    );
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "u"), &[FIND]),
            req(nsr("d", "v"), &[FIND])
        ])
    );
    let b = agg(
        "c",
        rawdoc! {"$unionWith": {"pipeline": [{"$documents": []}]}},
    );
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
    assert_eq!(
        err(&agg("c", rawdoc! {"$unionWith": {"pipeline": []}})).code(),
        9
    );
    assert_eq!(
        err(&agg("c", rawdoc! {"$unionWith": {"coll": 3}})).code(),
        14
    );
    assert_eq!(err(&agg("c", rawdoc! {"$unionWith": 3})).code(), 14);
}

#[test]
fn nesting_facet_inside_lookup_inside_union_with() {
    // aggregation_stages _rules: sub-pipelines contribute recursively.
    let b = agg(
        "c",
        rawdoc! {"$unionWith": {"coll": "u", "pipeline": [
            {"$lookup": {"from": "l", "as": "x", "pipeline": [
                {"$facet": {"a": [{"$lookup": {"from": "m", "as": "y", "localField": "p", "foreignField": "q"}}],
                            "b": [{"$graphLookup": {"from": "g", "as": "z"}}, {"$unionWith": "w"}]}}
            ]}}
        ]}},
    );
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "u"), &[FIND]),
            req(nsr("d", "l"), &[FIND]),
            req(nsr("d", "m"), &[FIND]),
            req(nsr("d", "g"), &[FIND]),
            req(nsr("d", "w"), &[FIND]),
        ])
    );
    // A cross-db $lookup resolves nested names in the foreign database.
    let b = agg(
        "c",
        rawdoc! {"$lookup": {"from": {"db": "o", "coll": "f"}, "as": "x", "pipeline": [{"$unionWith": "g"}]}},
    );
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("o", "f"), &[FIND]),
            req(nsr("o", "g"), &[FIND])
        ])
    );
    assert_eq!(
        err(&agg("c", rawdoc! {"$facet": {"a": {"$match": {}}}})).code(),
        14
    );
}

#[test]
fn out_and_merge_targets() {
    // aggregation_stages $out / $merge (merge_processor.cpp descriptors).
    let b = agg("c", rawdoc! {"$out": "o"});
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "o"), &[INSERT, REMOVE])
        ])
    );
    let b = rawdoc! {"aggregate": "c", "pipeline": [{"$out": {"db": "x", "coll": "o"}}], "bypassDocumentValidation": true, "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("x", "o"), &[INSERT, REMOVE, BYPASS_DOCUMENT_VALIDATION])
        ])
    );
    assert_eq!(err(&agg("c", rawdoc! {"$out": {"db": "x"}})).code(), 9);
}

#[test]
fn merge_modes() {
    let b = agg("c", rawdoc! {"$merge": "m"});
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "m"), &[INSERT, UPDATE])
        ])
    );
    let cases: [(&str, &str, &[crate::authz::model::Action]); 8] = [
        ("fail", "insert", &[INSERT]),
        ("replace", "insert", &[INSERT, UPDATE]),
        ("merge", "insert", &[INSERT, UPDATE]),
        ("keepExisting", "insert", &[INSERT, UPDATE]),
        ("replace", "fail", &[UPDATE]),
        ("merge", "discard", &[UPDATE]),
        ("replace", "discard", &[UPDATE]),
        ("merge", "fail", &[UPDATE]),
    ];
    for (m, n, a) in cases {
        let b = agg(
            "c",
            rawdoc! {"$merge": {"into": {"db": "x", "coll": "m"}, "whenMatched": m, "whenNotMatched": n}},
        );
        assert_eq!(
            formula(&b),
            all(vec![req(nsr("d", "c"), &[FIND]), req(nsr("x", "m"), a)]),
            "{m}/{n}"
        );
    }
    let b = agg(
        "c",
        rawdoc! {"$merge": {"into": "m", "whenMatched": [{"$set": {"a": 1}}], "whenNotMatched": "discard"}},
    );
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "m"), &[UPDATE])
        ])
    );
    let b = rawdoc! {"aggregate": "c", "pipeline": [{"$merge": {"into": "m", "whenNotMatched": "insert"}}], "bypassDocumentValidation": true, "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "m"), &[INSERT, UPDATE, BYPASS_DOCUMENT_VALIDATION])
        ])
    );
    for bad in [
        rawdoc! {"into": "m", "whenMatched": "bogus"},
        rawdoc! {"into": "m", "whenNotMatched": "bogus"},
        rawdoc! {"into": "m", "whenMatched": "fail", "whenNotMatched": "fail"},
        rawdoc! {"whenMatched": "fail"},
    ] {
        let code = err(&agg("c", rawdoc! {"$merge": bad.clone()})).code();
        assert!(code == 2 || code == 9, "{bad:?}");
    }
}

#[test]
fn unknown_and_malformed_stages() {
    let e = err(&agg("c", rawdoc! {"$frobnicate": {}}));
    assert_eq!(e, ClassifyError::UnknownStage("$frobnicate".into()));
    assert_eq!(e.code(), 40324);
    assert_eq!(
        e.to_string(),
        "Unrecognized pipeline stage name: '$frobnicate'"
    );
    // An unknown stage nested anywhere is still unknown.
    let e = err(&agg("c", rawdoc! {"$facet": {"a": [{"$nope": 1}]}}));
    assert_eq!(e, ClassifyError::UnknownStage("$nope".into()));
    // Stage specs that are not single-key documents.
    assert_eq!(
        err(&agg("c", rawdoc! {"$match": {}, "$out": "o"})).code(),
        9
    );
    assert_eq!(err(&agg("c", rawdoc! {})).code(), 9);
    let b = rawdoc! {"aggregate": "c", "pipeline": ["$match"], "$db": "d"};
    assert_eq!(err(&b).code(), 14);
}

#[test]
fn duplicate_keys_inside_stage_documents_are_refused() {
    let mut spec = RawDocumentBuf::new();
    spec.append("from", "a");
    spec.append("as", "x");
    spec.append("from", "secret");
    let mut st = RawDocumentBuf::new();
    st.append("$lookup", spec);
    assert_eq!(
        err(&agg("c", st)),
        ClassifyError::DuplicateField("from".into())
    );
    let mut facet = RawDocumentBuf::new();
    let mut second = bson::RawArrayBuf::new();
    second.push(rawdoc! {"$unionWith": "s"});
    facet.append("a", RawBson::Array(bson::RawArrayBuf::new()));
    facet.append("a", RawBson::Array(second));
    let mut st = RawDocumentBuf::new();
    st.append("$facet", facet);
    assert_eq!(
        err(&agg("c", st)),
        ClassifyError::DuplicateField("a".into())
    );
    let mut into = RawDocumentBuf::new();
    into.append("db", "x");
    into.append("coll", "m");
    into.append("db", "y");
    let mut st = RawDocumentBuf::new();
    st.append("$merge", rawdoc! {"into": into});
    assert_eq!(
        err(&agg("c", st)),
        ClassifyError::DuplicateField("db".into())
    );
}

#[test]
fn hostile_nesting_and_length_are_bounded() {
    let mut p = rawdoc! {"$match": {}};
    for _ in 0..30 {
        p = rawdoc! {"$facet": {"a": [p]}};
    }
    assert_eq!(err(&agg("c", p)).code(), 2);
    let mut arr = bson::RawArrayBuf::new();
    for _ in 0..1001 {
        arr.push(rawdoc! {"$match": {}});
    }
    let b = rawdoc! {"aggregate": "c", "pipeline": arr, "$db": "d"};
    assert_eq!(err(&b).code(), 2);
}
