//! Database users of a project. A password becomes SCRAM-SHA-1 and SCRAM-SHA-256
//! credentials here and is dropped: it is never stored, logged or answered.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use time::OffsetDateTime;

use super::error::ApiError;
use super::events::Event;
use super::extract::{Body, PathParams, QueryParams};
use super::oauth::to_value;
use super::paging::{Link, PageQuery, Paged};
use super::responses::{ApiErrors, Delete, List, Read, Write};
use super::state::{Caller, InGroup, Shared};
use super::types::{
    CreateDatabaseUser, DatabaseUserView, LabelBody, NoneOnly, RoleBody, ScopeBody, ScopeType,
    UpdateDatabaseUser,
};
use super::validate;
use crate::authz::roles;
use crate::control::authz::Operation;
use crate::control::model::{
    custom_role_key, db_user_key, db_users_prefix, DatabaseUser, Label, RoleAssignment, Scope,
};
use crate::control::store::{Expect, Op};
use crate::gates::credentials::{CredentialConfig, Mechanism, ScramCredential};

type R<T> = Result<T, ApiError>;

/// SCRAM credentials for both mechanisms, with fresh salts and mongod's iteration counts.
/// PBKDF2 is deliberately slow, so it runs off the async workers.
async fn credentials(user: String, password: String) -> R<BTreeMap<String, CredentialConfig>> {
    tokio::task::spawn_blocking(move || {
        let mut out = BTreeMap::new();
        for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
            let mut salt = vec![0u8; m.salt_len()];
            super::state::os_random(&mut salt);
            let c = ScramCredential::derive(m, &user, &password, &salt, m.default_iterations())
                .map_err(|_| {
                    ApiError::validation("password cannot be prepared for SCRAM (SASLprep)")
                })?;
            out.insert(m.name().to_string(), c.to_config());
        }
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("credential task: {e}")))?
}

/// Each role is a built-in role the data plane knows (valid on that database) or a custom
/// role of the project; returns the custom roles used, with their revisions, so the write
/// can require they still exist.
async fn check_roles(
    state: &Shared,
    group_id: &str,
    roles_in: &[RoleBody],
) -> R<Vec<(String, serde_json::Value, i64)>> {
    if roles_in.is_empty() {
        return Err(ApiError::validation("roles must name at least one role"));
    }
    let mut customs = Vec::new();
    for r in roles_in {
        validate::name("roles.databaseName", &r.database_name)?;
        if let Some(c) = &r.collection_name {
            validate::text("roles.collectionName", c, 255)?;
        }
        if let Some(b) = roles::lookup_or_alias(&r.role_name) {
            if !b.grantable_on(&r.database_name) {
                return Err(ApiError::validation(format!(
                    "role {} can only be granted on the admin database",
                    r.role_name
                )));
            }
            if r.collection_name.is_some() && !b.narrowable() {
                return Err(ApiError::validation(format!(
                    "role {} cannot be narrowed to a collection",
                    r.role_name
                )));
            }
            continue;
        }
        validate::name("roles.roleName", &r.role_name)?;
        let key = custom_role_key(group_id, &r.role_name);
        match state.store.get(&key).await? {
            Some(item) => customs.push((key, item.value, item.revision)),
            None => {
                return Err(ApiError::validation(format!(
                    "{} is neither a built-in role nor a custom role of this project",
                    r.role_name
                )))
            }
        }
    }
    Ok(customs)
}

fn check_scopes(scopes: &[ScopeBody]) -> R<()> {
    for s in scopes {
        validate::cluster_name("scopes.name", &s.name)?;
    }
    Ok(())
}

fn check_labels(labels: &[LabelBody]) -> R<()> {
    for l in labels {
        validate::text("labels.key", &l.key, 255)?;
        validate::optional_text("labels.value", &l.value, 255)?;
    }
    Ok(())
}

fn to_roles(r: Vec<RoleBody>) -> Vec<RoleAssignment> {
    r.into_iter()
        .map(|r| RoleAssignment {
            role_name: r.role_name,
            database_name: r.database_name,
            collection_name: r.collection_name,
        })
        .collect()
}

fn to_scopes(s: Vec<ScopeBody>) -> Vec<Scope> {
    s.into_iter()
        .map(|s| Scope {
            name: s.name,
            kind: "CLUSTER".into(),
        })
        .collect()
}

fn to_labels(l: Vec<LabelBody>) -> Vec<Label> {
    l.into_iter()
        .map(|l| Label {
            key: l.key,
            value: l.value,
        })
        .collect()
}

fn view(u: &DatabaseUser) -> DatabaseUserView {
    DatabaseUserView {
        username: u.username.clone(),
        database_name: u.database_name.clone(),
        group_id: u.group_id.clone(),
        roles: u
            .roles
            .iter()
            .map(|r| RoleBody {
                role_name: r.role_name.clone(),
                database_name: r.database_name.clone(),
                collection_name: r.collection_name.clone(),
            })
            .collect(),
        scopes: u
            .scopes
            .iter()
            .map(|s| ScopeBody {
                name: s.name.clone(),
                kind: ScopeType::Cluster,
            })
            .collect(),
        delete_after_date: u.delete_after_date.clone(),
        description: u.description.clone(),
        labels: u
            .labels
            .iter()
            .map(|l| LabelBody {
                key: l.key.clone(),
                value: l.value.clone(),
            })
            .collect(),
        x509_type: NoneOnly::None,
        aws_iam_type: NoneOnly::None,
        ldap_auth_type: NoneOnly::None,
        oidc_auth_type: NoneOnly::None,
        links: vec![Link {
            href: format!(
                "/api/atlas/v2/groups/{}/databaseUsers/{}/{}",
                u.group_id, u.database_name, u.username
            ),
            rel: "self".into(),
        }],
    }
}

/// The custom roles a user holds must still be the ones checked (re-put with an Expect).
fn pin_roles(customs: Vec<(String, serde_json::Value, i64)>) -> Vec<Op> {
    customs
        .into_iter()
        .map(|(key, value, rev)| Op::Put {
            key,
            value,
            expect: Expect::Revision(rev),
        })
        .collect()
}

fn check_database(db: &str) -> R<()> {
    if db != "admin" {
        return Err(ApiError::validation(
            "databaseName must be admin (mongoward serves SCRAM users only)",
        ));
    }
    Ok(())
}

/// `GET /groups/{groupId}/databaseUsers`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/databaseUsers", tag = "Database Users",
    params(("groupId" = String, Path), PageQuery),
    responses((status = 200, body = Paged<DatabaseUserView>), ApiErrors<List>))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<DatabaseUserView>>> {
    let what = InGroup {
        op: Operation::ListDatabaseUsers,
        records: db_users_prefix,
        path: "databaseUsers",
    };
    Ok(Json(
        state
            .list_in_group(&caller, &group_id, &q, what, view)
            .await?,
    ))
}

/// `POST /groups/{groupId}/databaseUsers`
#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/databaseUsers", tag = "Database Users",
    params(("groupId" = String, Path)), request_body = CreateDatabaseUser,
    responses((status = 201, body = DatabaseUserView,
               links(("GetUser" = (operation_id = "get_database_user", parameters(("groupId" = "$request.path.groupId"), ("databaseName" = "$response.body#/databaseName"), ("username" = "$response.body#/username")))),
                     ("DeleteUser" = (operation_id = "delete_database_user", parameters(("groupId" = "$request.path.groupId"), ("databaseName" = "$response.body#/databaseName"), ("username" = "$response.body#/username")))))), ApiErrors<Write>))]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    Body(body): Body<CreateDatabaseUser>,
) -> R<(StatusCode, Json<DatabaseUserView>)> {
    let p = state
        .project_for(&caller, Operation::CreateDatabaseUser, &group_id)
        .await?;
    if body.group_id.as_deref().is_some_and(|g| g != group_id) {
        return Err(ApiError::validation(
            "groupId in the body must match the path",
        ));
    }
    validate::name("username", &body.username)?;
    check_database(&body.database_name)?;
    validate::password(&body.password)?;
    if let Some(d) = &body.description {
        validate::optional_text("description", d, 100)?;
    }
    let delete_after = body
        .delete_after_date
        .as_deref()
        .map(|d| validate::delete_after(d, OffsetDateTime::now_utc()))
        .transpose()?;
    check_scopes(&body.scopes)?;
    check_labels(&body.labels)?;
    let customs = check_roles(&state, &group_id, &body.roles).await?;
    let user = DatabaseUser {
        username: body.username.clone(),
        database_name: body.database_name.clone(),
        group_id: group_id.clone(),
        roles: to_roles(body.roles),
        scopes: to_scopes(body.scopes),
        delete_after_date: delete_after,
        description: body.description.filter(|d| !d.is_empty()),
        labels: to_labels(body.labels),
        credentials: credentials(body.username, body.password).await?,
    };
    let mut ops = vec![Op::Put {
        key: db_user_key(&group_id, &user.database_name, &user.username),
        value: to_value(&user)?,
        expect: Expect::Absent,
    }];
    ops.extend(pin_roles(customs));
    ops.push(crate::control::model::project_guard(&group_id));
    let ev = Event::new(
        "MONGODB_USER_ADDED",
        &caller,
        &p.org_id,
        Some(&group_id),
        None,
    )
    .with_username(&user.username);
    state.write(ops, ev).await.map_err(|e| match e {
        ApiError::Conflict { .. } => ApiError::conflict(
            "USER_ALREADY_EXISTS",
            format!(
                "database user {} already exists (or a role it names changed)",
                user.username
            ),
        ),
        other => other,
    })?;
    Ok((StatusCode::CREATED, Json(view(&user))))
}

async fn load(state: &Shared, group_id: &str, db: &str, name: &str) -> R<(DatabaseUser, i64)> {
    state
        .get::<DatabaseUser>(&db_user_key(group_id, db, name))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no database user {name} on {db}")))
}

/// `GET /groups/{groupId}/databaseUsers/{databaseName}/{username}`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/databaseUsers/{databaseName}/{username}",
    tag = "Database Users", operation_id = "get_database_user",
    params(("groupId" = String, Path), ("databaseName" = String, Path), ("username" = String, Path)),
    responses((status = 200, body = DatabaseUserView), ApiErrors<Read>))]
pub async fn get(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, db, name)): PathParams<(String, String, String)>,
) -> R<Json<DatabaseUserView>> {
    state
        .project_for(&caller, Operation::GetDatabaseUser, &group_id)
        .await?;
    let (u, _) = load(&state, &group_id, &db, &name).await?;
    Ok(Json(view(&u)))
}

/// `PATCH /groups/{groupId}/databaseUsers/{databaseName}/{username}`
#[utoipa::path(patch, path = "/api/atlas/v2/groups/{groupId}/databaseUsers/{databaseName}/{username}",
    tag = "Database Users",
    params(("groupId" = String, Path), ("databaseName" = String, Path), ("username" = String, Path)),
    request_body = UpdateDatabaseUser,
    responses((status = 200, body = DatabaseUserView), ApiErrors<Write>))]
pub async fn update(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, db, name)): PathParams<(String, String, String)>,
    Body(body): Body<UpdateDatabaseUser>,
) -> R<Json<DatabaseUserView>> {
    let p = state
        .project_for(&caller, Operation::UpdateDatabaseUser, &group_id)
        .await?;
    let (mut u, rev) = load(&state, &group_id, &db, &name).await?;
    let mut customs = Vec::new();
    if let Some(r) = body.roles {
        customs = check_roles(&state, &group_id, &r).await?;
        u.roles = to_roles(r);
    }
    if let Some(s) = body.scopes {
        check_scopes(&s)?;
        u.scopes = to_scopes(s);
    }
    if let Some(d) = body.delete_after_date {
        u.delete_after_date = Some(validate::delete_after(&d, OffsetDateTime::now_utc())?);
    }
    if let Some(d) = body.description {
        validate::optional_text("description", &d, 100)?;
        u.description = Some(d).filter(|d| !d.is_empty());
    }
    if let Some(l) = body.labels {
        check_labels(&l)?;
        u.labels = to_labels(l);
    }
    if let Some(pw) = body.password {
        validate::password(&pw)?;
        u.credentials = credentials(u.username.clone(), pw).await?;
    }
    let mut ops = vec![Op::Put {
        key: db_user_key(&group_id, &db, &name),
        value: to_value(&u)?,
        expect: Expect::Revision(rev),
    }];
    ops.extend(pin_roles(customs));
    let ev = Event::new(
        "MONGODB_USER_UPDATED",
        &caller,
        &p.org_id,
        Some(&group_id),
        None,
    )
    .with_username(&name);
    state.write(ops, ev).await?;
    Ok(Json(view(&u)))
}

/// `DELETE /groups/{groupId}/databaseUsers/{databaseName}/{username}`
#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}/databaseUsers/{databaseName}/{username}",
    tag = "Database Users", operation_id = "delete_database_user",
    params(("groupId" = String, Path), ("databaseName" = String, Path), ("username" = String, Path)),
    responses((status = 204), ApiErrors<Delete>))]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, db, name)): PathParams<(String, String, String)>,
) -> R<StatusCode> {
    let p = state
        .project_for(&caller, Operation::DeleteDatabaseUser, &group_id)
        .await?;
    let (_, rev) = load(&state, &group_id, &db, &name).await?;
    let ops = vec![Op::Delete {
        key: db_user_key(&group_id, &db, &name),
        expect: Expect::Revision(rev),
    }];
    let ev = Event::new(
        "MONGODB_USER_DELETED",
        &caller,
        &p.org_id,
        Some(&group_id),
        None,
    )
    .with_username(&name);
    state.write(ops, ev).await?;
    Ok(StatusCode::NO_CONTENT)
}
