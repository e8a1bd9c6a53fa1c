//! Core tests: helpers shared by the other test modules, CRUD/write commands, explain,
//! generic fields, error paths. Each test cites the commands.json entry it checks.

use bson::{rawdoc, Binary, RawDocument, RawDocumentBuf};

use super::*;
use crate::authz::actions::*;
use crate::authz::model::{Action, ActionSet, Formula, Requirement, Resource};

/// Kind-1 sections for tests and benches.
pub(crate) struct Seqs<'a>(pub Vec<(&'a str, &'a [&'a RawDocument])>);

impl<'a> Sequences<'a> for Seqs<'a> {
    type Iter = std::iter::Copied<std::slice::Iter<'a, &'a RawDocument>>;
    fn documents(&self, identifier: &str) -> Option<Self::Iter> {
        self.0
            .iter()
            .find(|(k, _)| *k == identifier)
            .map(|(_, v)| v.iter().copied())
    }

    fn unexpected(&self, allowed: &[&str]) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| !allowed.contains(k))
            .map(|(k, _)| k.to_string())
    }
}

#[test]
fn a_sequence_that_is_not_a_field_of_the_command_is_refused_as_mongod_does() {
    let doc = rawdoc! {"q": {}, "u": {"$set": {"a": 1}}};
    let docs = [doc.as_ref()];
    let insert = rawdoc! {"insert": "c", "$db": "d"};
    // An `updates` sequence on an insert: mongod's IDL parser, code 40415.
    let e = classify(&insert, &Seqs(vec![("updates", &docs)])).unwrap_err();
    assert_eq!(e, ClassifyError::UnknownField("insert.updates".into()));
    assert_eq!(e.code(), 40415);
    assert_eq!(
        e.to_string(),
        "BSON field 'insert.updates' is an unknown field."
    );
    // A command that takes no sequences at all: code 40472.
    let find = rawdoc! {"find": "c", "$db": "d"};
    let e = classify(&find, &Seqs(vec![("documents", &docs)])).unwrap_err();
    assert_eq!(e.code(), 40472);
    assert_eq!(
        e.to_string(),
        "The find command does not support document sequences."
    );
    // The command's own sequence is fine.
    assert!(classify(&insert, &Seqs(vec![("documents", &docs)])).is_ok());
    let bulk = rawdoc! {"bulkWrite": 1, "$db": "admin"};
    let e = classify(&bulk, &Seqs(vec![("documents", &docs)])).unwrap_err();
    assert_eq!(e, ClassifyError::UnknownField("bulkWrite.documents".into()));
}

pub(crate) fn req(resource: Resource<'static>, actions: &[Action]) -> Requirement<'static> {
    Requirement {
        resource,
        actions: ActionSet::of(actions),
    }
}

pub(crate) fn all(v: Vec<Requirement<'static>>) -> Formula<'static> {
    Formula::All(v)
}

pub(crate) fn nsr(db: &'static str, coll: &'static str) -> Resource<'static> {
    Resource::Namespace { db, coll }
}

pub(crate) fn cl(body: &RawDocumentBuf) -> Result<Classified<'_>, ClassifyError> {
    classify(body, &NoSequences)
}

pub(crate) fn formula(body: &RawDocumentBuf) -> Formula<'_> {
    match cl(body) {
        Ok(c) => c.formula,
        Err(e) => panic!("classification failed: {e:?} for {body:?}"),
    }
}

pub(crate) fn err(body: &RawDocumentBuf) -> ClassifyError {
    match cl(body) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn find_needs_find_on_ns_and_names_target() {
    // commands.json find: require find on ns.
    let b = rawdoc! {"find": "c", "filter": {"a": 1}, "$db": "test"};
    let c = cl(&b).unwrap();
    assert_eq!(c.name, "find");
    assert_eq!(c.db, "test");
    assert!(c.requires_auth);
    assert_eq!(c.target, "test.c");
    assert_eq!(c.kind, Kind::Forward);
    assert_eq!(c.formula, all(vec![req(nsr("test", "c"), &[FIND])]));
}

#[test]
fn find_by_uuid_needs_use_uuid_and_database_wide_find() {
    // commands.json find conditional: UUID adds useUUID on the cluster; namespace
    // unknown -> we require find on the database (documented in commands.rs).
    let uuid = Binary {
        subtype: bson::spec::BinarySubtype::Uuid,
        bytes: vec![7; 16],
    };
    let b = rawdoc! {"find": uuid, "$db": "test"};
    let c = cl(&b).unwrap();
    assert_eq!(c.target, "test");
    assert_eq!(
        c.formula,
        all(vec![
            req(Resource::Database("test"), &[FIND]),
            req(Resource::Cluster, &[USE_UUID])
        ])
    );
    // Other binary subtypes are not UUIDs.
    let bad = Binary {
        subtype: bson::spec::BinarySubtype::Generic,
        bytes: vec![7; 16],
    };
    assert_eq!(err(&rawdoc! {"find": bad, "$db": "test"}).code(), 14);
}

#[test]
fn find_term_adds_internal() {
    // commands.json find conditional: field 'term' present.
    let b = rawdoc! {"find": "c", "term": 3_i64, "$db": "test"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("test", "c"), &[FIND]),
            req(Resource::Cluster, &[INTERNAL])
        ])
    );
}

#[test]
fn invalid_collection_names_are_invalid_namespace() {
    for bad in ["", ".c", "a$b", "a\0b"] {
        let e = err(&rawdoc! {"find": bad, "$db": "test"});
        assert_eq!(e.code(), 73, "{bad:?}");
        assert_eq!(e.code_name(), "InvalidNamespace");
    }
    assert_eq!(err(&rawdoc! {"find": "c", "$db": "a.b"}).code(), 73);
    assert_eq!(err(&rawdoc! {"find": 5, "$db": "test"}).code(), 14);
}

#[test]
fn insert_never_needs_more_than_insert_and_bypass() {
    // commands.json insert; bypassDocumentValidation conditional.
    let b = rawdoc! {"insert": "c", "documents": [{"a": 1}], "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[INSERT])]));
    let b = rawdoc! {"insert": "c", "bypassDocumentValidation": true, "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(
            nsr("d", "c"),
            &[INSERT, BYPASS_DOCUMENT_VALIDATION]
        )])
    );
    let b = rawdoc! {"insert": "c", "bypassDocumentValidation": false, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[INSERT])]));
}

#[test]
fn update_upsert_from_body_or_sequence_adds_insert() {
    // commands.json update conditional: any statement with upsert: true.
    let b = rawdoc! {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a": 1}}}], "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[UPDATE])]));
    let b = rawdoc! {"update": "c", "updates": [{"q": {}, "u": {}}, {"q": {}, "u": {}, "upsert": true}], "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(nsr("d", "c"), &[UPDATE, INSERT])])
    );

    let body = rawdoc! {"update": "c", "bypassDocumentValidation": 1, "$db": "d"};
    let s1 = rawdoc! {"q": {}, "u": {}};
    let s2 = rawdoc! {"q": {}, "u": {}, "upsert": true};
    let docs: Vec<&RawDocument> = vec![&s1, &s2];
    let seqs = Seqs(vec![("updates", &docs)]);
    let c = classify(&body, &seqs).unwrap();
    assert_eq!(
        c.formula,
        all(vec![req(
            nsr("d", "c"),
            &[UPDATE, INSERT, BYPASS_DOCUMENT_VALIDATION]
        )])
    );
    // Both a body array and a sequence: refused, as by mongod.
    let body = rawdoc! {"update": "c", "updates": [], "$db": "d"};
    assert_eq!(classify(&body, &seqs).unwrap_err().code(), 2);
    // Duplicate keys in a statement decide upsert: refused.
    let mut st = RawDocumentBuf::new();
    st.append("upsert", false);
    st.append("upsert", true);
    let docs: Vec<&RawDocument> = vec![&st];
    let seqs = Seqs(vec![("updates", &docs)]);
    let body = rawdoc! {"update": "c", "$db": "d"};
    assert_eq!(
        classify(&body, &seqs).unwrap_err(),
        ClassifyError::DuplicateField("upsert".into())
    );
}

#[test]
fn delete_needs_remove() {
    let b = rawdoc! {"delete": "c", "deletes": [{"q": {}, "limit": 0}], "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[REMOVE])]));
}

#[test]
fn find_and_modify_conditionals() {
    // commands.json findAndModify: find + update/upsert/remove/bypass conditionals.
    let b = rawdoc! {"findAndModify": "c", "query": {}, "update": {"$inc": {"n": 1}}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND, UPDATE])]));
    let b = rawdoc! {"findandmodify": "c", "update": {}, "upsert": true, "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(nsr("d", "c"), &[FIND, UPDATE, INSERT])])
    );
    let b = rawdoc! {"findAndModify": "c", "remove": true, "bypassDocumentValidation": true, "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(
            nsr("d", "c"),
            &[FIND, REMOVE, BYPASS_DOCUMENT_VALIDATION]
        )])
    );
}

#[test]
fn map_reduce_output_modes() {
    // commands.json mapReduce conditionals, including out.db.
    let inline =
        rawdoc! {"mapReduce": "c", "map": "f", "reduce": "g", "out": {"inline": 1}, "$db": "d"};
    assert_eq!(formula(&inline), all(vec![req(nsr("d", "c"), &[FIND])]));
    let s = rawdoc! {"mapreduce": "c", "out": "o", "$db": "d"};
    assert_eq!(
        formula(&s),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "o"), &[INSERT, REMOVE])
        ])
    );
    let m = rawdoc! {"mapReduce": "c", "out": {"merge": "o", "db": "x"}, "bypassDocumentValidation": true, "$db": "d"};
    assert_eq!(
        formula(&m),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("x", "o"), &[INSERT, UPDATE, BYPASS_DOCUMENT_VALIDATION])
        ])
    );
    let r = rawdoc! {"mapReduce": "c", "out": {"reduce": "o"}, "$db": "d"};
    assert_eq!(
        formula(&r),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "o"), &[INSERT, UPDATE])
        ])
    );
    let rep = rawdoc! {"mapReduce": "c", "out": {"replace": "o", "db": "y"}, "$db": "d"};
    assert_eq!(
        formula(&rep),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("y", "o"), &[INSERT, REMOVE])
        ])
    );
    assert_eq!(
        err(&rawdoc! {"mapReduce": "c", "out": {"merge": "o", "replace": "p"}, "$db": "d"}).code(),
        9
    );
    assert_eq!(
        err(&rawdoc! {"mapReduce": "c", "out": 3, "$db": "d"}).code(),
        14
    );
    assert_eq!(
        err(&rawdoc! {"mapReduce": "c", "out": {"merge": "o", "db": 1}, "$db": "d"}).code(),
        14
    );
}

#[test]
fn bulk_write_unions_per_ns_info_entry() {
    // commands.json bulkWrite notes: per-entry union; upsert -> insert; bypass adds to
    // EVERY entry, even unreferenced ones; unreferenced entries need nothing otherwise.
    let b = rawdoc! {
        "bulkWrite": 1,
        "ops": [
            {"insert": 0, "document": {"a": 1}},
            {"update": 1, "filter": {}, "updateMods": {}, "upsert": true},
            {"delete": 0, "filter": {}},
        ],
        "nsInfo": [{"ns": "a.x"}, {"ns": "b.y"}, {"ns": "c.z"}],
        "$db": "admin",
    };
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("a", "x"), &[INSERT, REMOVE]),
            req(nsr("b", "y"), &[UPDATE, INSERT])
        ])
    );
    let b = rawdoc! {
        "bulkWrite": 1, "ops": [{"insert": 0, "document": {}}],
        "nsInfo": [{"ns": "a.x"}, {"ns": "c.z"}], "bypassDocumentValidation": true, "$db": "admin",
    };
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("a", "x"), &[INSERT, BYPASS_DOCUMENT_VALIDATION]),
            req(nsr("c", "z"), &[BYPASS_DOCUMENT_VALIDATION])
        ])
    );
    let oob = rawdoc! {"bulkWrite": 1, "ops": [{"insert": 2, "document": {}}], "nsInfo": [{"ns": "a.x"}], "$db": "admin"};
    assert_eq!(err(&oob).code(), 9);
    let neg = rawdoc! {"bulkWrite": 1, "ops": [{"delete": -1}], "nsInfo": [{"ns": "a.x"}], "$db": "admin"};
    assert_eq!(err(&neg).code(), 9);
    let other_db = rawdoc! {"bulkWrite": 1, "ops": [], "nsInfo": [], "$db": "test"};
    assert_eq!(err(&other_db), ClassifyError::AdminOnly("bulkWrite".into()));
}

#[test]
fn bulk_write_from_sequences() {
    let body = rawdoc! {"bulkWrite": 1, "$db": "admin"};
    let op = rawdoc! {"update": 0, "filter": {}, "updateMods": {}};
    let info = rawdoc! {"ns": "a.x"};
    let ops: Vec<&RawDocument> = vec![&op];
    let infos: Vec<&RawDocument> = vec![&info];
    let seqs = Seqs(vec![("ops", &ops), ("nsInfo", &infos)]);
    let c = classify(&body, &seqs).unwrap();
    assert_eq!(c.formula, all(vec![req(nsr("a", "x"), &[UPDATE])]));
}

#[test]
fn explain_classifies_the_wrapped_command_with_explain_db() {
    // commands.json explain: the explained command's privileges, writes included.
    let b = rawdoc! {"explain": {"update": "c", "updates": [{"q": {}, "u": {}, "upsert": true}]}, "verbosity": "queryPlanner", "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.name, "explain");
    assert_eq!(c.target, "d.c");
    assert_eq!(c.formula, all(vec![req(nsr("d", "c"), &[UPDATE, INSERT])]));
    let b = rawdoc! {"explain": {"delete": "c", "deletes": []}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[REMOVE])]));
    let b = rawdoc! {"explain": {"find": "c"}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
    let b = rawdoc! {"explain": {"aggregate": "c", "pipeline": [{"$out": "o"}], "cursor": {}}, "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(nsr("d", "o"), &[INSERT, REMOVE])
        ])
    );
    let b = rawdoc! {"explain": {"findAndModify": "c", "remove": true}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND, REMOVE])]));
    let b = rawdoc! {"explain": {"count": "c"}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
    let b = rawdoc! {"explain": {"distinct": "c", "key": "a"}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
    let b = rawdoc! {"explain": {"mapReduce": "c", "out": {"inline": 1}}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
}

#[test]
fn explain_errors() {
    let nested = rawdoc! {"explain": {"explain": {"find": "c"}}, "$db": "d"};
    assert_eq!(err(&nested).code(), 2);
    let unknown = rawdoc! {"explain": {"frobnicate": "c"}, "$db": "d"};
    assert_eq!(
        err(&unknown),
        ClassifyError::UnknownCommand("frobnicate".into())
    );
    let not_explainable = rawdoc! {"explain": {"drop": "c"}, "$db": "d"};
    assert_eq!(err(&not_explainable).code(), 2);
    let not_doc = rawdoc! {"explain": "find", "$db": "d"};
    assert_eq!(err(&not_doc).code(), 14);
    let mut inner = RawDocumentBuf::new();
    inner.append("find", "c");
    inner.append("filter", rawdoc! {});
    inner.append("filter", rawdoc! {});
    let mut b = RawDocumentBuf::new();
    b.append("explain", inner);
    b.append("$db", "d");
    assert_eq!(err(&b), ClassifyError::DuplicateField("filter".into()));
    let other_db = rawdoc! {"explain": {"find": "c", "$db": "x"}, "$db": "d"};
    assert_eq!(err(&other_db).code(), 2);
}

#[test]
fn generic_arguments_need_nothing_except_tenant_and_impersonation() {
    // commands.json general_rules generic_fields.
    let b = rawdoc! {"find": "c", "lsid": {"id": 1}, "txnNumber": 1_i64, "readConcern": {}, "$readPreference": {},
    "comment": "x", "maxTimeMS": 5, "apiVersion": "1", "$clusterTime": {}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[FIND])]));
    let b = rawdoc! {"find": "c", "$tenant": bson::oid::ObjectId::new(), "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(nsr("d", "c"), &[FIND]),
            req(Resource::Cluster, &[USE_TENANT])
        ])
    );
    let b =
        rawdoc! {"ping": 1, "$audit": {"$impersonatedUser": {"user": "u", "db": "d"}}, "$db": "d"};
    // requires_auth false: the formula is irrelevant and stays Authenticated.
    assert_eq!(formula(&b), Formula::Authenticated);
    let b = rawdoc! {"listCommands": 1, "$audit": {}, "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::Cluster, &[IMPERSONATE])])
    );
}

#[test]
fn unknown_commands_fail_closed_and_lookup_is_exact() {
    // general_rules authorization_error: unknown commands are 59.
    for name in ["frobnicate", "FIND", "Find", "getLastError", "hello2"] {
        let mut b = RawDocumentBuf::new();
        b.append(name, 1);
        b.append("$db", "d");
        let e = err(&b);
        assert_eq!(e, ClassifyError::UnknownCommand(name.into()));
        assert_eq!(e.code(), 59);
        assert_eq!(e.code_name(), "CommandNotFound");
        assert_eq!(e.to_string(), format!("no such command: '{name}'"));
    }
}

#[test]
fn admin_only_is_checked_first_for_everyone() {
    // general_rules admin_only: precedes every other check (even malformed fields).
    let b = rawdoc! {"renameCollection": 5, "$db": "test"};
    let e = err(&b);
    assert_eq!(e, ClassifyError::AdminOnly("renameCollection".into()));
    assert_eq!(e.code(), 13);
    assert_eq!(
        e.to_string(),
        "renameCollection may only be run against the admin database."
    );
    for name in [
        "shutdown",
        "getLog",
        "listDatabases",
        "currentOp",
        "commitTransaction",
        "setParameter",
    ] {
        let mut b = RawDocumentBuf::new();
        b.append(name, 1);
        b.append("$db", "test");
        assert_eq!(err(&b), ClassifyError::AdminOnly(name.into()));
    }
}

#[test]
fn bad_db_and_empty_body() {
    assert_eq!(err(&rawdoc! {"find": "c"}).code(), 14);
    assert_eq!(err(&rawdoc! {"find": "c", "$db": 1}).code(), 14);
    assert_eq!(err(&rawdoc! {}).code(), 9);
    assert_eq!(err(&rawdoc! {"ping": 1, "$db": "a b"}).code(), 73);
}

#[test]
fn reindex_needs_the_reindex_action_on_the_namespace() {
    let b = rawdoc! {"reIndex": "c", "$db": "d"};
    assert_eq!(
        cl(&b).map(|c| c.formula).unwrap(),
        all(vec![req(nsr("d", "c"), &[RE_INDEX])])
    );
}
