//! Shared helpers: the per-command context, the requirement builder, field access that
//! refuses to guess (type checks, duplicate keys) and namespace validation.

use std::borrow::Cow;

use bson::spec::BinarySubtype;
use bson::{RawArray, RawBsonRef, RawDocument};

use super::error::ClassifyError;
use super::Kind;
use crate::authz::actions as act;
use crate::authz::model::{Action, ActionSet, Formula, Requirement, Resource};

/// What every handler sees.
pub(crate) struct Ctx<'a> {
    pub body: &'a RawDocument,
    pub db: &'a str,
    pub name: &'a str,
    pub first: RawBsonRef<'a>,
    /// `bypassDocumentValidation` is truthy on the command (general_rules
    /// bypass_document_validation).
    pub bypass: bool,
    /// `term` is present (find/getMore: internal).
    pub term: bool,
}

/// What a handler produces.
pub(crate) struct Out<'a> {
    pub requires_auth: bool,
    pub formula: Formula<'a>,
    pub target: Cow<'a, str>,
    pub kind: Kind<'a>,
}

impl<'a> Out<'a> {
    pub fn new(formula: Formula<'a>, target: Cow<'a, str>, kind: Kind<'a>) -> Self {
        Out {
            requires_auth: true,
            formula,
            target,
            kind,
        }
    }

    pub fn forward(formula: Formula<'a>, target: Cow<'a, str>) -> Self {
        Out::new(formula, target, Kind::Forward)
    }
}

/// A conjunction of requirements, merged per resource so the formula lists every
/// resource once with the union of its actions.
#[derive(Default, Debug)]
pub(crate) struct Reqs<'a>(pub Vec<Requirement<'a>>);

impl<'a> Reqs<'a> {
    pub fn add(&mut self, resource: Resource<'a>, actions: ActionSet) {
        if actions.is_empty() {
            return;
        }
        match self.0.iter_mut().find(|r| r.resource == resource) {
            Some(r) => r.actions = r.actions.union(&actions),
            None => self.0.push(Requirement { resource, actions }),
        }
    }

    pub fn add_list(&mut self, resource: Resource<'a>, actions: &[Action]) {
        self.add(resource, set(actions));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `Authenticated` when nothing is required.
    pub fn into_formula(self) -> Formula<'a> {
        if self.0.is_empty() {
            Formula::Authenticated
        } else {
            Formula::All(self.0)
        }
    }
}

pub(crate) fn set(actions: &[Action]) -> ActionSet {
    ActionSet::of(actions)
}

/// One requirement as a formula.
pub(crate) fn all1<'a>(resource: Resource<'a>, actions: &[Action]) -> Formula<'a> {
    Formula::All(vec![Requirement {
        resource,
        actions: set(actions),
    }])
}

/// `a AND b`, flattening trivial cases.
pub(crate) fn and<'a>(a: Formula<'a>, b: Formula<'a>) -> Formula<'a> {
    match (a, b) {
        (Formula::Authenticated, f) | (f, Formula::Authenticated) => f,
        (Formula::Never, _) | (_, Formula::Never) => Formula::Never,
        (Formula::All(mut x), Formula::All(y)) => {
            let mut r = Reqs(std::mem::take(&mut x));
            for q in y {
                r.add(q.resource, q.actions);
            }
            r.into_formula()
        }
        (a, b) => Formula::And(vec![a, b]),
    }
}

/// Generic arguments found on the command (commands.json general_rules generic_fields).
#[derive(Default, Clone, Copy)]
pub(crate) struct Generic<'a> {
    /// `$db` when it is a string.
    pub db_str: Option<&'a str>,
    pub bypass: bool,
    pub tenant: bool,
    pub impersonate: bool,
    pub term: bool,
}

/// One pass over the top-level keys, collecting `$db` and every flag the classifier
/// needs, so a find reads its body once (arrays such as `documents` are skipped by
/// length: the cost does not grow with inserted documents).
pub(crate) fn scan_generic(body: &RawDocument) -> Result<Generic<'_>, ClassifyError> {
    super::scan::scan(body)
}

/// Adds useTenant / impersonate on the cluster (both internal-only in practice).
pub(crate) fn with_generic<'a>(f: Formula<'a>, g: &Generic<'_>) -> Formula<'a> {
    let mut extra = Reqs::default();
    if g.tenant {
        extra.add_list(Resource::Cluster, &[act::USE_TENANT]);
    }
    if g.impersonate {
        extra.add_list(Resource::Cluster, &[act::IMPERSONATE]);
    }
    and(f, extra.into_formula())
}

/// mongod's `trueValue()`: false for false, 0, null and undefined; true otherwise.
pub(crate) fn truthy(v: RawBsonRef<'_>) -> bool {
    match v {
        RawBsonRef::Boolean(b) => b,
        RawBsonRef::Int32(i) => i != 0,
        RawBsonRef::Int64(i) => i != 0,
        RawBsonRef::Double(d) => d != 0.0,
        RawBsonRef::Null | RawBsonRef::Undefined => false,
        _ => true,
    }
}

pub(crate) fn first_element(body: &RawDocument) -> Result<(&str, RawBsonRef<'_>), ClassifyError> {
    let bad = |e: bson::raw::Error| ClassifyError::malformed("body", &e.to_string());
    match body.iter_elements().next() {
        Some(el) => {
            let el = el.map_err(bad)?;
            Ok((el.key(), el.value().map_err(bad)?))
        }
        None => Err(ClassifyError::malformed("body", "empty command document")),
    }
}

pub(crate) fn dollar_db(v: Option<&str>) -> Result<&str, ClassifyError> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ClassifyError::type_mismatch("$db", "a non-empty string")),
    }
}

/// `doc.get` with BSON errors mapped.
pub(crate) fn get<'a>(
    doc: &'a RawDocument,
    key: &str,
) -> Result<Option<RawBsonRef<'a>>, ClassifyError> {
    doc.get(key)
        .map_err(|e| ClassifyError::malformed(key, &e.to_string()))
}

/// Every field of a document we read to decide privileges, refusing duplicate keys.
pub(crate) fn fields<'a>(
    doc: &'a RawDocument,
) -> Result<Vec<(&'a str, RawBsonRef<'a>)>, ClassifyError> {
    let mut v = Vec::new();
    for el in doc {
        v.push(el.map_err(|e| ClassifyError::malformed("document", &e.to_string()))?);
    }
    check_unique(v.iter().map(|(k, _)| *k))?;
    Ok(v)
}

/// Duplicate-key check in O(n log n) so a hostile document cannot make it quadratic.
pub(crate) fn check_unique<'s>(keys: impl Iterator<Item = &'s str>) -> Result<(), ClassifyError> {
    let mut ks: Vec<&str> = keys.collect();
    ks.sort_unstable();
    for w in ks.windows(2) {
        if let [a, b] = w {
            if a == b {
                return Err(ClassifyError::DuplicateField((*a).to_owned()));
            }
        }
    }
    Ok(())
}

/// Value of `key` in an already-checked field list.
pub(crate) fn field<'a>(fs: &[(&'a str, RawBsonRef<'a>)], key: &str) -> Option<RawBsonRef<'a>> {
    fs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

pub(crate) fn as_str<'a>(v: RawBsonRef<'a>, name: &str) -> Result<&'a str, ClassifyError> {
    match v {
        RawBsonRef::String(s) => Ok(s),
        _ => Err(ClassifyError::type_mismatch(name, "a string")),
    }
}

pub(crate) fn as_doc<'a>(v: RawBsonRef<'a>, name: &str) -> Result<&'a RawDocument, ClassifyError> {
    match v {
        RawBsonRef::Document(d) => Ok(d),
        _ => Err(ClassifyError::type_mismatch(name, "an object")),
    }
}

pub(crate) fn as_array<'a>(v: RawBsonRef<'a>, name: &str) -> Result<&'a RawArray, ClassifyError> {
    match v {
        RawBsonRef::Array(a) => Ok(a),
        _ => Err(ClassifyError::type_mismatch(name, "an array")),
    }
}

/// Elements of an array, BSON errors mapped.
pub(crate) fn elems<'a>(
    a: &'a RawArray,
    name: &'a str,
) -> impl Iterator<Item = Result<RawBsonRef<'a>, ClassifyError>> + 'a {
    a.into_iter()
        .map(move |e| e.map_err(|e| ClassifyError::malformed(name, &e.to_string())))
}

/// A collection name mongod would accept in a command (namespace_string.h rules, the
/// subset that matters for naming the resource).
pub(crate) fn check_coll(coll: &str) -> Result<(), ClassifyError> {
    if coll.is_empty() || coll.starts_with('.') || coll.contains('\0') || coll.contains('$') {
        return Err(ClassifyError::InvalidNamespace(coll.to_owned()));
    }
    Ok(())
}

/// A cursor's collection as getMore/killCursors name it: a collection, or the
/// `$cmd.listCollections` / `$cmd.aggregate` pseudo-collections of collection-less
/// cursors (the only places a '$' is legitimate).
pub(crate) fn check_cursor_coll(coll: &str) -> Result<(), ClassifyError> {
    match coll.strip_prefix("$cmd.") {
        Some(rest) if !rest.is_empty() && !rest.contains(['$', '\0']) => Ok(()),
        _ => check_coll(coll),
    }
}

/// A database name mongod would accept.
pub(crate) fn check_db(db: &str) -> Result<(), ClassifyError> {
    let bad = |c: char| matches!(c, '/' | '\\' | '.' | ' ' | '"' | '$' | '\0');
    if db.is_empty() || db.len() > 63 || db.contains(bad) {
        return Err(ClassifyError::InvalidNamespace(db.to_owned()));
    }
    Ok(())
}

/// Splits a fully qualified "db.coll".
pub(crate) fn split_ns(ns: &str) -> Result<(&str, &str), ClassifyError> {
    let (db, coll) = ns
        .split_once('.')
        .ok_or_else(|| ClassifyError::InvalidNamespace(ns.to_owned()))?;
    check_db(db).map_err(|_| ClassifyError::InvalidNamespace(ns.to_owned()))?;
    check_coll(coll).map_err(|_| ClassifyError::InvalidNamespace(ns.to_owned()))?;
    Ok((db, coll))
}

/// "db.coll" for messages.
pub(crate) fn ns_string(db: &str, coll: &str) -> String {
    // Capacity is a hint only; saturating keeps it panic-free.
    let mut s = String::with_capacity(db.len().saturating_add(coll.len()).saturating_add(1));
    s.push_str(db);
    s.push('.');
    s.push_str(coll);
    s
}

pub(crate) fn ns<'a>(db: &'a str, coll: &'a str) -> Resource<'a> {
    Resource::Namespace { db, coll }
}

/// The collection argument of a command's first field.
pub(crate) enum CollArg<'a> {
    Name(&'a str),
    /// commands.json general_rules uuid_namespaces.
    Uuid,
}

impl<'a> Ctx<'a> {
    pub fn get(&self, key: &str) -> Result<Option<RawBsonRef<'a>>, ClassifyError> {
        get(self.body, key)
    }

    /// The first field as a collection name.
    pub fn coll(&self) -> Result<&'a str, ClassifyError> {
        let c = as_str(self.first, self.name)?;
        check_coll(c)?;
        Ok(c)
    }

    /// The first field as a collection name or a UUID (BinData subtype 4).
    pub fn coll_or_uuid(&self) -> Result<CollArg<'a>, ClassifyError> {
        match self.first {
            RawBsonRef::Binary(b) if b.subtype == BinarySubtype::Uuid => Ok(CollArg::Uuid),
            _ => self.coll().map(CollArg::Name),
        }
    }

    pub fn ns_target(&self, coll: &str) -> Cow<'a, str> {
        Cow::Owned(ns_string(self.db, coll))
    }

    pub fn db_target(&self) -> Cow<'a, str> {
        Cow::Borrowed(self.db)
    }

    /// Boolean-ish option of the command (missing = false).
    pub fn flag(&self, key: &str) -> Result<bool, ClassifyError> {
        Ok(self.get(key)?.is_some_and(truthy))
    }
}
