//! User and role management commands (commands.json createUser ... rolesInfo). The proxy
//! refuses the writing ones (users live in mongoward's configuration) and answers
//! usersInfo/rolesInfo itself, but the formulas are still mongod's, so the decision of
//! who may even ask is the server's.

use bson::{RawBsonRef, RawDocument};

use super::commands::{Rule, Spec, Special};
use super::ctx::{as_array, as_doc, as_str, check_db, elems, field, fields, Ctx, Out, Reqs};
use super::error::ClassifyError;
use super::Kind;
use crate::authz::actions::*;
use crate::authz::model::{Action, Resource};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum UserCmd {
    CreateUser,
    UpdateUser,
    GrantRolesToUser,
    RevokeRolesFromUser,
    UsersInfo,
    CreateRole,
    UpdateRole,
    GrantRolesToRole,
    RevokeRolesFromRole,
    GrantPrivilegesToRole,
    RevokePrivilegesFromRole,
    RolesInfo,
}

const fn spec(rule: Rule) -> Spec {
    Spec {
        admin_only: false,
        requires_auth: true,
        rule,
    }
}

pub(crate) fn lookup(name: &str) -> Option<Spec> {
    use UserCmd::*;
    let u = |c| spec(Rule::Custom(Special::User(c)));
    Some(match name {
        "createUser" => u(CreateUser),
        "updateUser" => u(UpdateUser),
        "dropUser" | "dropAllUsersFromDatabase" => spec(Rule::UserDb(&[DROP_USER])),
        "grantRolesToUser" => u(GrantRolesToUser),
        "revokeRolesFromUser" => u(RevokeRolesFromUser),
        "usersInfo" => u(UsersInfo),
        "createRole" => u(CreateRole),
        "updateRole" => u(UpdateRole),
        "dropRole" | "dropAllRolesFromDatabase" => spec(Rule::UserDb(&[DROP_ROLE])),
        "grantRolesToRole" => u(GrantRolesToRole),
        "revokeRolesFromRole" => u(RevokeRolesFromRole),
        "grantPrivilegesToRole" => u(GrantPrivilegesToRole),
        "revokePrivilegesFromRole" => u(RevokePrivilegesFromRole),
        "rolesInfo" => u(RolesInfo),
        _ => return None,
    })
}

pub(crate) fn run<'a>(cx: &Ctx<'a>, c: UserCmd) -> Result<Out<'a>, ClassifyError> {
    use UserCmd::*;
    let db = Resource::Database(cx.db);
    let mut r = Reqs::default();
    let kind = match c {
        UsersInfo => {
            info(cx, &mut r, VIEW_USER, "user", true)?;
            Kind::UsersInfo
        }
        RolesInfo => {
            info(cx, &mut r, VIEW_ROLE, "role", false)?;
            Kind::RolesInfo
        }
        _ => Kind::UserManagement,
    };
    match c {
        CreateUser => {
            r.add_list(db, &[CREATE_USER]);
            roles(cx, &mut r, GRANT_ROLE)?;
        }
        UpdateUser => {
            if cx.get("pwd")?.is_some() || cx.get("mechanisms")?.is_some() {
                r.add_list(db, &[CHANGE_PASSWORD]);
            }
            if cx.get("customData")?.is_some() {
                r.add_list(db, &[CHANGE_CUSTOM_DATA]);
            }
            if cx.get("roles")?.is_some() {
                r.add_list(Resource::AnyNormal, &[REVOKE_ROLE]);
                roles(cx, &mut r, GRANT_ROLE)?;
            }
        }
        GrantRolesToUser | GrantRolesToRole => roles(cx, &mut r, GRANT_ROLE)?,
        RevokeRolesFromUser | RevokeRolesFromRole => roles(cx, &mut r, REVOKE_ROLE)?,
        CreateRole => {
            r.add_list(db, &[CREATE_ROLE]);
            roles(cx, &mut r, GRANT_ROLE)?;
            privileges(cx, &mut r, GRANT_ROLE)?;
        }
        UpdateRole => {
            r.add_list(Resource::AnyNormal, &[REVOKE_ROLE]);
            roles(cx, &mut r, GRANT_ROLE)?;
            privileges(cx, &mut r, GRANT_ROLE)?;
        }
        GrantPrivilegesToRole => privileges(cx, &mut r, GRANT_ROLE)?,
        RevokePrivilegesFromRole => privileges(cx, &mut r, REVOKE_ROLE)?,
        UsersInfo | RolesInfo => {}
    }
    if cx.get("authenticationRestrictions")?.is_some() {
        r.add_list(db, &[SET_AUTHENTICATION_RESTRICTION]);
    }
    Ok(Out::new(r.into_formula(), cx.db_target(), kind))
}

/// A role or user reference: a bare name (in `$db`) or `{role|user, db}`.
fn ref_db<'a>(cx: &Ctx<'a>, v: RawBsonRef<'a>, what: &str) -> Result<&'a str, ClassifyError> {
    match v {
        RawBsonRef::String(_) => Ok(cx.db),
        RawBsonRef::Document(d) => {
            let fs = fields(d)?;
            let db =
                field(&fs, "db").ok_or_else(|| ClassifyError::malformed(what, "missing 'db'"))?;
            let db = as_str(db, what)?;
            check_db(db)?;
            Ok(db)
        }
        _ => Err(ClassifyError::type_mismatch(what, "a name or {name, db}")),
    }
}

/// `action` on the database of each listed role.
fn roles<'a>(cx: &Ctx<'a>, r: &mut Reqs<'a>, action: Action) -> Result<(), ClassifyError> {
    if let Some(v) = cx.get("roles")? {
        for e in elems(as_array(v, "roles")?, "roles") {
            r.add_list(Resource::Database(ref_db(cx, e?, "roles")?), &[action]);
        }
    }
    Ok(())
}

/// commands.json createRole: grantRole on the privilege's db for database/namespace
/// resources, on admin for anything broader.
fn privileges<'a>(cx: &Ctx<'a>, r: &mut Reqs<'a>, action: Action) -> Result<(), ClassifyError> {
    if let Some(v) = cx.get("privileges")? {
        for e in elems(as_array(v, "privileges")?, "privileges") {
            let p = fields(as_doc(e?, "privileges")?)?;
            let res = field(&p, "resource")
                .ok_or_else(|| ClassifyError::malformed("privileges", "missing 'resource'"))?;
            let db = privilege_db(as_doc(res, "privileges.resource")?)?;
            r.add_list(Resource::Database(db), &[action]);
        }
    }
    Ok(())
}

fn privilege_db(res: &RawDocument) -> Result<&str, ClassifyError> {
    let fs = fields(res)?;
    match field(&fs, "db") {
        Some(RawBsonRef::String(d)) if !d.is_empty() => {
            check_db(d)?;
            Ok(d)
        }
        _ => Ok("admin"),
    }
}

/// usersInfo / rolesInfo: 1 -> the database; forAllDBs (users only) -> the cluster;
/// named entries -> each one's database. Viewing yourself (or roles you hold) needs
/// nothing in mongod; the classifier does not know the caller, so the session waives
/// those when it answers from its configuration.
fn info<'a>(
    cx: &Ctx<'a>,
    r: &mut Reqs<'a>,
    action: Action,
    what: &str,
    users: bool,
) -> Result<(), ClassifyError> {
    match cx.first {
        RawBsonRef::Array(a) => {
            for e in elems(a, cx.name) {
                r.add_list(Resource::Database(ref_db(cx, e?, what)?), &[action]);
            }
        }
        RawBsonRef::Document(d) if users && super::ctx::get(d, "forAllDBs")?.is_some() => {
            r.add_list(Resource::Cluster, &[action]);
        }
        RawBsonRef::String(_) | RawBsonRef::Document(_) => {
            r.add_list(Resource::Database(ref_db(cx, cx.first, what)?), &[action]);
        }
        _ => r.add_list(Resource::Database(cx.db), &[action]),
    }
    if users && cx.get("authenticatedMechanism")?.is_some() {
        r.add_list(Resource::Cluster, &[INTERNAL]);
    }
    Ok(())
}
