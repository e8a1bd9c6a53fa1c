//! Catalog, cursor and administration commands whose privileges depend on their fields.

use bson::RawBsonRef;

use super::commands::Special;
use super::ctx::{
    all1, and, as_array, as_str, check_coll, check_cursor_coll, check_db, elems, ns, split_ns, Ctx,
    Out, Reqs,
};
use super::error::ClassifyError;
use super::pipeline::view_reqs;
use super::Kind;
use crate::authz::actions::*;
use crate::authz::model::{ActionSet, Formula, Requirement, Resource};

pub(crate) fn run<'a>(cx: &Ctx<'a>, x: Special) -> Result<Out<'a>, ClassifyError> {
    match x {
        Special::GetMore => get_more(cx),
        Special::KillCursors => kill_cursors(cx),
        Special::ListCollections => list_collections(cx),
        Special::ListDatabases => list_databases(cx),
        Special::Create => create(cx),
        Special::RenameCollection => rename(cx),
        Special::CollMod => coll_mod(cx),
        Special::CloneCollectionAsCapped => clone_as_capped(cx),
        Special::Profile => profile(cx),
        Special::ValidateDbMetadata => validate_db_metadata(cx),
        Special::Features => features(cx),
        Special::DbCheck => db_check(cx),
        Special::GetShardVersion => get_shard_version(cx),
        Special::MergeChunks => merge_chunks(cx),
        Special::CheckMetadataConsistency => check_metadata_consistency(cx),
        _ => Err(ClassifyError::UnknownCommand(cx.name.to_owned())),
    }
}

fn cursor_id(v: RawBsonRef<'_>, name: &str) -> Result<i64, ClassifyError> {
    match v {
        RawBsonRef::Int64(i) => Ok(i),
        RawBsonRef::Int32(i) => Ok(i64::from(i)),
        _ => Err(ClassifyError::type_mismatch(name, "a cursor id (long)")),
    }
}

/// commands.json getMore: only authentication up front; cursor ownership and the
/// originating privileges are the session's job. `term` adds internal.
fn get_more<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let cursor_id = cursor_id(cx.first, "getMore")?;
    let coll = cx
        .get("collection")?
        .ok_or_else(|| ClassifyError::malformed("collection", "getMore needs 'collection'"))?;
    let coll = as_str(coll, "collection")?;
    check_cursor_coll(coll)?;
    let formula = if cx.term {
        all1(Resource::Cluster, &[INTERNAL])
    } else {
        Formula::Authenticated
    };
    Ok(Out::new(
        formula,
        cx.ns_target(coll),
        Kind::GetMore { cursor_id, coll },
    ))
}

/// commands.json killCursors: per-cursor ownership, decided by the session.
fn kill_cursors<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let coll = as_str(cx.first, "killCursors")?;
    check_cursor_coll(coll)?;
    let list = cx
        .get("cursors")?
        .ok_or_else(|| ClassifyError::malformed("cursors", "killCursors needs 'cursors'"))?;
    let mut cursor_ids = Vec::new();
    for e in elems(as_array(list, "cursors")?, "cursors") {
        cursor_ids.push(cursor_id(e?, "cursors")?);
    }
    let kind = Kind::KillCursors { coll, cursor_ids };
    Ok(Out::new(Formula::Authenticated, cx.ns_target(coll), kind))
}

/// commands.json listCollections: listCollections on the database, or (nameOnly and
/// authorizedCollections) authentication plus a filtered reply.
fn list_collections<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let filter = cx.flag("nameOnly")? && cx.flag("authorizedCollections")?;
    let formula = if filter {
        Formula::Authenticated
    } else {
        all1(Resource::Database(cx.db), &[LIST_COLLECTIONS])
    };
    Ok(Out::new(
        formula,
        cx.db_target(),
        Kind::ListCollections { filter },
    ))
}

/// commands.json listDatabases: authorizedDatabases false -> listDatabases on the
/// cluster; otherwise the reply is filtered by the session.
fn list_databases<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let unfiltered = cx
        .get("authorizedDatabases")?
        .is_some_and(|v| !super::ctx::truthy(v));
    let formula = if unfiltered {
        all1(Resource::Cluster, &[LIST_DATABASES])
    } else {
        Formula::Authenticated
    };
    let kind = Kind::ListDatabases {
        filter: !unfiltered,
    };
    Ok(Out::new(formula, cx.db_target(), kind))
}

/// The view clause of create/collMod (commands.json create, view branch): the pipeline's
/// read rights are needed only if the caller can already read the view.
fn view_clause<'a>(
    db: &'a str,
    view: &'a str,
    view_on: RawBsonRef<'a>,
    pipeline: Option<RawBsonRef<'a>>,
) -> Result<Formula<'a>, ClassifyError> {
    let source = as_str(view_on, "viewOn")?;
    check_coll(source)?;
    let pipeline = match pipeline {
        Some(p) => Some(as_array(p, "pipeline")?),
        None => None,
    };
    let reads = view_reqs(db, source, pipeline)?.into_formula();
    let lacks_find = Formula::Lacks(Requirement {
        resource: ns(db, view),
        actions: ActionSet::of(&[FIND]),
    });
    Ok(Formula::Or(vec![lacks_find, reads]))
}

/// commands.json create: collection (createCollection OR insert) vs view
/// (createCollection + view clause); capped adds convertToCapped.
fn create<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let c = cx.coll()?;
    let target = ns(cx.db, c);
    let mut formula = match cx.get("viewOn")? {
        Some(view_on) => and(
            all1(target, &[CREATE_COLLECTION]),
            view_clause(cx.db, c, view_on, cx.get("pipeline")?)?,
        ),
        None => Formula::Or(vec![
            all1(target, &[CREATE_COLLECTION]),
            all1(target, &[INSERT]),
        ]),
    };
    if cx.flag("capped")? {
        formula = and(formula, all1(target, &[CONVERT_TO_CAPPED]));
    }
    Ok(Out::forward(formula, cx.ns_target(c)))
}

/// commands.json collMod: collMod; a new view definition adds the view clause.
fn coll_mod<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let c = cx.coll()?;
    let mut formula = all1(ns(cx.db, c), &[COLL_MOD]);
    match (cx.get("viewOn")?, cx.get("pipeline")?) {
        (Some(v), Some(p)) => formula = and(formula, view_clause(cx.db, c, v, Some(p))?),
        (None, None) => {}
        // JSON collMod notes: only one of them is InvalidOptions with auth on.
        _ => {
            return Err(ClassifyError::bad_value(
                "collMod",
                "must specify both 'viewOn' and 'pipeline'",
            ))
        }
    }
    Ok(Out::forward(formula, cx.ns_target(c)))
}

/// 'Normal collection' (builtin_roles.json matching_rules).
fn is_normal(db: &str, coll: &str) -> bool {
    !(coll.starts_with("system.") || (db == "local" && coll.starts_with("replset.")))
}

/// commands.json renameCollection: same-db fast path OR the general rule.
fn rename<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let from = as_str(cx.first, "renameCollection")?;
    let to = cx
        .get("to")?
        .ok_or_else(|| ClassifyError::malformed("to", "renameCollection needs 'to'"))?;
    let to = as_str(to, "to")?;
    let (sdb, scoll) = split_ns(from)?;
    let (tdb, tcoll) = split_ns(to)?;
    let drop_target = cx.flag("dropTarget")?;
    let (source, target) = (ns(sdb, scoll), ns(tdb, tcoll));

    let mut general = Reqs::default();
    general.add_list(source, &[FIND, DROP_COLLECTION]);
    general.add_list(target, &[INSERT, CREATE_INDEX]);
    if drop_target {
        general.add_list(target, &[DROP_COLLECTION]);
    }
    let general = general.into_formula();
    if sdb != tdb || !is_normal(sdb, scoll) || !is_normal(tdb, tcoll) {
        return Ok(Out::forward(general, from.into()));
    }
    let mut fast = Reqs::default();
    fast.add_list(Resource::Database(sdb), &[RENAME_COLLECTION_SAME_DB]);
    if drop_target {
        fast.add_list(target, &[DROP_COLLECTION]);
    }
    // Stops renaming an unreadable collection into a readable name.
    let guard = Formula::Or(vec![
        all1(source, &[FIND]),
        Formula::Lacks(Requirement {
            resource: target,
            actions: ActionSet::of(&[FIND]),
        }),
    ]);
    let fast = Formula::And(vec![fast.into_formula(), guard]);
    Ok(Out::forward(Formula::Or(vec![fast, general]), from.into()))
}

/// commands.json cloneCollectionAsCapped.
fn clone_as_capped<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let c = cx.coll()?;
    let to = cx
        .get("toCollection")?
        .ok_or_else(|| ClassifyError::malformed("toCollection", "missing"))?;
    let to = as_str(to, "toCollection")?;
    check_coll(to)?;
    let mut r = Reqs::default();
    r.add_list(ns(cx.db, c), &[FIND]);
    r.add_list(ns(cx.db, to), &[INSERT, CREATE_INDEX, CONVERT_TO_CAPPED]);
    Ok(Out::forward(r.into_formula(), cx.ns_target(c)))
}

/// commands.json profile: reading the level (-1, nothing else) needs find on
/// system.profile; any change needs enableProfiler.
fn profile<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let read_only = match cx.first {
        RawBsonRef::Int32(v) => v == -1,
        RawBsonRef::Int64(v) => v == -1,
        RawBsonRef::Double(v) => v == -1.0,
        _ => return Err(ClassifyError::type_mismatch("profile", "a number")),
    };
    let mut changes = false;
    for k in ["slowms", "sampleRate", "filter"] {
        changes |= cx.get(k)?.is_some();
    }
    let formula = if read_only && !changes {
        all1(ns(cx.db, "system.profile"), &[FIND])
    } else {
        all1(Resource::Database(cx.db), &[ENABLE_PROFILER])
    };
    Ok(Out::forward(formula, cx.db_target()))
}

/// commands.json validateDBMetadata: validate on `db`, or on any-normal.
fn validate_db_metadata<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let (resource, target) = match cx.get("db")? {
        Some(v) => {
            let d = as_str(v, "db")?;
            check_db(d)?;
            (Resource::Database(d), d.into())
        }
        None => (Resource::AnyNormal, cx.db_target()),
    };
    Ok(Out::forward(all1(resource, &[VALIDATE]), target))
}

/// commands.json features: oidReset adds its action.
fn features<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let formula = if cx.flag("oidReset")? {
        all1(Resource::Cluster, &[OID_RESET])
    } else {
        Formula::Authenticated
    };
    Ok(Out::forward(formula, cx.db_target()))
}

/// commands.json dbCheck: on the collection, or (dbCheck: 1) the whole database.
fn db_check<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    Ok(match cx.first {
        RawBsonRef::String(_) => {
            let c = cx.coll()?;
            Out::forward(all1(ns(cx.db, c), &[DB_CHECK]), cx.ns_target(c))
        }
        _ => Out::forward(all1(Resource::Database(cx.db), &[DB_CHECK]), cx.db_target()),
    })
}

/// commands.json getShardVersion: the namespace (or database) named in the field.
fn get_shard_version<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let v = as_str(cx.first, "getShardVersion")?;
    let resource = if v.contains('.') {
        let (d, c) = split_ns(v)?;
        ns(d, c)
    } else {
        check_db(v)?;
        Resource::Database(v)
    };
    Ok(Out::forward(all1(resource, &[GET_SHARD_VERSION]), v.into()))
}

/// commands.json mergeChunks; the mongod form (with `epoch`) is internal.
fn merge_chunks<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let v = as_str(cx.first, "mergeChunks")?;
    let (d, c) = split_ns(v)?;
    let mut r = Reqs::default();
    r.add_list(ns(d, c), &[SPLIT_CHUNK]);
    if cx.get("epoch")?.is_some() {
        r.add_list(Resource::Cluster, &[INTERNAL]);
    }
    Ok(Out::forward(r.into_formula(), v.into()))
}

/// commands.json checkMetadataConsistency: cluster on admin; otherwise the cluster OR
/// the database (which any-normal grants also match) OR the namespace.
fn check_metadata_consistency<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let a = &[CHECK_METADATA_CONSISTENCY];
    let cluster = all1(Resource::Cluster, a);
    Ok(match cx.first {
        RawBsonRef::String(_) => {
            let c = cx.coll()?;
            let f = Formula::Or(vec![cluster, all1(ns(cx.db, c), a)]);
            Out::forward(f, cx.ns_target(c))
        }
        _ if cx.db == "admin" => Out::forward(cluster, cx.db_target()),
        _ => {
            let f = Formula::Or(vec![cluster, all1(Resource::Database(cx.db), a)]);
            Out::forward(f, cx.db_target())
        }
    })
}
