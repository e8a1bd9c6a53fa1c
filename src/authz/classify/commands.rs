//! The command table: commands.json `commands`, one entry per command name mongod
//! accepts (aliases included), and the dispatcher that applies an entry.

use super::ctx::{all1, ns, split_ns, CollArg, Ctx, Out, Reqs};
use super::error::ClassifyError;
pub(crate) use super::table::lookup;
use super::{admin, pipeline, users, writes, Kind, NoSequences, Sequences};
use crate::authz::actions::*;
use crate::authz::model::{Action, Formula, Requirement, Resource};

/// One command's static description.
#[derive(Clone)]
pub(crate) struct Spec {
    pub admin_only: bool,
    pub requires_auth: bool,
    pub rule: Rule,
}

/// How the privileges of a command are computed.
#[derive(Clone)]
pub(crate) enum Rule {
    /// Actions on `<$db>.<first field>`.
    Ns(&'static [Action]),
    /// Same, but the first field may be a UUID (general_rules uuid_namespaces).
    NsUuid(&'static [Action]),
    /// Actions on the database resource of `$db`.
    Db(&'static [Action]),
    Cluster(&'static [Action]),
    /// Cluster actions, answered by the proxy/session in a specific way.
    ClusterKind(&'static [Action], Kind<'static>),
    AnyNormal(&'static [Action]),
    /// Actions on the fully qualified "db.coll" in the first field.
    FullNs(&'static [Action]),
    /// Actions on the database named by the first field.
    NamedDb(&'static [Action]),
    /// Fixed requirements, independent of the command's fields.
    Fixed(&'static [Requirement<'static>]),
    /// Any one of these fixed conjunctions.
    Alt(&'static [&'static [Requirement<'static>]]),
    /// Only authentication (or nothing, for requires_auth false), with a proxy kind.
    Session(Kind<'static>),
    /// Database actions on user/role documents: refused by the proxy.
    UserDb(&'static [Action]),
    /// commands.json internal_commands: internal on the cluster, which no client role has.
    Internal,
    Custom(Special),
}

/// Commands whose privileges depend on their fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Special {
    Find,
    Insert,
    Update,
    FindAndModify,
    GetMore,
    KillCursors,
    BulkWrite,
    Explain,
    Aggregate,
    MapReduce,
    ListCollections,
    ListDatabases,
    Create,
    RenameCollection,
    CollMod,
    CloneCollectionAsCapped,
    Profile,
    ValidateDbMetadata,
    Features,
    DbCheck,
    GetShardVersion,
    MergeChunks,
    CheckMetadataConsistency,
    ApplyOps,
    User(users::UserCmd),
}

/// Commands `explain` accepts (explain_cmd.cpp delegates to these).
fn explainable(spec: &Spec) -> bool {
    matches!(
        spec.rule,
        Rule::Custom(
            Special::Find
                | Special::Aggregate
                | Special::Update
                | Special::FindAndModify
                | Special::MapReduce
        )
    ) || matches!(spec.rule, Rule::NsUuid(a) if a == [FIND])
        || matches!(spec.rule, Rule::Ns(a) if a == [FIND] || a == [REMOVE])
}

/// Applies an entry to the wrapped command of `explain`.
pub(crate) fn run_explained<'a, S: Sequences<'a>>(
    cx: &Ctx<'a>,
    spec: &Spec,
    seqs: &S,
) -> Result<Out<'a>, ClassifyError> {
    if matches!(spec.rule, Rule::Custom(Special::Explain)) {
        return Err(ClassifyError::bad_value(
            "explain",
            "explain cannot be nested",
        ));
    }
    if !explainable(spec) {
        return Err(ClassifyError::bad_value(
            "explain",
            &format!("command '{}' cannot be explained", cx.name),
        ));
    }
    let mut out = run(cx, spec, seqs)?;
    out.kind = Kind::Forward;
    Ok(out)
}

/// Applies a table entry to a command.
pub(crate) fn run<'a, S: Sequences<'a>>(
    cx: &Ctx<'a>,
    spec: &Spec,
    seqs: &S,
) -> Result<Out<'a>, ClassifyError> {
    let db = cx.db;
    Ok(match &spec.rule {
        Rule::Ns(a) => {
            let c = cx.coll()?;
            Out::forward(all1(ns(db, c), a), cx.ns_target(c))
        }
        Rule::NsUuid(a) => ns_or_uuid(cx, a)?.into_out(cx),
        Rule::Db(a) => Out::forward(all1(Resource::Database(db), a), cx.db_target()),
        Rule::UserDb(a) => Out::new(
            all1(Resource::Database(db), a),
            cx.db_target(),
            Kind::UserManagement,
        ),
        Rule::Cluster(a) => Out::forward(all1(Resource::Cluster, a), cx.db_target()),
        Rule::ClusterKind(a, k) => Out::new(all1(Resource::Cluster, a), cx.db_target(), k.clone()),
        Rule::AnyNormal(a) => Out::forward(all1(Resource::AnyNormal, a), cx.db_target()),
        Rule::FullNs(a) => {
            let full = super::ctx::as_str(cx.first, cx.name)?;
            let (d, c) = split_ns(full)?;
            Out::forward(all1(ns(d, c), a), full.into())
        }
        Rule::NamedDb(a) => {
            let d = super::ctx::as_str(cx.first, cx.name)?;
            super::ctx::check_db(d)?;
            Out::forward(all1(Resource::Database(d), a), d.into())
        }
        Rule::Fixed(reqs) => Out::forward(Formula::All(reqs.to_vec()), cx.db_target()),
        Rule::Alt(alts) => Out::forward(
            Formula::Or(alts.iter().map(|r| Formula::All(r.to_vec())).collect()),
            cx.db_target(),
        ),
        Rule::Session(k) => Out::new(Formula::Authenticated, cx.db_target(), k.clone()),
        Rule::Internal => Out::forward(all1(Resource::Cluster, &[INTERNAL]), cx.db_target()),
        Rule::Custom(x) => special(cx, *x, seqs)?,
    })
}

fn special<'a, S: Sequences<'a>>(
    cx: &Ctx<'a>,
    x: Special,
    seqs: &S,
) -> Result<Out<'a>, ClassifyError> {
    match x {
        Special::Find => find(cx),
        Special::Insert => writes::insert(cx),
        Special::Update => writes::update(cx, seqs),
        Special::FindAndModify => writes::find_and_modify(cx),
        Special::MapReduce => writes::map_reduce(cx),
        Special::BulkWrite => writes::bulk_write(cx, seqs),
        Special::ApplyOps => writes::apply_ops(cx),
        Special::Aggregate => pipeline::aggregate(cx),
        Special::Explain => explain(cx),
        Special::User(u) => users::run(cx, u),
        _ => admin::run(cx, x),
    }
}

/// A namespace requirement that may name its collection by UUID.
pub(crate) struct NsReq<'a> {
    pub reqs: Reqs<'a>,
    pub coll: Option<&'a str>,
}

impl<'a> NsReq<'a> {
    pub fn into_out(self, cx: &Ctx<'a>) -> Out<'a> {
        let target = match self.coll {
            Some(c) => cx.ns_target(c),
            None => cx.db_target(),
        };
        Out::forward(self.reqs.into_formula(), target)
    }
}

/// general_rules uuid_namespaces: a UUID adds useUUID on the cluster. The namespace
/// is unknown until mongod resolves it, so the actions are required on the whole
/// database (which covers any normal collection the UUID could name) and the target
/// is the database.
pub(crate) fn ns_or_uuid<'a>(cx: &Ctx<'a>, a: &[Action]) -> Result<NsReq<'a>, ClassifyError> {
    let mut reqs = Reqs::default();
    let coll = match cx.coll_or_uuid()? {
        CollArg::Name(c) => {
            reqs.add_list(ns(cx.db, c), a);
            Some(c)
        }
        CollArg::Uuid => {
            reqs.add_list(Resource::Database(cx.db), a);
            reqs.add_list(Resource::Cluster, &[USE_UUID]);
            None
        }
    };
    Ok(NsReq { reqs, coll })
}

/// commands.json find: find on ns; UUID form; `term` adds internal.
fn find<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let mut r = ns_or_uuid(cx, &[FIND])?;
    if cx.term {
        r.reqs.add_list(Resource::Cluster, &[INTERNAL]);
    }
    Ok(r.into_out(cx))
}

/// commands.json explain: the wrapped command's privileges with the explain's `$db`.
fn explain<'a>(cx: &Ctx<'a>) -> Result<Out<'a>, ClassifyError> {
    let inner = super::ctx::as_doc(cx.first, "explain")?;
    super::ctx::fields(inner)?;
    let (name, first) = super::ctx::first_element(inner)?;
    let generic = super::ctx::scan_generic(inner)?;
    if let Some(d) = generic.db_str {
        if d != cx.db {
            return Err(ClassifyError::bad_value(
                "explain",
                "the explained command must use the explain command's $db",
            ));
        }
    }
    let mut out = super::classify_in(inner, name, first, cx.db, generic, &NoSequences, true)?;
    out.kind = Kind::Forward;
    Ok(out)
}
