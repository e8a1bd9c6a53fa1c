//! Write commands: insert, update, findAndModify, mapReduce, bulkWrite, applyOps
//! (commands.json entries of the same names).

use bson::{RawBsonRef, RawDocument};

use super::ctx::{
    as_array, as_doc, as_str, check_coll, check_db, elems, field, fields, ns, split_ns, truthy,
    Ctx, Out, Reqs,
};
use super::error::ClassifyError;
use super::Sequences;
use crate::authz::actions::*;
use crate::authz::model::{Action, ActionSet, Formula, Requirement, Resource};

/// More distinct namespaces than this in one command is refused rather than merged
/// (keeps classification linear).
const MAX_NAMESPACES: usize = 1000;

/// commands.json insert: insert (+bypassDocumentValidation). The documents, in the body
/// or in the kind-1 `documents` sequence, are never read.
pub(crate) fn insert<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let c = cx.coll()?;
    let mut r = Reqs::default();
    r.add_list(ns(cx.db, c), &[INSERT]);
    if cx.bypass {
        r.add_list(ns(cx.db, c), &[BYPASS_DOCUMENT_VALIDATION]);
    }
    Ok(Out::forward(r.into_formula(), cx.ns_target(c)))
}

/// Calls `f` on every document of an array that may come from the body or from the
/// kind-1 sequence of the same name (never both: mongod rejects that too).
pub(crate) fn each_statement<'a, S: Sequences<'a>>(
    cx: &Ctx<'a>,
    seqs: &S,
    id: &'a str,
    mut f: impl FnMut(&'a RawDocument) -> Result<(), ClassifyError>,
) -> Result<(), ClassifyError> {
    let body = cx.get(id)?;
    if let Some(seq) = seqs.documents(id) {
        if body.is_some() {
            return Err(ClassifyError::DuplicateField(id.to_owned()));
        }
        for d in seq {
            f(d)?;
        }
        return Ok(());
    }
    if let Some(v) = body {
        for e in elems(as_array(v, id)?, id) {
            f(as_doc(e?, id)?)?;
        }
    }
    Ok(())
}

/// commands.json update: update; any upsert statement (body or kind-1 `updates`) adds
/// insert; bypassDocumentValidation adds its action.
pub(crate) fn update<'a, S: Sequences<'a>>(
    cx: &Ctx<'a>,
    seqs: &S,
) -> Result<Out<'a>, ClassifyError> {
    let c = cx.coll()?;
    let mut upsert = false;
    each_statement(cx, seqs, "updates", |st| {
        let fs = fields(st)?;
        upsert |= field(&fs, "upsert").is_some_and(truthy);
        Ok(())
    })?;
    let mut r = Reqs::default();
    let target = ns(cx.db, c);
    r.add_list(target, &[UPDATE]);
    if upsert {
        r.add_list(target, &[INSERT]);
    }
    if cx.bypass {
        r.add_list(target, &[BYPASS_DOCUMENT_VALIDATION]);
    }
    Ok(Out::forward(r.into_formula(), cx.ns_target(c)))
}

/// commands.json findAndModify: find; `update` present -> update; upsert -> insert;
/// remove -> remove; bypassDocumentValidation.
pub(crate) fn find_and_modify<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let c = cx.coll()?;
    let target = ns(cx.db, c);
    let mut r = Reqs::default();
    r.add_list(target, &[FIND]);
    if cx.get("update")?.is_some() {
        r.add_list(target, &[UPDATE]);
    }
    if cx.flag("upsert")? {
        r.add_list(target, &[INSERT]);
    }
    if cx.flag("remove")? {
        r.add_list(target, &[REMOVE]);
    }
    if cx.bypass {
        r.add_list(target, &[BYPASS_DOCUMENT_VALIDATION]);
    }
    Ok(Out::forward(r.into_formula(), cx.ns_target(c)))
}

/// commands.json mapReduce: find on the input; output actions by `out` mode, in
/// `out.db` when given.
pub(crate) fn map_reduce<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let c = cx.coll()?;
    let mut r = Reqs::default();
    r.add_list(ns(cx.db, c), &[FIND]);
    let out = cx
        .get("out")?
        .ok_or_else(|| ClassifyError::malformed("out", "mapReduce needs 'out'"))?;
    let output = match out {
        RawBsonRef::String(o) => {
            check_coll(o)?;
            Some((cx.db, o, ActionSet::of(&[INSERT, REMOVE])))
        }
        RawBsonRef::Document(d) => map_reduce_out_doc(cx.db, d)?,
        _ => return Err(ClassifyError::type_mismatch("out", "a string or an object")),
    };
    if let Some((db, coll, actions)) = output {
        r.add(ns(db, coll), actions);
        if cx.bypass {
            r.add_list(ns(db, coll), &[BYPASS_DOCUMENT_VALIDATION]);
        }
    }
    Ok(Out::forward(r.into_formula(), cx.ns_target(c)))
}

type Output<'a> = Option<(&'a str, &'a str, ActionSet)>;

/// `{inline: 1}` | `{replace|merge|reduce: <coll>, db?: <db>}`.
fn map_reduce_out_doc<'a>(db: &'a str, d: &'a RawDocument) -> Result<Output<'a>, ClassifyError> {
    let fs = fields(d)?;
    let mut mode: Option<(&str, RawBsonRef<'a>)> = None;
    for (k, v) in &fs {
        if matches!(*k, "inline" | "replace" | "merge" | "reduce") {
            if mode.is_some() {
                return Err(ClassifyError::malformed("out", "more than one output mode"));
            }
            mode = Some((k, *v));
        }
    }
    let (mode, v) = mode.ok_or_else(|| ClassifyError::malformed("out", "no output mode"))?;
    if mode == "inline" {
        return Ok(None);
    }
    let coll = as_str(v, "out")?;
    check_coll(coll)?;
    let out_db = match field(&fs, "db") {
        Some(v) => {
            let d = as_str(v, "out.db")?;
            check_db(d)?;
            d
        }
        None => db,
    };
    let actions = if mode == "replace" {
        ActionSet::of(&[INSERT, REMOVE])
    } else {
        ActionSet::of(&[INSERT, UPDATE])
    };
    Ok(Some((out_db, coll, actions)))
}

/// commands.json bulkWrite (bulk_write_common.cpp getPrivileges): per nsInfo entry, the
/// union of the actions of the ops pointing at it; bypass adds to every entry.
pub(crate) fn bulk_write<'a, S: Sequences<'a>>(
    cx: &Ctx<'a>,
    seqs: &S,
) -> Result<Out<'a>, ClassifyError> {
    let mut infos: Vec<(Resource<'a>, ActionSet)> = Vec::new();
    each_statement(cx, seqs, "nsInfo", |entry| {
        let fs = fields(entry)?;
        let full = as_str(
            field(&fs, "ns").ok_or_else(|| ClassifyError::malformed("nsInfo", "missing ns"))?,
            "nsInfo.ns",
        )?;
        let (db, coll) = split_ns(full)?;
        infos.push((ns(db, coll), ActionSet::EMPTY));
        Ok(())
    })?;
    each_statement(cx, seqs, "ops", |op| {
        let fs = fields(op)?;
        let (kind, idx) = fs
            .first()
            .copied()
            .ok_or_else(|| ClassifyError::malformed("ops", "empty operation"))?;
        let actions = match kind {
            "insert" => ActionSet::of(&[INSERT]),
            "delete" => ActionSet::of(&[REMOVE]),
            "update" if field(&fs, "upsert").is_some_and(truthy) => {
                ActionSet::of(&[UPDATE, INSERT])
            }
            "update" => ActionSet::of(&[UPDATE]),
            _ => return Err(ClassifyError::malformed("ops", "unknown operation type")),
        };
        let slot = index(idx)
            .and_then(|i| infos.get_mut(i))
            .ok_or_else(|| ClassifyError::malformed("ops", "nsInfo index out of range"))?;
        slot.1 = slot.1.union(&actions);
        Ok(())
    })?;
    let bypass = ActionSet::of(&[BYPASS_DOCUMENT_VALIDATION]);
    let reqs: Vec<Requirement<'a>> = infos
        .into_iter()
        .map(|(resource, a)| Requirement {
            resource,
            actions: if cx.bypass { a.union(&bypass) } else { a },
        })
        .filter(|r| !r.actions.is_empty())
        .collect();
    let formula = if reqs.is_empty() {
        Formula::Authenticated
    } else {
        Formula::All(reqs)
    };
    Ok(Out::forward(formula, cx.db_target()))
}

/// A non-negative integer index.
fn index(v: RawBsonRef<'_>) -> Option<usize> {
    match v {
        RawBsonRef::Int32(i) => usize::try_from(i).ok(),
        RawBsonRef::Int64(i) => usize::try_from(i).ok(),
        _ => None,
    }
}

/// commands.json applyOps: applyOps on the cluster plus each entry authorized like the
/// equivalent command. Command entries other than create/drop need internal (fail
/// closed: the proxy does not re-implement every oplog command).
pub(crate) fn apply_ops<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let mut r = Reqs::default();
    r.add_list(Resource::Cluster, &[APPLY_OPS]);
    let ops = as_array(cx.first, "applyOps")?;
    for e in elems(ops, "applyOps") {
        apply_op(&mut r, as_doc(e?, "applyOps")?)?;
        if r.len() > MAX_NAMESPACES {
            return Err(ClassifyError::TooComplex("too many namespaces".into()));
        }
    }
    Ok(Out::forward(r.into_formula(), cx.db_target()))
}

fn apply_op<'a>(r: &mut Reqs<'a>, entry: &'a RawDocument) -> Result<(), ClassifyError> {
    let fs = fields(entry)?;
    let need = |k: &str| field(&fs, k).ok_or_else(|| ClassifyError::malformed("applyOps", k));
    let op = as_str(need("op")?, "applyOps.op")?;
    let full = as_str(need("ns")?, "applyOps.ns")?;
    let has_ui = field(&fs, "ui").is_some();
    if has_ui {
        r.add_list(Resource::Cluster, &[USE_UUID]);
    }
    match op {
        "i" => add_full(r, full, &[INSERT]),
        "u" if field(&fs, "b").is_some_and(truthy) => add_full(r, full, &[UPDATE, INSERT]),
        "u" => add_full(r, full, &[UPDATE]),
        "d" => add_full(r, full, &[REMOVE]),
        "n" => Ok(()),
        "c" => {
            let db = full.split('.').next().unwrap_or_default();
            check_db(db)?;
            let o = as_doc(need("o")?, "applyOps.o")?;
            let (name, v) = super::ctx::first_element(o)?;
            match (name, v) {
                ("create", RawBsonRef::String(c)) => {
                    check_coll(c)?;
                    r.add_list(ns(db, c), &[CREATE_COLLECTION]);
                    if has_ui {
                        r.add_list(Resource::Cluster, &[FORCE_UUID]);
                    }
                }
                ("drop", RawBsonRef::String(c)) => {
                    check_coll(c)?;
                    r.add_list(ns(db, c), &[DROP_COLLECTION]);
                }
                _ => r.add_list(Resource::Cluster, &[INTERNAL]),
            }
            Ok(())
        }
        _ => Err(ClassifyError::bad_value("applyOps.op", "unknown op type")),
    }
}

fn add_full<'a>(r: &mut Reqs<'a>, full: &'a str, a: &[Action]) -> Result<(), ClassifyError> {
    let (db, coll) = split_ns(full)?;
    r.add_list(ns(db, coll), a);
    Ok(())
}
