//! Built-in role tables against `shared/authz/builtin_roles.json` (cited per case).

use super::*;
use crate::authz::actions;
use crate::authz::model::{Requirement, Resource};
use crate::authz::privileges::{Problem, RoleCatalog, RoleError, UserPrivileges};
use crate::authz::role_config::RoleRef;

fn user(refs: &[&str]) -> UserPrivileges {
    let refs: Vec<RoleRef> = refs.iter().map(|r| RoleRef::Name(r.to_string())).collect();
    match RoleCatalog::default().resolve(&refs) {
        Ok(u) => u,
        Err(e) => panic!("{refs:?}: {e}"),
    }
}

/// "cluster", "anyNormal", "anyResource", "db" (database) or "db.coll" (namespace).
fn res(s: &str) -> Resource<'_> {
    match s {
        "cluster" => Resource::Cluster,
        "anyNormal" => Resource::AnyNormal,
        "anyResource" => Resource::AnyResource,
        _ => match s.split_once('.') {
            Some((db, coll)) => Resource::Namespace { db, coll },
            None => Resource::Database(s),
        },
    }
}

fn holds(u: &UserPrivileges, action: &str, resource: &str) -> bool {
    let Some(a) = actions::from_name(action) else {
        panic!("unknown action {action}")
    };
    u.has(&Requirement {
        resource: res(resource),
        actions: ActionSet::of(&[a]),
    })
}

/// (role reference, action, resource, expected)
type Case = (&'static str, &'static str, &'static str, bool);

const CASES: &[Case] = &[
    // read: database grant + system.js; system collections and other dbs excluded.
    ("read@app", "find", "app.c", true),
    ("read@app", "find", "app.system.js", true),
    ("read@app", "find", "app.system.users", false),
    ("read@app", "find", "other.c", false),
    ("read@app", "insert", "app.c", false),
    ("read@app", "listCollections", "app", true),
    ("read@app", "listDatabases", "cluster", false),
    ("read@local", "find", "local.oplog.rs", true),
    // matching_rules: local.replset.* is not a normal collection.
    ("read@local", "find", "local.replset.minvalid", false),
    // readWrite: no bypassDocumentValidation (commands.json bypass_document_validation).
    ("readWrite@app", "insert", "app.c", true),
    ("readWrite@app", "remove", "app.c", true),
    ("readWrite@app", "bypassDocumentValidation", "app.c", false),
    ("readWrite@app", "find", "app.system.profile", false),
    ("readWrite@app", "dropDatabase", "app", false),
    // dbAdmin: bypassDocumentValidation, no find except system.profile.
    ("dbAdmin@app", "bypassDocumentValidation", "app.c", true),
    ("dbAdmin@app", "find", "app.c", false),
    ("dbAdmin@app", "find", "app.system.profile", true),
    ("dbAdmin@app", "dropDatabase", "app", true),
    ("dbAdmin@app", "configureQueryAnalyzer", "app.c", true),
    ("dbAdmin@app", "collMod", "other.c", false),
    // dbOwner = readWrite + dbAdmin + userAdmin on the same db.
    ("dbOwner@app", "find", "app.c", true),
    ("dbOwner@app", "bypassDocumentValidation", "app.c", true),
    ("dbOwner@app", "createUser", "app", true),
    ("dbOwner@app", "find", "other.c", false),
    ("userAdmin@app", "createUser", "app", true),
    ("userAdmin@app", "grantRole", "app", true),
    ("userAdmin@app", "find", "app.c", false),
    // enableSharding: any-normal whatever db it is granted on.
    ("enableSharding@app", "enableSharding", "other", true),
    ("enableSharding@app", "unshardCollection", "other.c", true),
    ("enableSharding@app", "enableSharding", "local", false),
    // readAnyDatabase: any-normal skips local/config; system.js and buckets everywhere.
    ("readAnyDatabase@admin", "find", "x.c", true),
    ("readAnyDatabase@admin", "find", "local.x", false),
    ("readAnyDatabase@admin", "find", "config.x", false),
    ("readAnyDatabase@admin", "find", "x.system.js", true),
    ("readAnyDatabase@admin", "find", "x.system.buckets.t", true),
    ("readAnyDatabase@admin", "find", "x.system.users", false),
    ("readAnyDatabase@admin", "listDatabases", "cluster", true),
    ("readWriteAnyDatabase@admin", "insert", "x.c", true),
    ("readWriteAnyDatabase@admin", "insert", "local.x", false),
    (
        "readWriteAnyDatabase@admin",
        "insert",
        "x.system.buckets.t",
        true,
    ),
    (
        "readWriteAnyDatabase@admin",
        "listDatabases",
        "cluster",
        true,
    ),
    (
        "readWriteAnyDatabase@admin",
        "bypassDocumentValidation",
        "x.c",
        false,
    ),
    // userAdminAnyDatabase: local/config by name, users collections readable.
    ("userAdminAnyDatabase@admin", "createUser", "local", true),
    ("userAdminAnyDatabase@admin", "createUser", "x", true),
    (
        "userAdminAnyDatabase@admin",
        "find",
        "admin.system.users",
        true,
    ),
    ("userAdminAnyDatabase@admin", "find", "x.system.users", true),
    ("userAdminAnyDatabase@admin", "find", "x.c", false),
    (
        "userAdminAnyDatabase@admin",
        "invalidateUserCache",
        "cluster",
        true,
    ),
    ("dbAdminAnyDatabase@admin", "applyOps", "cluster", true),
    ("dbAdminAnyDatabase@admin", "find", "x.system.profile", true),
    (
        "dbAdminAnyDatabase@admin",
        "collMod",
        "x.system.buckets.t",
        true,
    ),
    ("dbAdminAnyDatabase@admin", "find", "x.c", false),
    ("dbAdminAnyDatabase@admin", "dropDatabase", "local", false),
    // clusterMonitor: inherits read@config and read@local.
    ("clusterMonitor@admin", "serverStatus", "cluster", true),
    ("clusterMonitor@admin", "queryStatsRead", "cluster", true),
    ("clusterMonitor@admin", "find", "config.x", true),
    ("clusterMonitor@admin", "find", "local.oplog.rs", true),
    ("clusterMonitor@admin", "find", "local.system.replset", true),
    ("clusterMonitor@admin", "collStats", "x.c", true),
    ("clusterMonitor@admin", "find", "x.c", false),
    ("clusterMonitor@admin", "shutdown", "cluster", false),
    ("hostManager@admin", "shutdown", "cluster", true),
    ("hostManager@admin", "killCursors", "x.c", true),
    ("hostManager@admin", "killCursors", "local.x", false),
    ("hostManager@admin", "find", "x.c", false),
    ("clusterManager@admin", "addShard", "cluster", true),
    ("clusterManager@admin", "insert", "config.x", true),
    ("clusterManager@admin", "find", "config.x", true),
    ("clusterManager@admin", "moveChunk", "x.c", true),
    ("clusterManager@admin", "dbCheck", "x.system.foo", true),
    ("clusterManager@admin", "insert", "x.c", false),
    ("clusterManager@admin", "queryStatsRead", "cluster", false),
    ("clusterAdmin@admin", "dropDatabase", "x", true),
    ("clusterAdmin@admin", "shutdown", "cluster", true),
    ("clusterAdmin@admin", "serverStatus", "cluster", true),
    ("clusterAdmin@admin", "exportCollection", "local.x", true),
    ("clusterAdmin@admin", "find", "x.c", false),
    // backup: find everywhere incl. local/config and users, but no dbHash (JSON notes).
    ("backup@admin", "find", "x.c", true),
    ("backup@admin", "find", "local.x", true),
    ("backup@admin", "find", "config.x", true),
    ("backup@admin", "find", "admin.system.users", true),
    ("backup@admin", "find", "x.system.buckets.t", true),
    ("backup@admin", "dbHash", "x.c", false),
    ("backup@admin", "insert", "config.settings", true),
    ("backup@admin", "listCollections", "local", true),
    ("backup@admin", "serverStatus", "cluster", true),
    ("__queryableBackup@admin", "serverStatus", "cluster", false),
    // restore: writes without find.
    ("restore@admin", "insert", "x.c", true),
    ("restore@admin", "find", "x.c", false),
    ("restore@admin", "bypassDocumentValidation", "x.c", true),
    ("restore@admin", "createUser", "x", true),
    ("restore@admin", "insert", "local.x", true),
    ("restore@admin", "update", "x.system.users", true),
    ("restore@admin", "find", "admin.tempusers", true),
    ("restore@admin", "applyOps", "cluster", true),
    // root: everything built in, but not __system (no anyAction, no internal).
    ("root@admin", "find", "x.c", true),
    ("root@admin", "find", "local.x", true),
    ("root@admin", "insert", "local.x", true),
    ("root@admin", "find", "config.system.preimages", true),
    ("root@admin", "validate", "x.system.foo", true),
    ("root@admin", "find", "x.system.foo", false),
    ("root@admin", "bypassDocumentValidation", "x.c", true),
    ("root@admin", "useTenant", "cluster", true),
    ("root@admin", "issueDirectShardOperations", "cluster", true),
    ("root@admin", "internal", "cluster", false),
    ("root@admin", "anyAction", "cluster", false),
    (
        "directShardOperations@admin",
        "issueDirectShardOperations",
        "cluster",
        true,
    ),
    ("searchCoordinator@admin", "find", "x.c", true),
    (
        "searchCoordinator@admin",
        "insert",
        "__mdb_internal_search.c",
        true,
    ),
    ("searchCoordinator@admin", "insert", "x.c", false),
    (
        "searchCoordinator@admin",
        "bypassDefaultMaxTimeMS",
        "cluster",
        true,
    ),
    // Atlas (builtin_roles.json atlas.builtin_roles / specific_privileges).
    ("atlasAdmin@admin", "insert", "x.c", true),
    ("atlasAdmin@admin", "serverStatus", "cluster", true),
    ("atlasAdmin@admin", "moveChunk", "x.c", true),
    ("atlasAdmin@admin", "autoCompact", "cluster", true),
    ("atlasAdmin@admin", "update", "config.settings", true),
    ("atlasAdmin@admin", "find", "local.x", true),
    ("atlasAdmin@admin", "shutdown", "cluster", false),
    ("atlasAdmin@admin", "createUser", "x", false),
    ("atlasAdmin@admin", "insert", "local.x", false),
    ("Atlas admin@admin", "killAnyCursor", "cluster", true),
    ("Only read any database@admin", "find", "x.c", true),
    ("Only read any database@admin", "insert", "x.c", false),
    ("killOpSession@app", "killop", "cluster", true),
    ("killOpSession@app", "killCursors", "app.c", true),
    ("killOpSession@app", "find", "app.c", false),
    (
        "manageShardBalancer@admin",
        "insert",
        "config.settings",
        true,
    ),
    ("autoCompact@admin", "autoCompact", "cluster", true),
];

#[test]
fn builtin_role_table() {
    let mut failures = Vec::new();
    for &(role, action, resource, want) in CASES {
        if holds(&user(&[role]), action, resource) != want {
            failures.push(format!("{role}: {action} on {resource} should be {want}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every role named by a case resolves, and every built-in appears in some case.
#[test]
fn every_builtin_is_exercised() {
    for r in ALL.iter() {
        let covered = CASES
            .iter()
            .any(|(rr, ..)| rr.split('@').next() == Some(r.name));
        assert!(covered, "no test case for {}", r.name);
    }
}

/// builtin_roles.json `admin_only` (and Atlas `granted_on: admin`).
#[test]
fn grantable_databases_follow_the_json() {
    let any_db = [
        "read",
        "readWrite",
        "userAdmin",
        "dbAdmin",
        "dbOwner",
        "enableSharding",
        "killOpSession",
    ];
    for r in ALL.iter() {
        let expected = if any_db.contains(&r.name) {
            Grantable::AnyDatabase
        } else {
            Grantable::AdminOnly
        };
        assert_eq!(r.grantable, expected, "{}", r.name);
        assert!(r.grantable_on("admin"));
        assert_eq!(
            r.grantable_on("ecommerce"),
            expected == Grantable::AnyDatabase
        );
    }
}

fn depth(role: &BuiltinRole, seen: &mut Vec<&'static str>) -> usize {
    assert!(!seen.contains(&role.name), "cycle through {}", role.name);
    seen.push(role.name);
    let mut d = 0;
    for (name, _) in role.inherits {
        let Some(parent) = lookup(name) else {
            panic!("{} inherits unknown {name}", role.name)
        };
        d = d.max(1 + depth(parent, seen));
    }
    seen.pop();
    d
}

#[test]
fn inheritance_is_acyclic_and_within_the_expansion_bound() {
    for r in ALL.iter() {
        assert!(
            depth(r, &mut Vec::new()) <= usize::from(MAX_BUILTIN_DEPTH),
            "{}",
            r.name
        );
    }
    assert_eq!(depth(&mongod::ROOT, &mut Vec::new()), 3);
}

#[test]
fn names_are_unique_and_aliases_resolve() {
    for (i, r) in ALL.iter().enumerate() {
        assert!(
            ALL.iter().skip(i + 1).all(|o| o.name != r.name),
            "{}",
            r.name
        );
    }
    assert_eq!(
        lookup_or_alias("Atlas admin").map(|r| r.name),
        Some("atlasAdmin")
    );
    assert_eq!(lookup("Atlas admin").map(|r| r.name), None);
    assert!(
        lookup("Read").is_none(),
        "lookup is case-sensitive like mongod"
    );
}

#[test]
fn granting_rules_are_enforced() {
    let err = |r: &str| match RoleCatalog::default().resolve(&[RoleRef::Name(r.into())]) {
        Err(RoleError::InUser { index: 0, problem }) => problem,
        other => panic!("{r}: expected an error, got {other:?}"),
    };
    let admin_only = |role: &str, db: &str| Problem::AdminOnly {
        role: role.into(),
        db: db.into(),
    };
    assert_eq!(err("root@ecommerce"), admin_only("root", "ecommerce"));
    assert_eq!(err("backup@app"), admin_only("backup", "app"));
    assert_eq!(err("atlasAdmin@app"), admin_only("atlasAdmin", "app"));
    assert_eq!(err("read"), Problem::MissingDb("read".into()));
    assert_eq!(err("reed@app"), Problem::UnknownRole("reed".into()));
    assert_eq!(
        err("dbAdmin@app.c"),
        Problem::NotNarrowable("dbAdmin".into())
    );
    assert_eq!(
        err("read@app.system.users"),
        Problem::SystemCollection("system.users".into())
    );
    // An admin-only role can be named without its database.
    assert!(holds(&user(&["root"]), "shutdown", "cluster"));
    assert_eq!(
        user(&["root"]).role_names(),
        vec![("root".into(), "admin".into())]
    );
}
