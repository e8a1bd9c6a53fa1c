//! Custom database roles of a project (Atlas action names, mapped to mongod's actions by
//! the model).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::ApiError;
use super::events::Event;
use super::extract::{Body, PathParams, QueryParams};
use super::oauth::to_value;
use super::paging::{PageQuery, Paged};
use super::responses::{ApiErrors, Delete, List, Read, Write};
use super::state::{Caller, InGroup, Shared};
use super::types::{
    ActionBody, CustomRoleBody, InheritedRoleBody, RoleResourceBody, UpdateCustomRole,
};
use super::validate;
use crate::authz::roles;
use crate::control::authz::Operation;
use crate::control::model::{
    custom_role_key, custom_roles_prefix, db_users_prefix, mongod_action, CustomRole, DatabaseUser,
    InheritedRole, RoleAction, RoleResource,
};
use crate::control::store::{Expect, Op};

type R<T> = Result<T, ApiError>;

fn check_actions(actions: &[ActionBody]) -> R<()> {
    for a in actions {
        if mongod_action(&a.action).is_none() {
            return Err(ApiError::validation(format!(
                "{} is not an Atlas action name",
                a.action
            )));
        }
        if a.resources.is_empty() {
            return Err(ApiError::validation(format!(
                "action {} needs at least one resource",
                a.action
            )));
        }
        for r in &a.resources {
            if r.cluster == Some(true) {
                continue;
            }
            match &r.db {
                Some(db) => validate::optional_text("resources.db", db, 64)?,
                None => return Err(ApiError::validation("a resource needs db or cluster: true")),
            }
            if let Some(c) = &r.collection {
                validate::optional_text("resources.collection", c, 255)?;
            }
        }
    }
    Ok(())
}

/// Inherited roles: built-in roles the data plane knows, or other custom roles of the project.
async fn check_inherited(
    state: &Shared,
    group_id: &str,
    me: &str,
    inh: &[InheritedRoleBody],
) -> R<()> {
    for i in inh {
        validate::name("inheritedRoles.db", &i.db)?;
        if roles::lookup_or_alias(&i.role).is_some() {
            continue;
        }
        validate::name("inheritedRoles.role", &i.role)?;
        if i.role == me
            || state
                .store
                .get(&custom_role_key(group_id, &i.role))
                .await?
                .is_none()
        {
            return Err(ApiError::validation(format!(
                "inherited role {} is neither a built-in role nor another custom role of this project",
                i.role
            )));
        }
    }
    Ok(())
}

fn to_actions(a: Vec<ActionBody>) -> Vec<RoleAction> {
    a.into_iter()
        .map(|a| RoleAction {
            action: a.action,
            resources: a
                .resources
                .into_iter()
                .map(|r| RoleResource {
                    db: r.db,
                    collection: r.collection,
                    cluster: r.cluster,
                })
                .collect(),
        })
        .collect()
}

fn to_inherited(i: Vec<InheritedRoleBody>) -> Vec<InheritedRole> {
    i.into_iter()
        .map(|i| InheritedRole {
            role: i.role,
            db: i.db,
        })
        .collect()
}

fn view(r: &CustomRole) -> CustomRoleBody {
    CustomRoleBody {
        role_name: r.role_name.clone(),
        actions: r
            .actions
            .iter()
            .map(|a| ActionBody {
                action: a.action.clone(),
                resources: a
                    .resources
                    .iter()
                    .map(|x| RoleResourceBody {
                        db: x.db.clone(),
                        collection: x.collection.clone(),
                        cluster: x.cluster,
                    })
                    .collect(),
            })
            .collect(),
        inherited_roles: r
            .inherited_roles
            .iter()
            .map(|i| InheritedRoleBody {
                role: i.role.clone(),
                db: i.db.clone(),
            })
            .collect(),
    }
}

/// `GET /groups/{groupId}/customDBRoles/roles`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/customDBRoles/roles", tag = "Custom Database Roles",
    params(("groupId" = String, Path), PageQuery),
    responses((status = 200, body = Paged<CustomRoleBody>), ApiErrors<List>))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<CustomRoleBody>>> {
    let what = InGroup {
        op: Operation::ListCustomRoles,
        records: custom_roles_prefix,
        path: "customDBRoles/roles",
    };
    Ok(Json(
        state
            .list_in_group(&caller, &group_id, &q, what, view)
            .await?,
    ))
}

/// `POST /groups/{groupId}/customDBRoles/roles`
#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/customDBRoles/roles", tag = "Custom Database Roles",
    params(("groupId" = String, Path)), request_body = CustomRoleBody,
    responses((status = 201, body = CustomRoleBody,
               links(("GetRole" = (operation_id = "get_custom_role", parameters(("groupId" = "$request.path.groupId"), ("roleName" = "$response.body#/roleName")))),
                     ("DeleteRole" = (operation_id = "delete_custom_role", parameters(("groupId" = "$request.path.groupId"), ("roleName" = "$response.body#/roleName")))))), ApiErrors<Write>))]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    Body(body): Body<CustomRoleBody>,
) -> R<(StatusCode, Json<CustomRoleBody>)> {
    let p = state
        .project_for(&caller, Operation::CreateCustomRole, &group_id)
        .await?;
    validate::name("roleName", &body.role_name)?;
    if roles::lookup_or_alias(&body.role_name).is_some() {
        return Err(ApiError::validation(format!(
            "{} is a built-in role name",
            body.role_name
        )));
    }
    check_actions(&body.actions)?;
    check_inherited(&state, &group_id, &body.role_name, &body.inherited_roles).await?;
    let role = CustomRole {
        role_name: body.role_name.clone(),
        group_id: group_id.clone(),
        actions: to_actions(body.actions),
        inherited_roles: to_inherited(body.inherited_roles),
    };
    let ops = vec![
        Op::Put {
            key: custom_role_key(&group_id, &role.role_name),
            value: to_value(&role)?,
            expect: Expect::Absent,
        },
        crate::control::model::project_guard(&group_id),
    ];
    let ev = Event::new(
        "MONGODB_ROLE_ADDED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(role.role_name.clone()),
    );
    state.write(ops, ev).await.map_err(|e| match e {
        ApiError::Conflict { .. } => ApiError::conflict(
            "DUPLICATE_ROLE_NAME",
            format!("custom role {} already exists", role.role_name),
        ),
        other => other,
    })?;
    Ok((StatusCode::CREATED, Json(view(&role))))
}

async fn load(state: &Shared, group_id: &str, name: &str) -> R<(CustomRole, i64)> {
    state
        .get::<CustomRole>(&custom_role_key(group_id, name))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no custom role named {name}")))
}

/// `GET /groups/{groupId}/customDBRoles/roles/{roleName}`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/customDBRoles/roles/{roleName}", tag = "Custom Database Roles",
    operation_id = "get_custom_role", params(("groupId" = String, Path), ("roleName" = String, Path)),
    responses((status = 200, body = CustomRoleBody), ApiErrors<Read>))]
pub async fn get(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, name)): PathParams<(String, String)>,
) -> R<Json<CustomRoleBody>> {
    state
        .project_for(&caller, Operation::GetCustomRole, &group_id)
        .await?;
    Ok(Json(view(&load(&state, &group_id, &name).await?.0)))
}

/// `PATCH /groups/{groupId}/customDBRoles/roles/{roleName}`
#[utoipa::path(patch, path = "/api/atlas/v2/groups/{groupId}/customDBRoles/roles/{roleName}", tag = "Custom Database Roles",
    params(("groupId" = String, Path), ("roleName" = String, Path)), request_body = UpdateCustomRole,
    responses((status = 200, body = CustomRoleBody), ApiErrors<Write>))]
pub async fn update(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, name)): PathParams<(String, String)>,
    Body(body): Body<UpdateCustomRole>,
) -> R<Json<CustomRoleBody>> {
    let p = state
        .project_for(&caller, Operation::UpdateCustomRole, &group_id)
        .await?;
    let (mut role, rev) = load(&state, &group_id, &name).await?;
    if let Some(a) = body.actions {
        check_actions(&a)?;
        role.actions = to_actions(a);
    }
    if let Some(i) = body.inherited_roles {
        check_inherited(&state, &group_id, &name, &i).await?;
        role.inherited_roles = to_inherited(i);
    }
    let ops = vec![Op::Put {
        key: custom_role_key(&group_id, &name),
        value: to_value(&role)?,
        expect: Expect::Revision(rev),
    }];
    let ev = Event::new(
        "MONGODB_ROLE_UPDATED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(name),
    );
    state.write(ops, ev).await?;
    Ok(Json(view(&role)))
}

/// `DELETE /groups/{groupId}/customDBRoles/roles/{roleName}`: refused while a user holds it
/// or another custom role inherits it (the answer names them).
#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}/customDBRoles/roles/{roleName}", tag = "Custom Database Roles",
    operation_id = "delete_custom_role", params(("groupId" = String, Path), ("roleName" = String, Path)),
    responses((status = 204), ApiErrors<Delete>))]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, name)): PathParams<(String, String)>,
) -> R<StatusCode> {
    let p = state
        .project_for(&caller, Operation::DeleteCustomRole, &group_id)
        .await?;
    let (_, rev) = load(&state, &group_id, &name).await?;
    let mut holders: Vec<String> = state
        .list_deep::<DatabaseUser>(&db_users_prefix(&group_id))
        .await?
        .into_iter()
        .filter(|(_, u, _)| u.roles.iter().any(|r| r.role_name == name))
        .map(|(_, u, _)| format!("{}@{}", u.username, u.database_name))
        .collect();
    holders.extend(
        state
            .list::<CustomRole>(&custom_roles_prefix(&group_id))
            .await?
            .into_iter()
            .filter(|(_, r, _)| r.inherited_roles.iter().any(|i| i.role == name))
            .map(|(_, r, _)| format!("role {}", r.role_name)),
    );
    if !holders.is_empty() {
        return Err(ApiError::Conflict {
            code: "CUSTOM_ROLE_IN_USE",
            detail: format!(
                "custom role {name} is still held by: {}",
                holders.join(", ")
            ),
            parameters: holders.into_iter().map(serde_json::Value::String).collect(),
        });
    }
    // The Expect on the role's revision also catches a user created meanwhile with it
    // (user creation rewrites the roles it names).
    let ops = vec![Op::Delete {
        key: custom_role_key(&group_id, &name),
        expect: Expect::Revision(rev),
    }];
    let ev = Event::new(
        "MONGODB_ROLE_DELETED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(name),
    );
    state.write(ops, ev).await?;
    Ok(StatusCode::NO_CONTENT)
}
