//! Formula semantics (model.rs Formula docs) and the denial report.

use super::*;
use crate::authz::actions::{CREATE_COLLECTION, CREATE_INDEX, DROP_COLLECTION, FIND, INSERT};
use crate::authz::privileges::RoleCatalog;
use crate::authz::role_config::RoleRef;

fn user(refs: &[&str]) -> UserPrivileges {
    let refs: Vec<RoleRef> = refs.iter().map(|r| RoleRef::Name(r.to_string())).collect();
    match RoleCatalog::default().resolve(&refs) {
        Ok(u) => u,
        Err(e) => panic!("{e}"),
    }
}

fn ns<'a>(db: &'a str, coll: &'a str, actions: &[crate::authz::model::Action]) -> Requirement<'a> {
    Requirement {
        resource: Resource::Namespace { db, coll },
        actions: ActionSet::of(actions),
    }
}

#[test]
fn conjunction_and_union() {
    let f = Formula::All(vec![ns("app", "c", &[FIND, INSERT])]);
    assert!(authorize(&user(&["readWrite@app"]), &f).is_ok());
    assert!(authorize(&user(&["read@app", "readWrite@app.c"]), &f).is_ok());
    let Err(d) = authorize(&user(&["read@app"]), &f) else {
        panic!("read lacks insert")
    };
    assert_eq!(
        d.missing,
        vec![MissingPrivilege {
            resource: OwnedResource::Namespace {
                db: "app".into(),
                coll: "c".into()
            },
            actions: ActionSet::of(&[INSERT]),
        }]
    );
    assert!(authorize(&user(&[]), &Formula::Authenticated).is_ok());
    assert!(authorize(&user(&["root"]), &Formula::Never).is_err());
}

#[test]
fn or_reports_the_first_branch() {
    // create: createCollection OR insert (commands.json create alternatives).
    let f = Formula::Or(vec![
        Formula::All(vec![ns("app", "c", &[CREATE_COLLECTION])]),
        Formula::All(vec![ns("app", "c", &[INSERT])]),
    ]);
    let custom_insert_only = UserPrivileges::from_privileges(
        vec![crate::authz::model::Privilege {
            resource: crate::authz::model::ResourcePattern::Database("app".into()),
            actions: ActionSet::of(&[INSERT]),
        }],
        Vec::new(),
    );
    assert!(authorize(&custom_insert_only, &f).is_ok());
    let Err(d) = authorize(&user(&["read@app"]), &f) else {
        panic!("read can neither create nor insert")
    };
    assert_eq!(d.missing.len(), 1);
    assert_eq!(
        d.missing.first().map(|m| m.actions),
        Some(ActionSet::of(&[CREATE_COLLECTION]))
    );
    assert!(authorize(&user(&["root"]), &Formula::Or(Vec::new())).is_err());
}

/// commands.json renameCollection: renameCollectionSameDB on the db AND (find on source
/// OR NOT find on target), else the general rule.
fn rename<'a>() -> Formula<'a> {
    let fast = Formula::And(vec![
        Formula::All(vec![Requirement {
            resource: Resource::Database("app"),
            actions: ActionSet::of(&[crate::authz::actions::RENAME_COLLECTION_SAME_DB]),
        }]),
        Formula::Or(vec![
            Formula::All(vec![ns("app", "src", &[FIND])]),
            Formula::Lacks(ns("app", "dst", &[FIND])),
        ]),
    ]);
    let general = Formula::All(vec![
        ns("app", "src", &[FIND, DROP_COLLECTION]),
        ns("app", "dst", &[INSERT, CREATE_INDEX]),
    ]);
    Formula::Or(vec![fast, general])
}

#[test]
fn lacks_guards_rename() {
    assert!(authorize(&user(&["readWrite@app"]), &rename()).is_ok());
    assert!(
        authorize(&user(&["dbAdmin@app"]), &rename()).is_ok(),
        "cannot read either side"
    );
    // dbAdmin plus read on the target only: renaming an unreadable collection into a
    // readable name must fail.
    let Err(d) = authorize(&user(&["dbAdmin@app", "read@app.dst"]), &rename()) else {
        panic!("rename into a readable name must be denied")
    };
    assert_eq!(
        d.forbidden.len(),
        0,
        "first branch of the inner Or is reported"
    );
    assert_eq!(
        d.missing.first().map(|m| m.resource.clone()),
        Some(OwnedResource::Namespace {
            db: "app".into(),
            coll: "src".into()
        })
    );
    let Err(d) = authorize(
        &user(&["read@app.dst"]),
        &Formula::Lacks(ns("app", "dst", &[FIND])),
    ) else {
        panic!("holds find on dst")
    };
    assert_eq!(d.forbidden.len(), 1);
}

#[test]
fn and_reports_every_failing_part() {
    let f = Formula::And(vec![
        Formula::All(vec![ns("a", "c", &[FIND])]),
        Formula::All(vec![ns("b", "c", &[FIND])]),
        Formula::All(vec![Requirement {
            resource: Resource::Cluster,
            actions: ActionSet::of(&[crate::authz::actions::SERVER_STATUS]),
        }]),
    ]);
    let Err(d) = authorize(&user(&["read@a"]), &f) else {
        panic!("b and cluster missing")
    };
    assert_eq!(d.missing.len(), 2);
    assert!(!d.never);
}

#[test]
fn denial_json() {
    let f = Formula::And(vec![
        Formula::All(vec![
            ns("x", "y", &[INSERT, FIND]),
            Requirement {
                resource: Resource::Cluster,
                actions: ActionSet::of(&[crate::authz::actions::SERVER_STATUS]),
            },
            Requirement {
                resource: Resource::AnyResource,
                actions: ActionSet::of(&[FIND]),
            },
        ]),
        Formula::Never,
    ]);
    let Err(d) = authorize(&user(&["read@x"]), &f) else {
        panic!("denied")
    };
    assert_eq!(
        d.to_json(),
        serde_json::json!({
            "missing": [
                {"resource": {"db": "x", "collection": "y"}, "actions": ["insert"]},
                {"resource": {"cluster": true}, "actions": ["serverStatus"]},
                {"resource": {"anyResource": true}, "actions": ["find"]},
            ],
            "forbidden": [],
            "never": true,
        })
    );
    assert_eq!(
        OwnedResource::AnyNormal.to_json(),
        serde_json::json!({"db": "", "collection": ""})
    );
    assert_eq!(d.to_string(), "not allowed for any user");
}

#[test]
fn deep_formulas_fail_closed() {
    let mut f = Formula::Authenticated;
    for _ in 0..(MAX_DEPTH + 5) {
        f = Formula::And(vec![f]);
    }
    let Err(d) = authorize(&user(&["root"]), &f) else {
        panic!("too deep")
    };
    assert!(d.never);
}
