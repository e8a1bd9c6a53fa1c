//! Table-driven tests: every command of commands.json is known with its admin_only and
//! requires_auth flags, and every plain row classifies to its exact formula.

use bson::{rawdoc, RawDocumentBuf};

use super::commands::lookup;
use super::tests::{all, cl, err, formula, nsr, req};
use super::tests_rows::{body, expected, ROWS};
use super::*;
use crate::authz::actions::*;
use crate::authz::model::{Formula, Resource};

#[test]
fn aliases_resolve_like_mongod() {
    for (alias, canonical) in [
        ("ismaster", "isMaster"),
        ("findandmodify", "findAndModify"),
        ("mapreduce", "mapReduce"),
        ("buildinfo", "buildInfo"),
        ("dbstats", "dbStats"),
        ("datasize", "dataSize"),
        ("dbhash", "dbHash"),
        ("collstats", "collStats"),
        ("deleteIndexes", "dropIndexes"),
    ] {
        let (a, c) = (lookup(alias), lookup(canonical));
        assert!(a.is_some() && c.is_some(), "{alias}");
        let (a, c) = (
            a.unwrap_or_else(|| unreachable!()),
            c.unwrap_or_else(|| unreachable!()),
        );
        assert_eq!(
            (a.admin_only, a.requires_auth),
            (c.admin_only, c.requires_auth)
        );
    }
}

fn cmd(name: &str, value: impl Into<bson::RawBson>, db: &str) -> RawDocumentBuf {
    let mut b = RawDocumentBuf::new();
    b.append(name, value);
    b.append("$db", db);
    b
}

#[test]
fn plain_rows_classify_to_their_exact_formula() {
    assert!(ROWS.len() > 100);
    for (name, arg, db, on, actions) in ROWS {
        let b = body(name, *arg, db);
        assert_eq!(formula(&b), expected(*on, actions), "{name}");
    }
}

#[test]
fn admin_only_rows_refused_elsewhere() {
    for (name, arg, db, _, _) in ROWS {
        if *db == "admin" {
            let b = body(name, *arg, "test");
            assert_eq!(
                super::tests::err(&b),
                ClassifyError::AdminOnly((*name).into()),
                "{name}"
            );
        }
    }
}

#[test]
fn zone_commands_are_alternatives() {
    // commands.json addShardToZone / removeShardFromZone / updateZoneKeyRange.
    let sharding = all(vec![req(Resource::Cluster, &[ENABLE_SHARDING])]);
    let b = rawdoc! {"addShardToZone": "s", "zone": "z", "$db": "admin"};
    assert_eq!(
        formula(&b),
        Formula::Or(vec![
            sharding.clone(),
            all(vec![req(nsr("config", "shards"), &[UPDATE])])
        ])
    );
    let b = rawdoc! {"removeShardFromZone": "s", "zone": "z", "$db": "admin"};
    assert_eq!(
        formula(&b),
        Formula::Or(vec![
            sharding.clone(),
            all(vec![
                req(nsr("config", "shards"), &[UPDATE]),
                req(nsr("config", "tags"), &[FIND])
            ])
        ])
    );
    let b =
        rawdoc! {"updateZoneKeyRange": "x.y", "min": {}, "max": {}, "zone": "z", "$db": "admin"};
    assert_eq!(
        formula(&b),
        Formula::Or(vec![
            sharding,
            all(vec![
                req(nsr("config", "shards"), &[FIND]),
                req(nsr("config", "tags"), &[FIND, UPDATE, REMOVE])
            ])
        ])
    );
}

#[test]
fn full_namespace_commands_reject_bad_namespaces() {
    assert_eq!(super::tests::err(&cmd("dataSize", "nodot", "d")).code(), 73);
    assert_eq!(
        super::tests::err(&cmd("shardCollection", "x.", "admin")).code(),
        73
    );
    assert_eq!(
        super::tests::err(&cmd("enableSharding", "a.b", "admin")).code(),
        73
    );
    assert_eq!(super::tests::err(&cmd("dataSize", 5, "d")).code(), 14);
}

#[test]
fn apply_ops_entries() {
    // commands.json applyOps notes.
    let b = rawdoc! {"applyOps": [
        {"op": "i", "ns": "d.a", "o": {"_id": 1}},
        {"op": "u", "ns": "d.a", "o": {}, "o2": {}, "b": true},
        {"op": "d", "ns": "e.b", "o": {}, "ui": bson::Binary{subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![1; 16]}},
        {"op": "c", "ns": "d.$cmd", "o": {"create": "n"}},
        {"op": "c", "ns": "d.$cmd", "o": {"drop": "m"}},
        {"op": "n", "ns": "", "o": {}},
    ], "$db": "admin"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(Resource::Cluster, &[APPLY_OPS, USE_UUID]),
            req(nsr("d", "a"), &[INSERT, UPDATE]),
            req(nsr("e", "b"), &[REMOVE]),
            req(nsr("d", "n"), &[CREATE_COLLECTION]),
            req(nsr("d", "m"), &[DROP_COLLECTION]),
        ])
    );
    let b = rawdoc! {"applyOps": [{"op": "c", "ns": "d.$cmd", "o": {"renameCollection": "d.a", "to": "d.b"}}], "$db": "admin"};
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::Cluster, &[APPLY_OPS, INTERNAL])])
    );
    assert_eq!(
        err(&rawdoc! {"applyOps": [{"op": "x", "ns": "d.a"}], "$db": "admin"}).code(),
        2
    );
    assert_eq!(
        err(&rawdoc! {"applyOps": [{"ns": "d.a"}], "$db": "admin"}).code(),
        9
    );
}

#[test]
fn check_metadata_consistency_levels() {
    // commands.json checkMetadataConsistency alternatives.
    let a = &[CHECK_METADATA_CONSISTENCY];
    assert_eq!(
        formula(&rawdoc! {"checkMetadataConsistency": 1, "$db": "admin"}),
        all(vec![req(Resource::Cluster, a)])
    );
    assert_eq!(
        formula(&rawdoc! {"checkMetadataConsistency": 1, "$db": "d"}),
        Formula::Or(vec![
            all(vec![req(Resource::Cluster, a)]),
            all(vec![req(Resource::Database("d"), a)])
        ])
    );
    assert_eq!(
        formula(&rawdoc! {"checkMetadataConsistency": "c", "$db": "d"}),
        Formula::Or(vec![
            all(vec![req(Resource::Cluster, a)]),
            all(vec![req(nsr("d", "c"), a)])
        ])
    );
}

#[test]
fn internal_commands_need_internal() {
    // commands.json internal_commands.
    for name in [
        "_configsvrCommitChunkMigration",
        "_shardsvrMoveRange",
        "clusterFind",
        "setShardVersion",
        "splitChunk",
        "_flushRoutingTableCacheUpdates",
        "getQueryableEncryptionCountInfo",
        "replSetHeartbeat",
    ] {
        let mut b = RawDocumentBuf::new();
        b.append(name, 1);
        b.append("$db", "admin");
        assert_eq!(
            formula(&b),
            all(vec![req(Resource::Cluster, &[INTERNAL])]),
            "{name}"
        );
    }
    // "cluster" alone or lower-case continuations are not router commands.
    let b = rawdoc! {"clusterfind": 1, "$db": "admin"};
    assert_eq!(err(&b).code(), 59);
}

#[test]
fn handshake_and_auth_commands_need_no_auth() {
    // general_rules no_auth_commands.
    let cases: [(&str, Kind); 9] = [
        ("hello", Kind::Handshake),
        ("isMaster", Kind::Handshake),
        ("ismaster", Kind::Handshake),
        ("ping", Kind::Ping),
        ("buildInfo", Kind::BuildInfo),
        ("saslStart", Kind::SaslStart),
        ("saslContinue", Kind::SaslContinue),
        ("authenticate", Kind::Authenticate),
        ("connectionStatus", Kind::ConnectionStatus),
    ];
    for (name, kind) in cases {
        let mut b = RawDocumentBuf::new();
        b.append(name, 1);
        b.append("$db", "x");
        let c = cl(&b).unwrap();
        assert!(!c.requires_auth, "{name}");
        assert_eq!(c.kind, kind);
        assert_eq!(c.formula, Formula::Authenticated);
    }
    for (name, kind) in [
        ("logout", Kind::Logout),
        ("whatsmyuri", Kind::WhatsMyUri),
        ("endSessions", Kind::EndSessions),
        ("listCommands", Kind::Forward),
    ] {
        let mut b = RawDocumentBuf::new();
        b.append(name, 1);
        b.append("$db", "x");
        let c = cl(&b).unwrap();
        assert!(c.requires_auth, "{name}");
        assert_eq!(c.kind, kind);
        assert_eq!(c.formula, Formula::Authenticated);
    }
}
