//! Custom roles, inheritance, narrowing, validation errors and the "any privilege in
//! this db" test (commands.json listCollections notes).

use super::*;
use crate::authz::actions::{self, FIND, INSERT};
use crate::authz::model::ActionSet;
use crate::authz::role_config::{RoleConfig, RoleRef};

#[derive(serde::Deserialize)]
struct Doc {
    #[serde(default)]
    roles: Vec<RoleConfig>,
}

fn catalog(toml_text: &str) -> Result<RoleCatalog, RoleError> {
    let doc: Doc = match toml::from_str(toml_text) {
        Ok(d) => d,
        Err(e) => panic!("bad test TOML: {e}"),
    };
    RoleCatalog::build(&doc.roles)
}

fn ok_catalog(toml_text: &str) -> RoleCatalog {
    match catalog(toml_text) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn refs(list: &[&str]) -> Vec<RoleRef> {
    list.iter().map(|r| RoleRef::Name(r.to_string())).collect()
}

fn user(c: &RoleCatalog, list: &[&str]) -> UserPrivileges {
    match c.resolve(&refs(list)) {
        Ok(u) => u,
        Err(e) => panic!("{e}"),
    }
}

fn can(u: &UserPrivileges, action: &str, db: &str, coll: &str) -> bool {
    let Some(a) = actions::from_name(action) else {
        panic!("{action}")
    };
    let resource = if coll.is_empty() {
        Resource::Database(db)
    } else {
        Resource::Namespace { db, coll }
    };
    u.has(&Requirement {
        resource,
        actions: ActionSet::of(&[a]),
    })
}

const BRIEF_EXAMPLE: &str = r#"
[[roles]]
role = "dailySalesReader"
privileges = [
  { resource = { db = "reporting", collection = "daily_sales" }, actions = ["find"] },
  { resource = { db = "reporting", collection = "" }, actions = ["listCollections"] },
  { resource = { cluster = true }, actions = ["serverStatus"] },
]
roles = ["read@archive"]
"#;

#[test]
fn custom_role_with_builtin_inheritance() {
    let c = ok_catalog(BRIEF_EXAMPLE);
    let u = user(&c, &["dailySalesReader"]);
    assert!(can(&u, "find", "reporting", "daily_sales"));
    assert!(!can(&u, "find", "reporting", "weekly_sales"));
    assert!(can(&u, "listCollections", "reporting", ""));
    assert!(can(&u, "find", "archive", "old"), "inherited read@archive");
    assert!(!can(&u, "insert", "archive", "old"));
    assert!(u.has(&Requirement {
        resource: Resource::Cluster,
        actions: ActionSet::of(&[actions::SERVER_STATUS]),
    }));
    assert_eq!(
        u.role_names(),
        vec![("dailySalesReader".to_string(), "admin".to_string())]
    );
}

#[test]
fn custom_to_builtin_to_builtin_inheritance() {
    // custom -> clusterAdmin -> clusterMonitor -> read@config
    let c = ok_catalog("[[roles]]\nrole = \"ops\"\nroles = [\"clusterAdmin@admin\"]\n");
    let u = user(&c, &["ops"]);
    assert!(can(&u, "find", "config", "chunks"));
    assert!(can(&u, "dropDatabase", "x", ""));
    assert!(!can(&u, "find", "x", "c"));
    // custom -> custom -> built-in, referenced as name@admin too.
    let c = ok_catalog(
        "[[roles]]\nrole = \"a\"\nroles = [\"b@admin\"]\n[[roles]]\nrole = \"b\"\nroles = [\"readWrite@shop\"]\n",
    );
    assert!(can(&user(&c, &["a"]), "insert", "shop", "orders"));
}

#[test]
fn collection_narrowing_reaches_one_namespace_only() {
    let u = user(&RoleCatalog::default(), &["read@reporting.daily_sales"]);
    assert!(can(&u, "find", "reporting", "daily_sales"));
    assert!(!can(&u, "find", "reporting", "other"));
    assert!(!can(&u, "find", "reporting", "system.js"));
    assert!(!can(&u, "listCollections", "reporting", ""));
    assert_eq!(
        u.role_names(),
        vec![("read".to_string(), "reporting.daily_sales".to_string())]
    );
    let table = RoleRef::Table(crate::authz::role_config::RoleRefTable {
        role: "readWrite".into(),
        db: Some("ecommerce".into()),
        collection: Some("orders".into()),
    });
    let u = match RoleCatalog::default().resolve(&[table]) {
        Ok(u) => u,
        Err(e) => panic!("{e}"),
    };
    assert!(can(&u, "insert", "ecommerce", "orders"));
    assert!(!can(&u, "insert", "ecommerce", "carts"));
}

#[test]
fn privileges_union_across_roles() {
    let c = ok_catalog(
        r#"
[[roles]]
role = "finder"
privileges = [{ resource = { db = "app", collection = "c" }, actions = ["find"] }]
[[roles]]
role = "inserter"
privileges = [{ resource = { db = "app", collection = "" }, actions = ["insert"] }]
"#,
    );
    let both = Requirement {
        resource: Resource::Namespace {
            db: "app",
            coll: "c",
        },
        actions: ActionSet::of(&[FIND, INSERT]),
    };
    assert!(user(&c, &["finder", "inserter"]).has(&both));
    assert!(!user(&c, &["finder"]).has(&both));
    assert!(!user(&c, &["inserter"]).has(&both));
    // One merged entry per pattern in the showPrivileges output.
    let u = user(&c, &["finder", "inserter", "finder"]);
    assert_eq!(u.privileges().len(), 2);
    assert_eq!(u.role_names().len(), 2, "direct roles are listed once");
}

#[test]
fn any_action_grants_every_action_on_its_pattern_only() {
    let c = ok_catalog(
        "[[roles]]\nrole = \"god\"\nprivileges = [{ resource = { db = \"app\", collection = \"\" }, actions = [\"anyAction\"] }]\n",
    );
    let u = user(&c, &["god"]);
    assert!(can(&u, "dropDatabase", "app", ""));
    assert!(can(&u, "bypassDocumentValidation", "app", "c"));
    assert!(!can(&u, "find", "app", "system.users"));
    assert!(!can(&u, "find", "other", "c"));
    assert_eq!(
        u.privileges().first().map(|p| p.actions),
        Some(ActionSet::of(&[actions::ANY_ACTION])),
        "reported as granted, not expanded"
    );
}

fn in_role(e: Result<RoleCatalog, RoleError>) -> (usize, String, Problem) {
    match e {
        Err(RoleError::InRole {
            index,
            field,
            problem,
            ..
        }) => (index, field, problem),
        other => panic!("expected InRole, got {other:?}"),
    }
}

#[test]
fn validation_errors_name_role_index_and_field() {
    let one = |privileges: &str, roles: &str| {
        catalog(&format!(
            "[[roles]]\nrole = \"ok\"\n[[roles]]\nrole = \"r\"\nprivileges = [{privileges}]\nroles = [{roles}]\n"
        ))
    };
    let p = r#"{ resource = { db = "a", collection = "" }, actions = ["find", "fnd"] }"#;
    assert_eq!(
        in_role(one(p, "")),
        (
            1,
            "privileges[0].actions[1]".into(),
            Problem::UnknownAction("fnd".into())
        )
    );
    let p = r#"{ resource = { db = "a", collection = "" }, actions = [] }"#;
    assert_eq!(in_role(one(p, "")).2, Problem::NoActions);
    let p = r#"{ resource = { db = "a" }, actions = ["find"] }"#;
    let (_, field, problem) = in_role(one(p, ""));
    assert_eq!(field, "privileges[0].resource");
    assert!(matches!(problem, Problem::BadResource(_)));
    assert_eq!(
        in_role(one("", r#""ok", "nosuch""#)),
        (1, "roles[1]".into(), Problem::UnknownRole("nosuch".into()))
    );
    let (_, _, problem) = in_role(one("", r#""root@ecommerce""#));
    assert_eq!(
        problem,
        Problem::AdminOnly {
            role: "root".into(),
            db: "ecommerce".into()
        }
    );
    let (_, _, problem) = in_role(one("", r#""ok@sales""#));
    assert!(matches!(problem, Problem::CustomRoleDb { .. }));
}

#[test]
fn role_names_are_unique_and_do_not_shadow_builtins() {
    let e = catalog("[[roles]]\nrole = \"x\"\n[[roles]]\nrole = \"x\"\n");
    assert_eq!(
        in_role(e),
        (
            1,
            "role".into(),
            Problem::Duplicate {
                name: "x".into(),
                first: 0
            }
        )
    );
    let e = catalog("[[roles]]\nrole = \"readWrite\"\n");
    assert_eq!(in_role(e).2, Problem::ShadowsBuiltin("readWrite".into()));
    let e = catalog("[[roles]]\nrole = \"atlasAdmin\"\n");
    assert_eq!(in_role(e).2, Problem::ShadowsBuiltin("atlasAdmin".into()));
    let e = catalog("[[roles]]\nrole = \"a@b\"\n");
    assert!(matches!(in_role(e).2, Problem::BadName(_)));
}

#[test]
fn cycles_are_reported_with_their_path() {
    let e = catalog(
        "[[roles]]\nrole = \"a\"\nroles = [\"b\"]\n[[roles]]\nrole = \"b\"\nroles = [\"c\"]\n[[roles]]\nrole = \"c\"\nroles = [\"read@x\", \"a\"]\n",
    );
    let Err(RoleError::Cycle { path }) = e else {
        panic!("expected a cycle, got {e:?}")
    };
    assert_eq!(path, vec!["a", "b", "c", "a"]);
    let e = catalog("[[roles]]\nrole = \"self\"\nroles = [\"self\"]\n");
    assert_eq!(
        e.err().map(|e| e.to_string()),
        Some("role inheritance cycle: self -> self".to_string())
    );
    // A diamond is not a cycle.
    let ok = catalog(
        "[[roles]]\nrole = \"top\"\nroles = [\"l\", \"r\"]\n[[roles]]\nrole = \"l\"\nroles = [\"base\"]\n[[roles]]\nrole = \"r\"\nroles = [\"base\"]\n[[roles]]\nrole = \"base\"\nroles = [\"read@d\"]\n",
    );
    let u = user(&ok.unwrap_or_default(), &["top"]);
    assert!(can(&u, "find", "d", "c"));
}

#[test]
fn user_reference_errors_carry_the_index() {
    let c = ok_catalog(BRIEF_EXAMPLE);
    let e = c.resolve(&refs(&["dailySalesReader", "read@app", "nobody"]));
    assert_eq!(
        e.err(),
        Some(RoleError::InUser {
            index: 2,
            problem: Problem::UnknownRole("nobody".into())
        })
    );
    let e = c.resolve(&refs(&["dailySalesReader.x"]));
    assert!(matches!(e, Err(RoleError::InUser { index: 0, .. })));
    let c2 =
        ok_catalog("[[roles]]\nrole = \"z\"\n[[roles]]\nrole = \"a\"\n[[roles]]\nrole = \"m\"\n");
    assert_eq!(
        c2.custom_role_names().collect::<Vec<_>>(),
        vec!["z", "a", "m"]
    );
    assert_eq!(c2.custom_privileges("a"), Some(&[][..]));
    assert_eq!(c2.custom_privileges("read"), None);
    assert_eq!(
        c.custom_privileges("dailySalesReader").map(|p| p.len()),
        Some(5),
        "3 own + read@archive's db and system.js grants"
    );
}

/// commands.json listCollections notes, case by case.
#[test]
fn any_privilege_in_db() {
    let c = ok_catalog(
        "[[roles]]\nrole = \"mon\"\nprivileges = [{ resource = { cluster = true }, actions = [\"serverStatus\"] }]\n[[roles]]\nrole = \"named\"\nprivileges = [{ resource = { db = \"\", collection = \"logs\" }, actions = [\"find\"] }]\n[[roles]]\nrole = \"buckets\"\nprivileges = [{ resource = { db = \"ts\", system_buckets = \"\" }, actions = [\"find\"] }]\n",
    );
    let any = |roles: &[&str], db: &str| user(&c, roles).has_any_in_db(db);
    assert!(
        any(&["hostManager@admin"], "app"),
        "killCursors on any-normal"
    );
    assert!(!any(&["hostManager@admin"], "local"));
    assert!(any(&["clusterMonitor@admin"], "app"));
    assert!(any(&["userAdmin@app"], "app"));
    assert!(!any(&["userAdmin@app"], "other"));
    assert!(any(&["enableSharding@x"], "app"));
    assert!(any(&["read@local"], "local"));
    assert!(!any(&["read@local"], "app"));
    assert!(!any(&["mon"], "app"), "cluster-only privileges never count");
    assert!(!any(&["directShardOperations@admin"], "admin"));
    assert!(
        any(&["named"], "anything"),
        "collection-name patterns count everywhere"
    );
    assert!(any(&["buckets"], "ts"));
    assert!(!any(&["buckets"], "other"));
    assert!(any(&["read@app.c"], "app"), "exact namespace in the db");
    assert!(!any(&["read@app.c"], "other"));
    assert!(any(&["root"], "config"), "anyResource");
    assert!(!any(&[], "app"));
}
