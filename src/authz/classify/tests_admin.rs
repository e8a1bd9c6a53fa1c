//! Catalog, cursor, session, user-management and admin commands whose formulas are not a
//! plain conjunction.

use bson::rawdoc;

use super::tests::{all, cl, err, formula, nsr, req};
use super::*;
use crate::authz::actions::*;
use crate::authz::model::{ActionSet, Formula, Requirement, Resource};

fn lacks(resource: Resource<'static>, a: crate::authz::model::Action) -> Formula<'static> {
    Formula::Lacks(Requirement {
        resource,
        actions: ActionSet::of(&[a]),
    })
}

#[test]
fn rename_same_db_has_fast_path_and_general_rule() {
    // commands.json renameCollection alternatives.
    let b = rawdoc! {"renameCollection": "d.a", "to": "d.b", "$db": "admin"};
    let c = cl(&b).unwrap();
    assert_eq!(c.target, "d.a");
    let general = all(vec![
        req(nsr("d", "a"), &[FIND, DROP_COLLECTION]),
        req(nsr("d", "b"), &[INSERT, CREATE_INDEX]),
    ]);
    let fast = Formula::And(vec![
        all(vec![req(
            Resource::Database("d"),
            &[RENAME_COLLECTION_SAME_DB],
        )]),
        Formula::Or(vec![
            all(vec![req(nsr("d", "a"), &[FIND])]),
            lacks(nsr("d", "b"), FIND),
        ]),
    ]);
    assert_eq!(c.formula, Formula::Or(vec![fast, general]));
}

#[test]
fn rename_drop_target_adds_drop_collection_on_both_paths() {
    let b = rawdoc! {"renameCollection": "d.a", "to": "d.b", "dropTarget": true, "$db": "admin"};
    let general = all(vec![
        req(nsr("d", "a"), &[FIND, DROP_COLLECTION]),
        req(nsr("d", "b"), &[INSERT, CREATE_INDEX, DROP_COLLECTION]),
    ]);
    let fast = Formula::And(vec![
        all(vec![
            req(Resource::Database("d"), &[RENAME_COLLECTION_SAME_DB]),
            req(nsr("d", "b"), &[DROP_COLLECTION]),
        ]),
        Formula::Or(vec![
            all(vec![req(nsr("d", "a"), &[FIND])]),
            lacks(nsr("d", "b"), FIND),
        ]),
    ]);
    assert_eq!(formula(&b), Formula::Or(vec![fast, general]));
}

#[test]
fn rename_cross_db_or_system_uses_general_rule_only() {
    let general = |sd, sc, td, tc| {
        all(vec![
            req(nsr(sd, sc), &[FIND, DROP_COLLECTION]),
            req(nsr(td, tc), &[INSERT, CREATE_INDEX]),
        ])
    };
    let b = rawdoc! {"renameCollection": "d.a", "to": "e.b", "$db": "admin"};
    assert_eq!(formula(&b), general("d", "a", "e", "b"));
    let b = rawdoc! {"renameCollection": "d.system.js", "to": "d.b", "$db": "admin"};
    assert_eq!(formula(&b), general("d", "system.js", "d", "b"));
    let b = rawdoc! {"renameCollection": "local.a", "to": "local.replset.x", "$db": "admin"};
    assert_eq!(formula(&b), general("local", "a", "local", "replset.x"));
    assert_eq!(
        err(&rawdoc! {"renameCollection": "nodot", "to": "d.b", "$db": "admin"}).code(),
        73
    );
    assert_eq!(
        err(&rawdoc! {"renameCollection": "d.a", "$db": "admin"}).code(),
        9
    );
    assert_eq!(
        err(&rawdoc! {"renameCollection": "d.a", "to": 1, "$db": "admin"}).code(),
        14
    );
}

#[test]
fn create_collection_vs_view() {
    // commands.json create alternatives.
    let b = rawdoc! {"create": "c", "$db": "d"};
    assert_eq!(
        formula(&b),
        Formula::Or(vec![
            all(vec![req(nsr("d", "c"), &[CREATE_COLLECTION])]),
            all(vec![req(nsr("d", "c"), &[INSERT])])
        ])
    );
    let b = rawdoc! {"create": "c", "capped": true, "size": 1000, "$db": "d"};
    assert_eq!(
        formula(&b),
        Formula::And(vec![
            Formula::Or(vec![
                all(vec![req(nsr("d", "c"), &[CREATE_COLLECTION])]),
                all(vec![req(nsr("d", "c"), &[INSERT])])
            ]),
            all(vec![req(nsr("d", "c"), &[CONVERT_TO_CAPPED])])
        ])
    );
    let b = rawdoc! {"create": "v", "viewOn": "src", "pipeline": [{"$lookup": {"from": "o", "as": "x", "localField": "a", "foreignField": "b"}}], "$db": "d"};
    assert_eq!(
        formula(&b),
        Formula::And(vec![
            all(vec![req(nsr("d", "v"), &[CREATE_COLLECTION])]),
            Formula::Or(vec![
                lacks(nsr("d", "v"), FIND),
                all(vec![
                    req(nsr("d", "src"), &[FIND]),
                    req(nsr("d", "o"), &[FIND])
                ])
            ])
        ])
    );
    assert_eq!(
        err(&rawdoc! {"create": "v", "viewOn": 1, "$db": "d"}).code(),
        14
    );
    assert_eq!(
        err(&rawdoc! {"create": "v", "viewOn": "s", "pipeline": [{"$bad": 1}], "$db": "d"}).code(),
        40324
    );
}

#[test]
fn coll_mod_view_definition() {
    // commands.json collMod conditional and notes.
    let b = rawdoc! {"collMod": "c", "validator": {}, "$db": "d"};
    assert_eq!(formula(&b), all(vec![req(nsr("d", "c"), &[COLL_MOD])]));
    let b = rawdoc! {"collMod": "v", "viewOn": "s", "pipeline": [], "$db": "d"};
    assert_eq!(
        formula(&b),
        Formula::And(vec![
            all(vec![req(nsr("d", "v"), &[COLL_MOD])]),
            Formula::Or(vec![
                lacks(nsr("d", "v"), FIND),
                all(vec![req(nsr("d", "s"), &[FIND])])
            ])
        ])
    );
    assert_eq!(
        err(&rawdoc! {"collMod": "v", "viewOn": "s", "$db": "d"}).code(),
        2
    );
}

#[test]
fn list_collections_and_databases() {
    // commands.json listCollections alternatives; listDatabases conditional.
    let b = rawdoc! {"listCollections": 1, "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(
        c.formula,
        all(vec![req(Resource::Database("d"), &[LIST_COLLECTIONS])])
    );
    assert_eq!(c.kind, Kind::ListCollections { filter: false });
    let b = rawdoc! {"listCollections": 1, "nameOnly": true, "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.kind, Kind::ListCollections { filter: false });
    let b =
        rawdoc! {"listCollections": 1, "nameOnly": true, "authorizedCollections": true, "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.formula, Formula::Authenticated);
    assert_eq!(c.kind, Kind::ListCollections { filter: true });

    let b = rawdoc! {"listDatabases": 1, "$db": "admin"};
    let c = cl(&b).unwrap();
    assert_eq!(c.formula, Formula::Authenticated);
    assert_eq!(c.kind, Kind::ListDatabases { filter: true });
    let b = rawdoc! {"listDatabases": 1, "authorizedDatabases": true, "$db": "admin"};
    let c = cl(&b).unwrap();
    assert_eq!(c.kind, Kind::ListDatabases { filter: true });
    let b = rawdoc! {"listDatabases": 1, "authorizedDatabases": false, "$db": "admin"};
    let c = cl(&b).unwrap();
    assert_eq!(
        c.formula,
        all(vec![req(Resource::Cluster, &[LIST_DATABASES])])
    );
    assert_eq!(c.kind, Kind::ListDatabases { filter: false });
}

#[test]
fn current_op_kill_op_and_sessions_always_need_the_cluster_action() {
    // Shared upstream identity: $ownOps / own sessions / own ops are not enforceable.
    let b = rawdoc! {"currentOp": 1, "$ownOps": true, "$db": "admin"};
    let c = cl(&b).unwrap();
    assert_eq!(c.formula, all(vec![req(Resource::Cluster, &[INPROG])]));
    let b = rawdoc! {"killOp": 1, "op": 12, "$db": "admin"};
    let c = cl(&b).unwrap();
    assert_eq!(c.formula, all(vec![req(Resource::Cluster, &[KILLOP])]));
    for name in [
        "killSessions",
        "killAllSessions",
        "killAllSessionsByPattern",
    ] {
        let mut b = bson::RawDocumentBuf::new();
        b.append(name, bson::RawArrayBuf::new());
        b.append("$db", "admin");
        let c = cl(&b).unwrap();
        assert_eq!(
            c.formula,
            all(vec![req(Resource::Cluster, &[KILL_ANY_SESSION])])
        );
        assert_eq!(c.kind, Kind::KillSessions);
    }
    let b = rawdoc! {"commitTransaction": 1, "$db": "admin"};
    let c = cl(&b).unwrap();
    assert_eq!(
        (c.formula, c.kind),
        (Formula::Authenticated, Kind::Transaction)
    );
}

#[test]
fn get_more_and_kill_cursors_defer_to_the_session() {
    // commands.json getMore / killCursors notes.
    let b = rawdoc! {"getMore": 42_i64, "collection": "c", "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.formula, Formula::Authenticated);
    assert_eq!(
        c.kind,
        Kind::GetMore {
            cursor_id: 42,
            coll: "c"
        }
    );
    assert_eq!(c.target, "d.c");
    let b = rawdoc! {"getMore": 42_i64, "collection": "c", "term": 1, "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.formula, all(vec![req(Resource::Cluster, &[INTERNAL])]));
    // Cursors of collection-less commands live on "$cmd.*" pseudo-collections.
    let b = rawdoc! {"getMore": 7_i64, "collection": "$cmd.listCollections", "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(
        c.kind,
        Kind::GetMore {
            cursor_id: 7,
            coll: "$cmd.listCollections"
        }
    );
    let b = rawdoc! {"killCursors": "$cmd.aggregate", "cursors": [7_i64], "$db": "d"};
    assert_eq!(cl(&b).unwrap().target, "d.$cmd.aggregate");
    for bad in ["$cmd.", "$x", "$cmd.a$b"] {
        assert_eq!(
            err(&rawdoc! {"getMore": 1_i64, "collection": bad, "$db": "d"}).code(),
            73
        );
    }
    assert_eq!(
        err(&rawdoc! {"getMore": "x", "collection": "c", "$db": "d"}).code(),
        14
    );
    assert_eq!(err(&rawdoc! {"getMore": 1_i64, "$db": "d"}).code(), 9);
    let b = rawdoc! {"killCursors": "c", "cursors": [1_i64, 2_i64], "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.formula, Formula::Authenticated);
    assert_eq!(
        c.kind,
        Kind::KillCursors {
            coll: "c",
            cursor_ids: vec![1, 2]
        }
    );
    assert_eq!(
        err(&rawdoc! {"killCursors": "c", "cursors": ["x"], "$db": "d"}).code(),
        14
    );
}

#[test]
fn user_management_is_refused_but_keeps_mongod_formulas() {
    // commands.json createUser / updateUser / createRole / updateRole.
    let b = rawdoc! {"createUser": "u", "pwd": "p", "roles": ["read", {"role": "readWrite", "db": "o"}], "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.kind, Kind::UserManagement);
    assert_eq!(
        c.formula,
        all(vec![
            req(Resource::Database("d"), &[CREATE_USER, GRANT_ROLE]),
            req(Resource::Database("o"), &[GRANT_ROLE])
        ])
    );
    let b = rawdoc! {"updateUser": "u", "pwd": "p", "customData": {}, "roles": [], "authenticationRestrictions": [], "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(
                Resource::Database("d"),
                &[
                    CHANGE_PASSWORD,
                    CHANGE_CUSTOM_DATA,
                    SET_AUTHENTICATION_RESTRICTION
                ]
            ),
            req(Resource::AnyNormal, &[REVOKE_ROLE]),
        ])
    );
}

#[test]
fn role_management_formulas() {
    let b = rawdoc! {"createRole": "r", "privileges": [{"resource": {"db": "x", "collection": ""}, "actions": ["find"]},
    {"resource": {"cluster": true}, "actions": ["inprog"]}], "roles": [], "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(Resource::Database("d"), &[CREATE_ROLE]),
            req(Resource::Database("x"), &[GRANT_ROLE]),
            req(Resource::Database("admin"), &[GRANT_ROLE]),
        ])
    );
    let b = rawdoc! {"updateRole": "r", "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::AnyNormal, &[REVOKE_ROLE])])
    );
    for (name, a) in [
        ("dropUser", DROP_USER),
        ("dropAllUsersFromDatabase", DROP_USER),
        ("dropRole", DROP_ROLE),
        ("dropAllRolesFromDatabase", DROP_ROLE),
    ] {
        let mut b = bson::RawDocumentBuf::new();
        b.append(name, "x");
        b.append("$db", "d");
        let c = cl(&b).unwrap();
        assert_eq!(c.formula, all(vec![req(Resource::Database("d"), &[a])]));
        assert_eq!(c.kind, Kind::UserManagement);
    }
    let b = rawdoc! {"revokeRolesFromUser": "u", "roles": [{"role": "r", "db": "z"}], "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::Database("z"), &[REVOKE_ROLE])])
    );
    let b = rawdoc! {"revokePrivilegesFromRole": "r", "privileges": [{"resource": {"db": "", "collection": ""}, "actions": ["find"]}], "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![req(Resource::Database("admin"), &[REVOKE_ROLE])])
    );
    assert_eq!(
        err(&rawdoc! {"grantRolesToUser": "u", "roles": [1], "$db": "d"}).code(),
        14
    );
}

#[test]
fn users_info_and_roles_info() {
    // commands.json usersInfo / rolesInfo alternatives.
    let b = rawdoc! {"usersInfo": 1, "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.kind, Kind::UsersInfo);
    assert_eq!(
        c.formula,
        all(vec![req(Resource::Database("d"), &[VIEW_USER])])
    );
    let b = rawdoc! {"usersInfo": {"forAllDBs": true}, "$db": "admin"};
    assert_eq!(formula(&b), all(vec![req(Resource::Cluster, &[VIEW_USER])]));
    let b = rawdoc! {"usersInfo": [{"user": "a", "db": "x"}, "b"], "$db": "d"};
    assert_eq!(
        formula(&b),
        all(vec![
            req(Resource::Database("x"), &[VIEW_USER]),
            req(Resource::Database("d"), &[VIEW_USER])
        ])
    );
    let b = rawdoc! {"rolesInfo": {"role": "r", "db": "x"}, "$db": "d"};
    let c = cl(&b).unwrap();
    assert_eq!(c.kind, Kind::RolesInfo);
    assert_eq!(
        c.formula,
        all(vec![req(Resource::Database("x"), &[VIEW_ROLE])])
    );
}

#[test]
fn field_dependent_admin_commands() {
    // commands.json profile alternatives.
    assert_eq!(
        formula(&rawdoc! {"profile": -1, "$db": "d"}),
        all(vec![req(nsr("d", "system.profile"), &[FIND])])
    );
    assert_eq!(
        formula(&rawdoc! {"profile": -1, "slowms": 5, "$db": "d"}),
        all(vec![req(Resource::Database("d"), &[ENABLE_PROFILER])])
    );
    assert_eq!(
        formula(&rawdoc! {"profile": 1, "$db": "d"}),
        all(vec![req(Resource::Database("d"), &[ENABLE_PROFILER])])
    );
    // validateDBMetadata.
    assert_eq!(
        formula(&rawdoc! {"validateDBMetadata": 1, "db": "x", "apiParameters": {}, "$db": "d"}),
        all(vec![req(Resource::Database("x"), &[VALIDATE])])
    );
    assert_eq!(
        formula(&rawdoc! {"validateDBMetadata": 1, "$db": "d"}),
        all(vec![req(Resource::AnyNormal, &[VALIDATE])])
    );
    // features.
    assert_eq!(
        formula(&rawdoc! {"features": 1, "$db": "d"}),
        Formula::Authenticated
    );
    assert_eq!(
        formula(&rawdoc! {"features": 1, "oidReset": true, "$db": "d"}),
        all(vec![req(Resource::Cluster, &[OID_RESET])])
    );
}

#[test]
fn sharding_and_check_commands() {
    // dbCheck on a collection or the database.
    assert_eq!(
        formula(&rawdoc! {"dbCheck": "c", "$db": "d"}),
        all(vec![req(nsr("d", "c"), &[DB_CHECK])])
    );
    assert_eq!(
        formula(&rawdoc! {"dbCheck": 1, "$db": "d"}),
        all(vec![req(Resource::Database("d"), &[DB_CHECK])])
    );
    // getShardVersion, mergeChunks (mongod form with epoch is internal).
    assert_eq!(
        formula(&rawdoc! {"getShardVersion": "d.c", "$db": "admin"}),
        all(vec![req(nsr("d", "c"), &[GET_SHARD_VERSION])])
    );
    assert_eq!(
        formula(&rawdoc! {"getShardVersion": "d", "$db": "admin"}),
        all(vec![req(Resource::Database("d"), &[GET_SHARD_VERSION])])
    );
    assert_eq!(
        formula(&rawdoc! {"mergeChunks": "d.c", "bounds": [], "$db": "admin"}),
        all(vec![req(nsr("d", "c"), &[SPLIT_CHUNK])])
    );
    assert_eq!(
        formula(
            &rawdoc! {"mergeChunks": "d.c", "epoch": bson::oid::ObjectId::new(), "$db": "admin"}
        ),
        all(vec![
            req(nsr("d", "c"), &[SPLIT_CHUNK]),
            req(Resource::Cluster, &[INTERNAL])
        ])
    );
    // cloneCollectionAsCapped.
    assert_eq!(
        formula(
            &rawdoc! {"cloneCollectionAsCapped": "a", "toCollection": "b", "size": 10, "$db": "d"}
        ),
        all(vec![
            req(nsr("d", "a"), &[FIND]),
            req(nsr("d", "b"), &[INSERT, CREATE_INDEX, CONVERT_TO_CAPPED])
        ])
    );
}
