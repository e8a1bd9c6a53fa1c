//! Table-driven authorization tests (issue 5): built-in roles x commands.json, pipeline
//! nesting, explain, bulkWrite, admin-only commands, system collections, custom roles
//! with inheritance, `role@db.collection` narrowing. Every decision goes through the
//! same path as the proxy and the simulator: `command_body` (extended JSON -> the body a
//! driver sends) then `authz::decide::decide`.

mod cases;
mod rows;

use mongoward::authz::classify::NoSequences;
use mongoward::authz::decide::{decide, Caller};
use mongoward::authz::privileges::{RoleCatalog, UserPrivileges};
use mongoward::authz::role_config::{RoleConfig, RoleRef};
use mongoward::cli::authz_check::command_body;

/// Custom roles used by the hand-written cases (the issue's own example first).
pub const CUSTOM_ROLES: &str = r#"
[[roles]]
role = "dailySalesReader"
privileges = [
  { resource = { db = "reporting", collection = "daily_sales" }, actions = ["find"] },
  { resource = { db = "reporting", collection = "" }, actions = ["listCollections"] },
  { resource = { cluster = true }, actions = ["serverStatus"] },
]
roles = ["read@archive"]

[[roles]]
role = "ordersWriter"
privileges = [{ resource = { db = "shop", collection = "orders" }, actions = ["insert", "find"] }]

[[roles]]
role = "shopAuditor"
roles = ["ordersWriter", "dailySalesReader"]

[[roles]]
role = "chain"
roles = ["shopAuditor"]

[[roles]]
role = "everyOrders"
privileges = [{ resource = { db = "", collection = "orders" }, actions = ["find"] }]

[[roles]]
role = "profileReader"
privileges = [{ resource = { db = "test", collection = "system.profile" }, actions = ["find"] }]

[[roles]]
role = "insertOnly"
privileges = [{ resource = { db = "test", collection = "c" }, actions = ["insert"] }]
"#;

#[derive(serde::Deserialize)]
struct Roles {
    roles: Vec<RoleConfig>,
}

pub fn catalog() -> RoleCatalog {
    let doc: Roles = toml::from_str(CUSTOM_ROLES).expect("test roles parse");
    RoleCatalog::build(&doc.roles).expect("test roles are valid")
}

pub fn user(cat: &RoleCatalog, refs: &[&str]) -> UserPrivileges {
    let refs: Vec<RoleRef> = refs.iter().map(|r| RoleRef::Name(r.to_string())).collect();
    cat.resolve(&refs)
        .unwrap_or_else(|e| panic!("roles {refs:?}: {e}"))
}

/// `Ok` = allowed; `Err((code, errmsg))` = refused.
pub fn run(u: &UserPrivileges, cmd: &str, db: &str) -> Result<(), (i32, String)> {
    let json: serde_json::Value = serde_json::from_str(cmd).expect("test command is JSON");
    let body = command_body(&json, Some(db)).expect("test command converts");
    let caller = Caller {
        user: "tester",
        db: "admin",
        privileges: u,
    };
    decide(Some(caller), &body, &NoSequences)
        .map(|_| ())
        .map_err(|r| (r.code(), r.errmsg()))
}

#[test]
fn builtin_roles_times_commands_json() {
    let cat = catalog();
    let users: Vec<(&str, UserPrivileges)> = rows::ROLES
        .iter()
        .map(|(role, db)| (*role, user(&cat, &[&format!("{role}@{db}")])))
        .collect();
    let mut wrong = Vec::new();
    let (mut allowed, mut denied) = (0, 0);
    for (cmd, db, allow, evidence) in rows::ROWS {
        let allow: Vec<&str> = allow.split_whitespace().collect();
        for (role, u) in &users {
            let want = allow.contains(role);
            let got = run(u, cmd, db);
            match (&got, want) {
                (Ok(()), true) => allowed += 1,
                (Err((13, _)), false) => denied += 1,
                _ => wrong.push(format!(
                    "{role}: {cmd} on {db} [commands_lib {evidence}]: want {}, got {got:?}",
                    if want { "allow" } else { "code 13" }
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Both outcomes are well represented (the table is not trivially all-deny).
    assert!(
        allowed > 300 && denied > 1000,
        "{allowed} allowed, {denied} denied"
    );
}

#[test]
fn admin_only_commands_elsewhere_are_13_even_for_root() {
    // commands.json general_rules admin_only: "for every user, even root".
    let cat = catalog();
    let root = user(&cat, &["root@admin"]);
    let mut checked = 0;
    for (cmd, db, allow, _) in rows::ROWS {
        if *db != "admin" || !allow.contains("root") {
            continue;
        }
        assert_eq!(run(&root, cmd, "admin"), Ok(()), "{cmd}");
        let (code, msg) = run(&root, cmd, "test").expect_err(cmd);
        assert_eq!(code, 13, "{cmd}: {msg}");
        assert!(
            msg.contains("may only be run against the admin database"),
            "{cmd}: {msg}"
        );
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
}
