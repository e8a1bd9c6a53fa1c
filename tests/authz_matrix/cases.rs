//! Hand-written cases for the rules a single-requirement row cannot show. Each row:
//! (roles, command, $db, allowed?, source in ../shared/authz). Denied means code 13.

use super::{catalog, run, user};

type Case = (
    &'static [&'static str],
    &'static str,
    &'static str,
    bool,
    &'static str,
);

const A: bool = true;
const D: bool = false;

#[rustfmt::skip]
const CASES: &[Case] = &[
    // --- pipelines: aggregation_stages.* and commands.aggregate notes ---
    (&["read@test"], r#"{"aggregate":"c","pipeline":[{"$match":{"a":1}}],"cursor":{}}"#, "test", A, "commands.aggregate: implicit find on ns"),
    (&["read@test.c"], r#"{"aggregate":"c","pipeline":[],"cursor":{}}"#, "test", A, "commands.aggregate: empty pipeline = find"),
    (&["read@test.c"], r#"{"aggregate":"c","pipeline":[{"$lookup":{"from":"d","localField":"a","foreignField":"b","as":"x"}}],"cursor":{}}"#, "test", D, "aggregation_stages.$lookup: find on <$db>.<from>"),
    (&["read@test"], r#"{"aggregate":"c","pipeline":[{"$lookup":{"from":"d","localField":"a","foreignField":"b","as":"x"}}],"cursor":{}}"#, "test", A, "aggregation_stages.$lookup"),
    (&["read@test.c", "read@test.d"], r#"{"aggregate":"c","pipeline":[{"$unionWith":{"coll":"d","pipeline":[{"$lookup":{"from":"e","pipeline":[],"as":"x"}}]}}],"cursor":{}}"#, "test", D, "$unionWith sub-pipeline: nested $lookup needs find on test.e"),
    (&["read@test.c", "read@test.d", "read@test.e"], r#"{"aggregate":"c","pipeline":[{"$unionWith":{"coll":"d","pipeline":[{"$lookup":{"from":"e","pipeline":[],"as":"x"}}]}}],"cursor":{}}"#, "test", A, "$unionWith + nested $lookup, all readable"),
    (&["read@test.c"], r#"{"aggregate":"c","pipeline":[{"$facet":{"a":[{"$match":{}}],"b":[{"$graphLookup":{"from":"g","startWith":"$x","connectFromField":"x","connectToField":"y","as":"z"}}]}}],"cursor":{}}"#, "test", D, "$facet recursion: $graphLookup find on test.g"),
    (&["read@test"], r#"{"aggregate":"c","pipeline":[{"$facet":{"b":[{"$graphLookup":{"from":"g","startWith":"$x","connectFromField":"x","connectToField":"y","as":"z"}}]}}],"cursor":{}}"#, "test", A, "$facet + $graphLookup"),
    (&["read@test"], r#"{"aggregate":"c","pipeline":[{"$out":"o"}],"cursor":{}}"#, "test", D, "aggregation_stages.$out: insert+remove on target"),
    (&["readWrite@test"], r#"{"aggregate":"c","pipeline":[{"$out":"o"}],"cursor":{}}"#, "test", A, "$out: readWrite@db satisfies same-db targets"),
    (&["readWrite@test"], r#"{"aggregate":"c","pipeline":[{"$out":{"db":"other","coll":"o"}}],"cursor":{}}"#, "test", D, "$out: a different-db target needs rights there too"),
    (&["readWrite@test", "readWrite@other"], r#"{"aggregate":"c","pipeline":[{"$out":{"db":"other","coll":"o"}}],"cursor":{}}"#, "test", A, "$out other db with rights there (privilege_union)"),
    (&["readWrite@test"], r#"{"aggregate":"c","pipeline":[{"$out":"o"}],"cursor":{},"bypassDocumentValidation":true}"#, "test", D, "$out + bypassDocumentValidation: readWrite lacks it"),
    (&["read@test", "readWrite@test.m"], r#"{"aggregate":"c","pipeline":[{"$merge":{"into":"m","whenMatched":"fail","whenNotMatched":"insert"}}],"cursor":{}}"#, "test", A, "$merge insert/fail -> insert"),
    (&["read@test", "insertOnly"], r#"{"aggregate":"d","pipeline":[{"$merge":{"into":"c"}}],"cursor":{}}"#, "test", D, "$merge defaults -> insert + update"),
    (&["read@test", "insertOnly"], r#"{"aggregate":"d","pipeline":[{"$merge":{"into":"c","whenMatched":"fail"}}],"cursor":{}}"#, "test", A, "$merge whenMatched fail + insert -> insert only"),
    (&["dbAdmin@test"], r#"{"aggregate":"c","pipeline":[{"$collStats":{"count":{}}}],"cursor":{}}"#, "test", A, "$collStats: no find needed"),
    (&["read@test"], r#"{"aggregate":"c","pipeline":[{"$indexStats":{}}],"cursor":{}}"#, "test", D, "$indexStats: read roles cannot"),
    (&["clusterMonitor@admin"], r#"{"aggregate":"c","pipeline":[{"$indexStats":{}}],"cursor":{}}"#, "test", A, "$indexStats: clusterMonitor"),
    (&["read@test"], r#"{"aggregate":1,"pipeline":[{"$documents":[{"a":1}]}],"cursor":{}}"#, "test", A, "$documents: any authenticated user"),
    (&["read@test.c"], r#"{"aggregate":1,"pipeline":[{"$documents":[{"a":1}]},{"$lookup":{"from":"d","localField":"a","foreignField":"b","as":"x"}}],"cursor":{}}"#, "test", D, "$documents then $lookup still needs find"),
    (&["read@test"], r#"{"aggregate":"c","pipeline":[{"$noSuchStage":{}}],"cursor":{}}"#, "test", D, "unknown stages fail closed (issue 5)"),
    // --- explain: commands.explain ---
    (&["read@test"], r#"{"explain":{"find":"c","filter":{}},"verbosity":"queryPlanner"}"#, "test", A, "explain = wrapped find"),
    (&["read@test"], r#"{"explain":{"delete":"c","deletes":[{"q":{},"limit":0}]}}"#, "test", D, "explain of a write needs the write privilege"),
    (&["readWrite@test"], r#"{"explain":{"delete":"c","deletes":[{"q":{},"limit":0}]}}"#, "test", A, "explain of delete with remove"),
    (&["read@test.c"], r#"{"explain":{"aggregate":"c","pipeline":[{"$lookup":{"from":"d","localField":"a","foreignField":"b","as":"x"}}],"cursor":{}}}"#, "test", D, "explain of aggregate carries $lookup"),
    (&["read@test"], r#"{"explain":{"update":"c","updates":[{"q":{},"u":{"$set":{"a":1}}}]}}"#, "test", D, "explain of update"),
    // --- bulkWrite: commands.bulkWrite ---
    (&["readWrite@test"], r#"{"bulkWrite":1,"ops":[{"insert":0,"document":{"a":1}},{"delete":1,"filter":{},"multi":false}],"nsInfo":[{"ns":"test.c"},{"ns":"other.d"}]}"#, "admin", D, "bulkWrite: every nsInfo entry used by an op"),
    (&["readWrite@test", "readWrite@other"], r#"{"bulkWrite":1,"ops":[{"insert":0,"document":{"a":1}},{"delete":1,"filter":{},"multi":false}],"nsInfo":[{"ns":"test.c"},{"ns":"other.d"}]}"#, "admin", A, "bulkWrite across dbs with rights on both"),
    (&["readWrite@test"], r#"{"bulkWrite":1,"ops":[{"insert":0,"document":{"a":1}}],"nsInfo":[{"ns":"test.c"},{"ns":"other.d"}]}"#, "admin", A, "bulkWrite: unreferenced nsInfo needs nothing"),
    (&["readWrite@test"], r#"{"bulkWrite":1,"ops":[{"insert":0,"document":{"a":1}}],"nsInfo":[{"ns":"test.c"},{"ns":"other.d"}],"bypassDocumentValidation":true}"#, "admin", D, "bulkWrite bypass: every nsInfo entry"),
    (&["read@test", "insertOnly"], r#"{"bulkWrite":1,"ops":[{"update":0,"filter":{},"updateMods":{"$set":{"a":1}},"upsert":true}],"nsInfo":[{"ns":"test.c"}]}"#, "admin", D, "bulkWrite upsert: update + insert"),
    (&["root@admin"], r#"{"bulkWrite":1,"ops":[{"insert":0,"document":{"a":1}}],"nsInfo":[{"ns":"test.c"}]}"#, "test", D, "bulkWrite is admin_only: 13 for root elsewhere"),
    // --- system collections: general_rules.system_collections ---
    (&["read@test"], r#"{"find":"system.users"}"#, "test", D, "system.* not matched by db grants"),
    (&["readAnyDatabase@admin"], r#"{"find":"system.profile"}"#, "test", D, "system.* not matched by any-normal"),
    (&["read@test"], r#"{"find":"system.js"}"#, "test", A, "read grants test.system.js explicitly"),
    (&["dbAdmin@test"], r#"{"find":"system.profile"}"#, "test", A, "dbAdmin: system.profile"),
    (&["profileReader"], r#"{"find":"system.profile"}"#, "test", A, "exact-namespace grant reaches a system collection"),
    (&["readWriteAnyDatabase@admin"], r#"{"insert":"system.users","documents":[{}]}"#, "admin", D, "insert_system_users"),
    (&["userAdminAnyDatabase@admin"], r#"{"find":"system.users"}"#, "admin", A, "userAdminAnyDatabase: admin.system.users"),
    (&["readAnyDatabase@admin"], r#"{"find":"oplog.rs"}"#, "local", D, "any-normal excludes local (find_local_*)"),
    (&["clusterMonitor@admin"], r#"{"find":"oplog.rs"}"#, "local", A, "clusterMonitor inherits read@local"),
    (&["readAnyDatabase@admin"], r#"{"find":"changelog"}"#, "config", D, "any-normal excludes config (find_config_changelog)"),
    // --- conditional privileges ---
    (&["readWrite@test"], r#"{"insert":"c","documents":[{"a":1}],"bypassDocumentValidation":true}"#, "test", D, "bypass_document_validation: readWrite lacks it"),
    (&["dbOwner@test"], r#"{"insert":"c","documents":[{"a":1}],"bypassDocumentValidation":true}"#, "test", A, "bypass_document_validation: dbOwner has it"),
    (&["read@test", "insertOnly"], r#"{"update":"c","updates":[{"q":{},"u":{"$set":{"a":1}},"upsert":true}]}"#, "test", D, "commands.update: upsert adds insert (needs update too)"),
    (&["readWrite@test"], r#"{"find":{"$binary":{"base64":"AAAAAAAAAAAAAAAAAAAAAA==","subType":"04"}}}"#, "test", D, "uuid_namespaces: useUUID on cluster"),
    (&["read@test"], r#"{"find":"c","filter":{},"lsid":{"id":{"$binary":{"base64":"AAAAAAAAAAAAAAAAAAAAAA==","subType":"04"}}},"txnNumber":{"$numberLong":"1"},"readConcern":{"level":"majority"},"$readPreference":{"mode":"primary"},"comment":"x","maxTimeMS":10,"apiVersion":"1"}"#, "test", A, "generic_fields need nothing"),
    // --- create / renameCollection alternatives ---
    (&["insertOnly"], r#"{"create":"c"}"#, "test", A, "commands.create: createCollection OR insert"),
    (&["insertOnly"], r#"{"create":"c","viewOn":"d","pipeline":[]}"#, "test", D, "commands.create view: insert is NOT enough"),
    (&["readWrite@test"], r#"{"renameCollection":"test.a","to":"test.b"}"#, "admin", A, "renameCollection same-db fast path"),
    (&["readWrite@test"], r#"{"renameCollection":"test.a","to":"other.b"}"#, "admin", D, "renameCollection cross-db: target rights"),
    (&["readWriteAnyDatabase@admin"], r#"{"renameCollection":"test.a","to":"other.b"}"#, "admin", A, "renameCollection cross-db: readWriteAnyDatabase"),
    // --- custom roles and inheritance: builtin_roles _meta.matching_rules (transitive) ---
    (&["dailySalesReader"], r#"{"find":"daily_sales"}"#, "reporting", A, "issue 5 example role"),
    (&["dailySalesReader"], r#"{"find":"other"}"#, "reporting", D, "custom role: exact namespace only"),
    (&["dailySalesReader"], r#"{"insert":"daily_sales","documents":[{}]}"#, "reporting", D, "custom role: find only"),
    (&["dailySalesReader"], r#"{"listCollections":1}"#, "reporting", A, "custom role: db-level listCollections"),
    (&["dailySalesReader"], r#"{"serverStatus":1}"#, "admin", A, "custom role: cluster serverStatus"),
    (&["dailySalesReader"], r#"{"find":"anything"}"#, "archive", A, "inherited read@archive"),
    (&["chain"], r#"{"insert":"orders","documents":[{}]}"#, "shop", A, "chain -> shopAuditor -> ordersWriter"),
    (&["chain"], r#"{"find":"anything"}"#, "archive", A, "chain -> shopAuditor -> dailySalesReader -> read@archive"),
    (&["chain"], r#"{"delete":"orders","deletes":[{"q":{},"limit":0}]}"#, "shop", D, "no role grants remove"),
    (&["everyOrders"], r#"{"find":"orders"}"#, "anydb", A, "{db:'', collection:'orders'}: in every database"),
    (&["everyOrders"], r#"{"find":"orders2"}"#, "anydb", D, "collection-name grant is exact"),
    // --- role@db.collection narrowing (Atlas) ---
    (&["readWrite@app.orders"], r#"{"insert":"orders","documents":[{}]}"#, "app", A, "narrowed readWrite: its collection"),
    (&["readWrite@app.orders"], r#"{"insert":"other","documents":[{}]}"#, "app", D, "narrowed readWrite: other collection"),
    (&["readWrite@app.orders"], r#"{"dropDatabase":1}"#, "app", D, "narrowed readWrite: no database actions beyond readWrite"),
    (&["read@reporting.daily_sales"], r#"{"find":"daily_sales"}"#, "reporting", A, "narrowed read"),
    (&["read@reporting.daily_sales"], r#"{"find":"other"}"#, "reporting", D, "narrowed read: other collection"),
    (&["read@reporting.daily_sales"], r#"{"find":"daily_sales"}"#, "other", D, "narrowed read: other database"),
    // --- what the proxy refuses or answers itself ---
    (&["root@admin"], r#"{"createUser":"x","pwd":"p","roles":[]}"#, "admin", D, "user management refused (issue 5)"),
    (&["root@admin"], r#"{"grantRolesToUser":"x","roles":["read"]}"#, "test", D, "user management refused"),
    (&["read@test"], r#"{"usersInfo":"tester"}"#, "admin", A, "usersInfo: own user without viewUser"),
    (&["read@test"], r#"{"usersInfo":"someoneElse"}"#, "admin", D, "usersInfo: others need viewUser"),
    (&["userAdmin@test"], r#"{"usersInfo":1}"#, "test", A, "usersInfo: viewUser on the db"),
    (&["read@test"], r#"{"currentOp":1}"#, "admin", D, "currentOp without $ownOps: inprog"),
    (&["read@test"], r#"{"currentOp":1,"$ownOps":true}"#, "admin", D, "currentOp $ownOps: inprog through the shared identity (docs/authorization.md)"),
    (&["clusterMonitor@admin"], r#"{"currentOp":1}"#, "admin", A, "currentOp: clusterMonitor has inprog"),
    (&["read@test"], r#"{"killOp":1,"op":12}"#, "admin", D, "killOp: killop (ownership is not provable through the shared identity)"),
    (&["hostManager@admin"], r#"{"killOp":1,"op":12}"#, "admin", A, "killOp: hostManager has killop"),
    (&["read@test"], r#"{"noSuchCommand":1}"#, "test", D, "unknown commands fail closed"),
];

#[test]
fn hand_written_cases() {
    let cat = catalog();
    let mut wrong = Vec::new();
    for (roles, cmd, db, want, source) in CASES {
        let u = user(&cat, roles);
        let got = run(&u, cmd, db);
        let ok = match &got {
            Ok(()) => *want,
            // Unknown commands/stages keep their own codes (59, 40324); all else is 13.
            Err((code, _)) => !*want && (*code == 13 || cmd.contains("noSuch")),
        };
        if !ok {
            wrong.push(format!(
                "{roles:?} {cmd} on {db} [{source}]: want {want}, got {got:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn denials_never_echo_document_contents() {
    let cat = catalog();
    let u = user(&cat, &["read@test"]);
    let (code, msg) = run(
        &u,
        r#"{"insert":"c","documents":[{"secret":"hunter2-XYZ"}]}"#,
        "test",
    )
    .expect_err("read cannot insert");
    assert_eq!(code, 13);
    assert_eq!(
        msg,
        "not authorized on test to execute command insert on test.c"
    );
}
