//! aggregate and every stage of commands.json aggregation_stages.

use bson::{rawdoc, RawDocumentBuf};

use super::tests::{all, err, formula, nsr, req};
use super::ClassifyError;
use crate::authz::actions::*;
use crate::authz::model::{Formula, Resource};

fn agg(coll: &str, stage: RawDocumentBuf) -> RawDocumentBuf {
    rawdoc! {"aggregate": coll, "pipeline": [stage], "cursor": {}, "$db": "d"}
}

fn agg1(db: &str, stage: RawDocumentBuf) -> RawDocumentBuf {
    rawdoc! {"aggregate": 1, "pipeline": [stage], "cursor": {}, "$db": db}
}

#[test]
fn empty_pipeline_and_transform_stages_need_find() {
    // aggregation_stages _rules: empty pipeline or non-initial first stage -> find.
    let b = rawdoc! {"aggregate": "c", "pipeline": [], "cursor": {}, "$db": "d"};
    let c = super::tests::cl(&b).unwrap();
    assert_eq!(c.target, "d.c");
    assert_eq!(c.formula, all(vec![req(nsr("d", "c"), &[FIND])]));
    for s in [
        "$match",
        "$project",
        "$group",
        "$sort",
        "$limit",
        "$skip",
        "$unwind",
        "$addFields",
        "$set",
        "$unset",
        "$bucket",
        "$bucketAuto",
        "$count",
        "$densify",
        "$fill",
        "$redact",
        "$replaceRoot",
        "$replaceWith",
        "$sample",
        "$setWindowFields",
        "$sortByCount",
        "$geoNear",
        "$score",
        "$search",
        "$searchMeta",
        "$vectorSearch",
        "$searchBeta",
        "$rankFusion",
        "$scoreFusion",
        "$changeStreamSplitLargeEvent",
        "$_internalUnpackBucket",
        "$_unpackBucket",
    ] {
        let mut st = RawDocumentBuf::new();
        st.append(s, rawdoc! {});
        assert_eq!(
            formula(&agg("c", st)),
            all(vec![req(nsr("d", "c"), &[FIND])]),
            "{s}"
        );
    }
}

#[test]
fn explain_true_on_aggregate_changes_nothing() {
    let b = rawdoc! {"aggregate": "c", "pipeline": [{"$match": {}}], "explain": true, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
}

#[test]
fn initial_source_stages_on_the_namespace() {
    // aggregation_stages $collStats/$indexStats/$planCacheStats/$listSearchIndexes.
    for (s, a) in [
        ("$collStats", COLL_STATS),
        ("$indexStats", INDEX_STATS),
        ("$planCacheStats", PLAN_CACHE_READ),
        ("$listSearchIndexes", LIST_SEARCH_INDEXES),
    ] {
        let mut st = RawDocumentBuf::new();
        st.append(s, rawdoc! {});
        assert_eq!(
            formula(&agg("c", st.clone())),
            all(vec![req(nsr("d", "c"), &[a])]),
            "{s}"
        );
        // They need a collection.
        assert_eq!(err(&agg1("d", st)).code(), 73, "{s}");
    }
    // Not first: the implicit find is added too.
    let b =
        rawdoc! {"aggregate": "c", "pipeline": [{"$match": {}}, {"$collStats": {}}], "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(nsr("d", "c"), &[FIND, COLL_STATS])])
    );
}

#[test]
fn cluster_stages() {
    // $currentOp / $listSessions / $listLocalSessions: cluster action in every form
    // through the proxy (shared upstream identity; brief).
    let cases = [
        ("$currentOp", rawdoc! {"allUsers": false}, INPROG),
        ("$currentOp", rawdoc! {}, INPROG),
        ("$listSessions", rawdoc! {}, LIST_SESSIONS),
        (
            "$listLocalSessions",
            rawdoc! {"allUsers": true},
            LIST_SESSIONS,
        ),
        ("$queryStats", rawdoc! {}, QUERY_STATS_READ),
        (
            "$queryStats",
            rawdoc! {"transformIdentifiers": {"algorithm": "hmac-sha-256"}},
            QUERY_STATS_READ_TRANSFORMED,
        ),
        ("$querySettings", rawdoc! {}, QUERY_SETTINGS),
        (
            "$_internalAllCollectionStats",
            rawdoc! {},
            ALL_COLLECTION_STATS,
        ),
        (
            "$shardedDataDistribution",
            rawdoc! {},
            SHARDED_DATA_DISTRIBUTION,
        ),
        ("$listSampledQueries", rawdoc! {}, LIST_SAMPLED_QUERIES),
        ("$operationMetrics", rawdoc! {}, OPERATION_METRICS),
        ("$backupCursor", rawdoc! {}, FSYNC),
        ("$backupCursorExtend", rawdoc! {}, FSYNC),
    ];
    for (s, spec, a) in cases {
        let mut st = RawDocumentBuf::new();
        st.append(s, spec);
        assert_eq!(
            formula(&agg1("admin", st)),
            all(vec![req(Resource::Cluster, &[a])]),
            "{s}"
        );
    }
    let b = agg1("admin", rawdoc! {"$listCachedAndActiveUsers": {}});
    assert_eq!(
        formula(&b),
        all(vec![req(
            Resource::AnyNormal,
            &[LIST_CACHED_AND_ACTIVE_USERS]
        )])
    );
}

#[test]
fn documents_needs_nothing_but_later_stages_count() {
    // aggregation_stages $documents notes.
    let b = agg1("d", rawdoc! {"$documents": [{"a": 1}]});
    assert_eq!(formula(&b), Formula::Authenticated);
    let b = rawdoc! {"aggregate": 1, "pipeline": [{"$documents": []}, {"$lookup": {"from": "f", "as": "x", "localField": "a", "foreignField": "b"}}], "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "f"), &[FIND])]));
}

#[test]
fn stages_mongod_refuses_in_user_requests_are_refused() {
    // Issue 13: test-only and internal-only stages never pass as allowed.
    // `$queue` is no initial source either: a collectionless pipeline starting with it is
    // refused before its stage is looked at (73).
    assert_eq!(err(&agg1("d", rawdoc! {"$queue": []})).code(), 73);
    for s in [
        "$queue",
        "$_internalInhibitOptimization",
        "$_internalSplitPipeline",
        "$_internalSomethingNew",
    ] {
        let mut st = RawDocumentBuf::new();
        st.append(s, rawdoc! {});
        let e = err(&agg("c", st));
        assert_eq!(e, ClassifyError::UnknownStage(s.into()), "{s}");
    }
}

#[test]
fn collectionless_aggregate_needs_an_initial_source() {
    assert_eq!(err(&agg1("d", rawdoc! {"$match": {}})).code(), 73);
    assert_eq!(
        err(&rawdoc! {"aggregate": 1, "pipeline": [], "$db": "d"}).code(),
        73
    );
    assert_eq!(
        err(&rawdoc! {"aggregate": 2, "pipeline": [], "$db": "d"}).code(),
        14
    );
    assert_eq!(err(&rawdoc! {"aggregate": "c", "$db": "d"}).code(), 9);
    assert_eq!(
        err(&rawdoc! {"aggregate": "c", "pipeline": {}, "$db": "d"}).code(),
        14
    );
}

#[test]
fn change_stream_forms() {
    // aggregation_stages $changeStream: changeStream + find on ns / db / any-normal.
    let b = agg("c", rawdoc! {"$changeStream": {}});
    assert_eq!(
        formula(&b),
        all(vec![req(nsr("d", "c"), &[CHANGE_STREAM, FIND])])
    );
    let b = agg1("d", rawdoc! {"$changeStream": {}});
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::Database("d"), &[CHANGE_STREAM, FIND])])
    );
    let b = agg1(
        "admin",
        rawdoc! {"$changeStream": {"allChangesForCluster": true}},
    );
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::AnyNormal, &[CHANGE_STREAM, FIND])])
    );
}

#[test]
fn list_catalog_and_cluster_catalog() {
    // aggregation_stages $listCatalog / $listClusterCatalog.
    let b = agg("c", rawdoc! {"$listCatalog": {}});
    assert_eq!(
        formula(&b),
        all(vec![req(nsr("d", "c"), &[LIST_COLLECTIONS, LIST_INDEXES])])
    );
    let b = agg1("admin", rawdoc! {"$listCatalog": {}});
    assert_eq!(
        formula(&b),
        all(vec![
            req(Resource::Cluster, &[LIST_DATABASES]),
            req(Resource::AnyNormal, &[LIST_COLLECTIONS, LIST_INDEXES]),
            req(nsr("admin", "system.js"), &[LIST_COLLECTIONS, LIST_INDEXES]),
            req(
                nsr("admin", "system.buckets.$listCatalog"),
                &[LIST_COLLECTIONS, LIST_INDEXES]
            ),
        ])
    );
    let b = agg1("admin", rawdoc! {"$listClusterCatalog": {}});
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::Cluster, &[LIST_CLUSTER_CATALOG])])
    );
    let b = agg1("d", rawdoc! {"$listClusterCatalog": {}});
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::Database("d"), &[LIST_COLLECTIONS])])
    );
}

#[test]
fn internal_stages_need_internal() {
    // aggregation_stages "internal stages".
    for s in [
        "$mergeCursors",
        "$setMetadata",
        "$_internalShardServerInfo",
        "$_internalListCollections",
        "$_internalChangeStreamTransform",
        "$_backupFile",
        "$_addReshardingResumeId",
    ] {
        let mut st = RawDocumentBuf::new();
        st.append(s, rawdoc! {});
        assert_eq!(
            formula(&agg("c", st)),
            all(vec![
                req(nsr("d", "c"), &[FIND]),
                req(Resource::Cluster, &[INTERNAL])
            ]),
            "{s}"
        );
    }
    let b = agg("c", rawdoc! {"$group": {"_id": null, "$doingMerge": true}});
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(Resource::Cluster, &[INTERNAL])
        ])
    );
}
