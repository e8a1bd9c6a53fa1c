//! The aggregation stage table (commands.json aggregation_stages) and each stage's own
//! requirements.

use bson::{RawBsonRef, RawDocument};

use super::ctx::{as_array, as_doc, as_str, check_coll, check_db, field, fields, ns, truthy};
use super::error::ClassifyError;
use super::pipeline::{starts_with_documents, Scope, Walk};
use crate::authz::actions::*;
use crate::authz::model::{Action, ActionSet, Resource};

/// How a stage contributes requirements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Transformation only: nothing beyond the implicit find.
    Transform,
    Lookup,
    GraphLookup,
    UnionWith,
    Facet,
    Out,
    Merge,
    /// `$group`: internal only with `$doingMerge: true`.
    Group,
    /// Actions on the aggregate namespace.
    OnNs(&'static [Action]),
    Cluster(&'static [Action]),
    AnyNormal(&'static [Action]),
    ChangeStream,
    QueryStats,
    ListCatalog,
    ListClusterCatalog,
    /// Needs nothing ($documents).
    Nothing,
    /// Internal stages: internal on the cluster.
    Internal,
}

/// (rule, initial source) for a stage name; `None` = unknown stage.
pub(crate) fn lookup(name: &str) -> Option<(Rule, bool)> {
    // Sources first: the `$_internal` prefix rule below must not shadow
    // $_internalAllCollectionStats.
    lookup_source(name).or_else(|| lookup_other(name))
}

fn lookup_other(name: &str) -> Option<(Rule, bool)> {
    use Rule::*;
    Some(match name {
        "$match"
        | "$project"
        | "$sort"
        | "$limit"
        | "$skip"
        | "$unwind"
        | "$addFields"
        | "$set"
        | "$unset"
        | "$bucket"
        | "$bucketAuto"
        | "$count"
        | "$densify"
        | "$fill"
        | "$redact"
        | "$replaceRoot"
        | "$replaceWith"
        | "$sample"
        | "$setWindowFields"
        | "$sortByCount"
        | "$geoNear"
        | "$score"
        | "$changeStreamSplitLargeEvent"
        | "$search"
        | "$searchMeta"
        | "$vectorSearch"
        | "$searchBeta"
        | "$rankFusion"
        | "$scoreFusion"
        | "$_internalUnpackBucket"
        | "$_unpackBucket" => (Transform, false),
        "$group" => (Group, false),
        "$lookup" => (Lookup, false),
        "$graphLookup" => (GraphLookup, false),
        "$unionWith" => (UnionWith, false),
        "$facet" => (Facet, false),
        "$out" => (Out, false),
        "$merge" => (Merge, false),
        "$mergeCursors"
        | "$setMetadata"
        | "$_internalShardServerInfo"
        | "$_addReshardingResumeId"
        | "$_internalFindAndModifyImageLookup"
        | "$_internalReshardingIterateTransaction"
        | "$_internalReshardingOwnershipMatch"
        | "$_internalListCollections"
        | "$_backupFile" => (Internal, false),
        // JSON: "$_internal*ChangeStream*" are internal. Any other $_internal* stage is
        // unknown here, so refused: the test-only ones (`$_internalInhibitOptimization`,
        // `$_internalSplitPipeline`, ...) exist only on a server started with test
        // commands, and a stage the proxy cannot name is never passed as allowed.
        n if n.starts_with("$_internal") && n.contains("ChangeStream") => (Internal, false),
        _ => return None,
    })
}

/// Initial-source stages (aggregation_stages `initial_source: true`).
fn lookup_source(name: &str) -> Option<(Rule, bool)> {
    use Rule::*;
    Some(match name {
        "$collStats" => (OnNs(&[COLL_STATS]), true),
        "$indexStats" => (OnNs(&[INDEX_STATS]), true),
        "$planCacheStats" => (OnNs(&[PLAN_CACHE_READ]), true),
        "$listSearchIndexes" => (OnNs(&[LIST_SEARCH_INDEXES]), true),
        // Through the proxy every client shares one upstream identity, so "own ops" /
        // "own sessions" would expose other clients: the cluster action is required in
        // every form (as mongos does for $currentOp; brief).
        "$currentOp" => (Cluster(&[INPROG]), true),
        "$listSessions" | "$listLocalSessions" => (Cluster(&[LIST_SESSIONS]), true),
        "$changeStream" => (ChangeStream, true),
        // `$queue` is internal-only: mongod refuses it in a user's request, so it is
        // left out (unknown, refused) rather than allowed for everyone.
        "$documents" => (Nothing, true),
        "$queryStats" => (QueryStats, true),
        "$querySettings" => (Cluster(&[QUERY_SETTINGS]), true),
        "$listCatalog" => (ListCatalog, true),
        "$listClusterCatalog" => (ListClusterCatalog, true),
        "$listCachedAndActiveUsers" => (AnyNormal(&[LIST_CACHED_AND_ACTIVE_USERS]), true),
        "$_internalAllCollectionStats" => (Cluster(&[ALL_COLLECTION_STATS]), true),
        "$shardedDataDistribution" => (Cluster(&[SHARDED_DATA_DISTRIBUTION]), true),
        "$listSampledQueries" => (Cluster(&[LIST_SAMPLED_QUERIES]), true),
        "$operationMetrics" => (Cluster(&[OPERATION_METRICS]), true),
        "$backupCursor" | "$backupCursorExtend" => (Cluster(&[FSYNC]), true),
        _ => return None,
    })
}

pub(crate) fn is_initial_source(name: &str) -> bool {
    lookup(name).is_some_and(|(_, initial)| initial)
}

/// Adds one stage's own requirements.
pub(crate) fn apply<'a>(
    w: &mut Walk<'a>,
    scope: Scope<'a>,
    name: &'a str,
    spec: RawBsonRef<'a>,
) -> Result<(), ClassifyError> {
    let (rule, _) = lookup(name).ok_or_else(|| ClassifyError::UnknownStage(name.to_owned()))?;
    match rule {
        Rule::Transform | Rule::Nothing => {}
        Rule::Group => {
            let fs = fields(as_doc(spec, "$group")?)?;
            if field(&fs, "$doingMerge").is_some_and(truthy) {
                w.reqs.add_list(Resource::Cluster, &[INTERNAL]);
            }
        }
        Rule::Internal => w.reqs.add_list(Resource::Cluster, &[INTERNAL]),
        Rule::Cluster(a) => w.reqs.add_list(Resource::Cluster, a),
        Rule::AnyNormal(a) => w.reqs.add_list(Resource::AnyNormal, a),
        Rule::OnNs(a) => {
            let c = need_coll(scope, name)?;
            w.reqs.add_list(ns(scope.db, c), a);
        }
        Rule::Lookup => lookup_stage(w, scope, spec)?,
        Rule::GraphLookup => {
            let fs = fields(as_doc(spec, "$graphLookup")?)?;
            let from = field(&fs, "from")
                .ok_or_else(|| ClassifyError::malformed("$graphLookup", "missing 'from'"))?;
            let (db, coll) = foreign(scope.db, from, "$graphLookup.from")?;
            w.reqs.add_list(ns(db, coll), &[FIND]);
        }
        Rule::UnionWith => union_with(w, scope, spec)?,
        Rule::Facet => {
            for (_, sub) in fields(as_doc(spec, "$facet")?)? {
                w.nested(scope, as_array(sub, "$facet")?)?;
            }
        }
        Rule::Out => out_stage(w, scope, spec)?,
        Rule::Merge => merge_stage(w, scope, spec)?,
        Rule::ChangeStream | Rule::QueryStats | Rule::ListCatalog | Rule::ListClusterCatalog => {
            source_stage(w, scope, rule, spec)?
        }
    }
    Ok(())
}

/// Initial sources whose requirements depend on where they run.
fn source_stage<'a>(
    w: &mut Walk<'a>,
    scope: Scope<'a>,
    rule: Rule,
    spec: RawBsonRef<'a>,
) -> Result<(), ClassifyError> {
    match rule {
        Rule::ChangeStream => {
            // JSON $changeStream: changeStream + find on the namespace; aggregate: 1 ->
            // the database, or any-normal on admin (whole cluster).
            let r = match scope.coll {
                Some(c) => ns(scope.db, c),
                None if scope.db == "admin" => Resource::AnyNormal,
                None => Resource::Database(scope.db),
            };
            w.reqs.add_list(r, &[CHANGE_STREAM, FIND]);
        }
        Rule::QueryStats => {
            let fs = fields(as_doc(spec, "$queryStats")?)?;
            let a = if field(&fs, "transformIdentifiers").is_some() {
                QUERY_STATS_READ_TRANSFORMED
            } else {
                QUERY_STATS_READ
            };
            w.reqs.add_list(Resource::Cluster, &[a]);
        }
        Rule::ListCatalog => list_catalog(w, scope),
        Rule::ListClusterCatalog => {
            if scope.db == "admin" {
                w.reqs.add_list(Resource::Cluster, &[LIST_CLUSTER_CATALOG]);
            } else {
                w.reqs
                    .add_list(Resource::Database(scope.db), &[LIST_COLLECTIONS]);
            }
        }
        _ => {}
    }
    Ok(())
}

fn need_coll<'a>(scope: Scope<'a>, stage: &str) -> Result<&'a str, ClassifyError> {
    scope.coll.ok_or_else(|| {
        ClassifyError::InvalidNamespace(format!("{stage} needs a collection, not aggregate: 1"))
    })
}

/// JSON $listCatalog. The collection-less form needs listCollections/listIndexes on
/// any-normal, on `*.system.js` and on every system.buckets collection. The model has
/// no collection-in-any-db resource, so the last two are stated on representative
/// admin namespaces, which only those wildcard grants (or anyResource) match in
/// practice: dbAdminAnyDatabase (no *.system.js grant) is refused as by mongod.
fn list_catalog<'a>(w: &mut Walk<'a>, scope: Scope<'a>) {
    let a = &[LIST_COLLECTIONS, LIST_INDEXES];
    match scope.coll {
        Some(c) => w.reqs.add_list(ns(scope.db, c), a),
        None => {
            w.reqs.add_list(Resource::Cluster, &[LIST_DATABASES]);
            w.reqs.add_list(Resource::AnyNormal, a);
            w.reqs.add_list(ns("admin", "system.js"), a);
            w.reqs
                .add_list(ns("admin", "system.buckets.$listCatalog"), a);
        }
    }
}

/// A foreign collection: a name in `db`, or `{db, coll}`.
fn foreign<'a>(
    db: &'a str,
    v: RawBsonRef<'a>,
    what: &str,
) -> Result<(&'a str, &'a str), ClassifyError> {
    match v {
        RawBsonRef::String(c) => {
            check_coll(c)?;
            Ok((db, c))
        }
        RawBsonRef::Document(d) => db_coll(d, what),
        _ => Err(ClassifyError::type_mismatch(what, "a string or {db, coll}")),
    }
}

/// `{db: <string>, coll: <string>}`.
fn db_coll<'a>(d: &'a RawDocument, what: &str) -> Result<(&'a str, &'a str), ClassifyError> {
    let fs = fields(d)?;
    let get = |k: &str| {
        field(&fs, k).ok_or_else(|| ClassifyError::malformed(what, &format!("missing '{k}'")))
    };
    let db = as_str(get("db")?, what)?;
    let coll = as_str(get("coll")?, what)?;
    check_db(db)?;
    check_coll(coll)?;
    Ok((db, coll))
}

/// JSON $lookup: find on `from` plus the sub-pipeline; without `from` the sub-pipeline
/// must start with $documents and no foreign privilege is needed.
fn lookup_stage<'a>(
    w: &mut Walk<'a>,
    scope: Scope<'a>,
    spec: RawBsonRef<'a>,
) -> Result<(), ClassifyError> {
    let fs = fields(as_doc(spec, "$lookup")?)?;
    let pipeline = match field(&fs, "pipeline") {
        Some(p) => Some(as_array(p, "$lookup.pipeline")?),
        None => None,
    };
    let sub_scope = match field(&fs, "from") {
        Some(from) => {
            let (db, coll) = foreign(scope.db, from, "$lookup.from")?;
            w.reqs.add_list(ns(db, coll), &[FIND]);
            Scope {
                db,
                coll: Some(coll),
                ..scope
            }
        }
        None if pipeline.is_some_and(starts_with_documents) => Scope {
            coll: None,
            ..scope
        },
        None => {
            return Err(ClassifyError::malformed(
                "$lookup",
                "must specify 'from' unless the pipeline starts with $documents",
            ))
        }
    };
    if let Some(p) = pipeline {
        w.nested(sub_scope, p)?;
    }
    Ok(())
}

/// JSON $unionWith: a collection name, or `{coll?, pipeline?}` (no coll: the pipeline
/// must start with $documents).
fn union_with<'a>(
    w: &mut Walk<'a>,
    scope: Scope<'a>,
    spec: RawBsonRef<'a>,
) -> Result<(), ClassifyError> {
    let d = match spec {
        RawBsonRef::String(_) => {
            let (db, coll) = foreign(scope.db, spec, "$unionWith")?;
            w.reqs.add_list(ns(db, coll), &[FIND]);
            return Ok(());
        }
        RawBsonRef::Document(d) => d,
        _ => {
            return Err(ClassifyError::type_mismatch(
                "$unionWith",
                "a string or an object",
            ))
        }
    };
    let fs = fields(d)?;
    let pipeline = match field(&fs, "pipeline") {
        Some(p) => Some(as_array(p, "$unionWith.pipeline")?),
        None => None,
    };
    let db = match field(&fs, "db") {
        Some(v) => {
            let db = as_str(v, "$unionWith.db")?;
            check_db(db)?;
            db
        }
        None => scope.db,
    };
    let sub_scope = match field(&fs, "coll") {
        Some(c) => {
            let c = as_str(c, "$unionWith.coll")?;
            check_coll(c)?;
            w.reqs.add_list(ns(db, c), &[FIND]);
            Scope {
                db,
                coll: Some(c),
                ..scope
            }
        }
        None if pipeline.is_some_and(starts_with_documents) => Scope {
            coll: None,
            ..scope
        },
        None => return Err(ClassifyError::malformed("$unionWith", "missing 'coll'")),
    };
    if let Some(p) = pipeline {
        w.nested(sub_scope, p)?;
    }
    Ok(())
}

/// Adds write actions (+bypassDocumentValidation when the command sets it).
fn written<'a>(w: &mut Walk<'a>, db: &'a str, coll: &'a str, mut actions: ActionSet) {
    if w.bypass {
        actions.insert(BYPASS_DOCUMENT_VALIDATION);
    }
    w.reqs.add(ns(db, coll), actions);
}

/// JSON $out: insert + remove on the target (string, or {db, coll}).
fn out_stage<'a>(
    w: &mut Walk<'a>,
    scope: Scope<'a>,
    spec: RawBsonRef<'a>,
) -> Result<(), ClassifyError> {
    let (db, coll) = foreign(scope.db, spec, "$out")?;
    written(w, db, coll, ActionSet::of(&[INSERT, REMOVE]));
    Ok(())
}

/// JSON $merge: target `into`; whenMatched / whenNotMatched decide the actions
/// (merge_processor.cpp MergeStrategyDescriptor).
fn merge_stage<'a>(
    w: &mut Walk<'a>,
    scope: Scope<'a>,
    spec: RawBsonRef<'a>,
) -> Result<(), ClassifyError> {
    let d = match spec {
        RawBsonRef::String(_) => {
            let (db, coll) = foreign(scope.db, spec, "$merge")?;
            written(w, db, coll, ActionSet::of(&[INSERT, UPDATE]));
            return Ok(());
        }
        RawBsonRef::Document(d) => d,
        _ => {
            return Err(ClassifyError::type_mismatch(
                "$merge",
                "a string or an object",
            ))
        }
    };
    let fs = fields(d)?;
    let into =
        field(&fs, "into").ok_or_else(|| ClassifyError::malformed("$merge", "missing 'into'"))?;
    let (db, coll) = foreign(scope.db, into, "$merge.into")?;
    let matched = match field(&fs, "whenMatched") {
        None => "merge",
        Some(RawBsonRef::Array(_)) => "pipeline",
        Some(v) => as_str(v, "$merge.whenMatched")?,
    };
    let not_matched = match field(&fs, "whenNotMatched") {
        None => "insert",
        Some(v) => as_str(v, "$merge.whenNotMatched")?,
    };
    let actions = merge_actions(matched, not_matched)?;
    written(w, db, coll, actions);
    Ok(())
}

pub(crate) fn merge_actions(matched: &str, not_matched: &str) -> Result<ActionSet, ClassifyError> {
    let known_matched = matches!(
        matched,
        "replace" | "keepExisting" | "merge" | "fail" | "pipeline"
    );
    if !known_matched {
        return Err(ClassifyError::bad_value(
            "$merge.whenMatched",
            "unknown mode",
        ));
    }
    match (matched, not_matched) {
        ("fail", "insert") => Ok(ActionSet::of(&[INSERT])),
        (_, "insert") => Ok(ActionSet::of(&[INSERT, UPDATE])),
        ("fail" | "keepExisting", "fail" | "discard") => Err(ClassifyError::bad_value(
            "$merge",
            "unsupported whenMatched/whenNotMatched combination",
        )),
        (_, "fail" | "discard") => Ok(ActionSet::of(&[UPDATE])),
        _ => Err(ClassifyError::bad_value(
            "$merge.whenNotMatched",
            "unknown mode",
        )),
    }
}
