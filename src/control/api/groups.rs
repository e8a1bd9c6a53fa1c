//! Organizations, their settings, and projects (Atlas "groups").

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::ApiError;
use super::events::Event;
use super::extract::{Body, PathParams, QueryParams};
use super::oauth::to_value;
use super::paging::{Link, PageQuery, Paged};
use super::responses::{ApiErrors, Delete, List, ListAll, Read, Write};
use super::state::{now, random_id, Caller, Shared};
use super::types::{CreateGroup, GroupView, OrgSettingsBody, OrgView, Rename};
use super::validate;
use crate::control::accounts::{self, ServiceAccount};
use crate::control::authz::{GroupRole, Operation, OrgRole, Resource};
use crate::control::model::{Cluster, Org, Project};
use crate::control::store::{Expect, Op};

const V2: &str = "/api/atlas/v2";

fn self_link(path: String) -> Vec<Link> {
    vec![Link {
        href: format!("{V2}{path}"),
        rel: "self".into(),
    }]
}

fn org_view(org: &Org) -> OrgView {
    OrgView {
        id: org.id.clone(),
        name: org.name.clone(),
        is_deleted: false,
        links: self_link(format!("/orgs/{}", org.id)),
    }
}

/// Unique project names per organization: `groupNames/{orgId}/{name}` (Expect::Absent).
fn name_key(org_id: &str, name: &str) -> String {
    format!("groupNames/{org_id}/{}", name.to_lowercase())
}

async fn group_view(state: &Shared, p: &Project) -> Result<GroupView, ApiError> {
    let clusters = state
        .list::<Cluster>(&format!("groups/{}/clusters/", p.id))
        .await?;
    Ok(GroupView {
        id: p.id.clone(),
        name: p.name.clone(),
        org_id: p.org_id.clone(),
        created: p.created.clone(),
        cluster_count: clusters.len(),
        links: self_link(format!("/groups/{}", p.id)),
    })
}

type R<T> = Result<T, ApiError>;

/// `GET /orgs/{orgId}`
#[utoipa::path(get, path = "/api/atlas/v2/orgs/{orgId}", tag = "Organizations",
    params(("orgId" = String, Path)),
    responses((status = 200, body = OrgView), ApiErrors<Read>))]
pub async fn get_org(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(org_id): PathParams<String>,
) -> R<Json<OrgView>> {
    let (org, _) = state.org(&org_id).await?;
    caller.may(Operation::GetOrg, Resource::Org(&org_id))?;
    Ok(Json(org_view(&org)))
}

/// `PATCH /orgs/{orgId}` (rename)
#[utoipa::path(patch, path = "/api/atlas/v2/orgs/{orgId}", tag = "Organizations",
    params(("orgId" = String, Path)), request_body = Rename,
    responses((status = 200, body = OrgView), ApiErrors<Write>))]
pub async fn update_org(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(org_id): PathParams<String>,
    Body(body): Body<Rename>,
) -> R<Json<OrgView>> {
    let (mut org, rev) = state.org(&org_id).await?;
    caller.may(Operation::UpdateOrg, Resource::Org(&org_id))?;
    validate::text("name", &body.name, 64)?;
    org.name = body.name;
    let ev = Event::new(
        "ORG_RENAMED",
        &caller,
        &org_id,
        None,
        Some(org.name.clone()),
    );
    let ops = vec![Op::Put {
        key: format!("orgs/{org_id}"),
        value: to_value(&org)?,
        expect: Expect::Revision(rev),
    }];
    state.write(ops, ev).await?;
    Ok(Json(org_view(&org)))
}

fn settings_view(org: &Org) -> OrgSettingsBody {
    let s = &org.settings;
    OrgSettingsBody {
        api_access_list_required: Some(s.api_access_list_required),
        multi_factor_auth_required: Some(s.multi_factor_auth_required),
        restrict_employee_access: Some(s.restrict_employee_access),
        max_service_account_secret_validity_in_hours: Some(
            s.max_service_account_secret_validity_in_hours
                .map_or(8760, i64::from),
        ),
    }
}

/// `GET /orgs/{orgId}/settings`
#[utoipa::path(get, path = "/api/atlas/v2/orgs/{orgId}/settings", tag = "Organizations",
    params(("orgId" = String, Path)),
    responses((status = 200, body = OrgSettingsBody), ApiErrors<Read>))]
pub async fn get_settings(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(org_id): PathParams<String>,
) -> R<Json<OrgSettingsBody>> {
    let (org, _) = state.org(&org_id).await?;
    caller.may(Operation::GetOrgSettings, Resource::Org(&org_id))?;
    Ok(Json(settings_view(&org)))
}

/// `PATCH /orgs/{orgId}/settings`
#[utoipa::path(patch, path = "/api/atlas/v2/orgs/{orgId}/settings", tag = "Organizations",
    params(("orgId" = String, Path)), request_body = OrgSettingsBody,
    responses((status = 200, body = OrgSettingsBody), ApiErrors<Write>))]
pub async fn update_settings(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(org_id): PathParams<String>,
    Body(body): Body<OrgSettingsBody>,
) -> R<Json<OrgSettingsBody>> {
    let (mut org, rev) = state.org(&org_id).await?;
    caller.may(Operation::UpdateOrgSettings, Resource::Org(&org_id))?;
    let s = &mut org.settings;
    let before = s.restrict_employee_access;
    if let Some(h) = body.max_service_account_secret_validity_in_hours {
        s.max_service_account_secret_validity_in_hours = Some(validate::secret_hours(h)?);
    }
    if let Some(v) = body.api_access_list_required {
        s.api_access_list_required = v;
    }
    if let Some(v) = body.multi_factor_auth_required {
        s.multi_factor_auth_required = v;
    }
    if let Some(v) = body.restrict_employee_access {
        s.restrict_employee_access = v;
    }
    let kind = match (before, s.restrict_employee_access) {
        (false, true) => "ORG_EMPLOYEE_ACCESS_RESTRICTED",
        (true, false) => "ORG_EMPLOYEE_ACCESS_UNRESTRICTED",
        _ => "ORG_SETTINGS_UPDATED",
    };
    let ev = Event::new(kind, &caller, &org_id, None, None);
    let ops = vec![Op::Put {
        key: format!("orgs/{org_id}"),
        value: to_value(&org)?,
        expect: Expect::Revision(rev),
    }];
    state.write(ops, ev).await?;
    Ok(Json(settings_view(&org)))
}

async fn visible_groups(state: &Shared, caller: &Caller, org_id: &str) -> R<Vec<GroupView>> {
    let mut out = Vec::new();
    for (_, p, _) in state.list::<Project>("groups/").await? {
        if p.org_id == org_id && caller.principal.sees_group(&p.org_id, &p.id) {
            out.push(group_view(state, &p).await?);
        }
    }
    Ok(out)
}

/// `GET /groups`: the projects the caller sees.
#[utoipa::path(get, path = "/api/atlas/v2/groups", tag = "Projects", params(PageQuery),
    responses((status = 200, body = Paged<GroupView>), ApiErrors<ListAll>))]
pub async fn list_groups(
    State(state): State<Shared>,
    caller: Caller,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<GroupView>>> {
    let page = q.check()?;
    caller.may(Operation::ListGroups, Resource::Global)?;
    let org_id = caller.principal.org_id.clone();
    let all = visible_groups(&state, &caller, &org_id).await?;
    Ok(Json(page.apply(all, &format!("{V2}/groups"))))
}

/// `GET /orgs/{orgId}/groups`
#[utoipa::path(get, path = "/api/atlas/v2/orgs/{orgId}/groups", tag = "Projects",
    params(("orgId" = String, Path), PageQuery),
    responses((status = 200, body = Paged<GroupView>), ApiErrors<List>))]
pub async fn list_org_groups(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(org_id): PathParams<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<GroupView>>> {
    let page = q.check()?;
    state.org(&org_id).await?;
    caller.may(Operation::ListOrgGroups, Resource::Org(&org_id))?;
    let all = visible_groups(&state, &caller, &org_id).await?;
    Ok(Json(page.apply(all, &format!("{V2}/orgs/{org_id}/groups"))))
}

/// `POST /groups`
#[utoipa::path(post, path = "/api/atlas/v2/groups", tag = "Projects", request_body = CreateGroup,
    responses((status = 201, body = GroupView,
               links(("GetGroup" = (operation_id = "get_group", parameters(("groupId" = "$response.body#/id")))),
                     ("DeleteGroup" = (operation_id = "delete_group", parameters(("groupId" = "$response.body#/id")))))), ApiErrors<Write>))]
pub async fn create_group(
    State(state): State<Shared>,
    caller: Caller,
    Body(body): Body<CreateGroup>,
) -> R<(StatusCode, Json<GroupView>)> {
    validate::text("name", &body.name, 64)?;
    let (org, _) = state.org(&body.org_id).await?;
    caller.may(Operation::CreateGroup, Resource::Org(&org.id))?;
    let (_, t) = now();
    let project = Project {
        id: random_id(),
        name: body.name.clone(),
        org_id: org.id.clone(),
        created: validate::rfc3339(t)?,
    };
    let mut ops = vec![
        Op::Put {
            key: name_key(&org.id, &project.name),
            value: serde_json::Value::String(project.id.clone()),
            expect: Expect::Absent,
        },
        Op::Put {
            key: format!("groups/{}", project.id),
            value: to_value(&project)?,
            expect: Expect::Absent,
        },
    ];
    // Atlas makes the creator Project Owner of the new project.
    if !caller.principal.org_roles.contains(&OrgRole::Owner) {
        let key = accounts::account_key(&caller.account.client_id);
        let (mut acct, rev) = state
            .get::<ServiceAccount>(&key)
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("the service account is gone".into()))?;
        acct.group_roles
            .insert(project.id.clone(), vec![GroupRole::Owner]);
        ops.push(Op::Put {
            key,
            value: to_value(&acct)?,
            expect: Expect::Revision(rev),
        });
    }
    let ev = Event::new(
        "GROUP_CREATED",
        &caller,
        &org.id,
        Some(&project.id),
        Some(project.name.clone()),
    );
    state
        .write(ops, ev)
        .await
        .map_err(|e| duplicate(e, &body.name))?;
    Ok((
        StatusCode::CREATED,
        Json(group_view(&state, &project).await?),
    ))
}

fn duplicate(e: ApiError, name: &str) -> ApiError {
    match e {
        ApiError::Conflict { .. } => ApiError::conflict(
            "GROUP_ALREADY_EXISTS",
            format!("a project named {name} already exists in this organization"),
        ),
        other => other,
    }
}

/// `GET /groups/{groupId}`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}", tag = "Projects", operation_id = "get_group",
    params(("groupId" = String, Path)),
    responses((status = 200, body = GroupView), ApiErrors<Read>))]
pub async fn get_group(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
) -> R<Json<GroupView>> {
    let p = state
        .project_for(&caller, Operation::GetGroup, &group_id)
        .await?;
    Ok(Json(group_view(&state, &p).await?))
}

/// `PATCH /groups/{groupId}` (rename)
#[utoipa::path(patch, path = "/api/atlas/v2/groups/{groupId}", tag = "Projects",
    params(("groupId" = String, Path)), request_body = Rename,
    responses((status = 200, body = GroupView), ApiErrors<Write>))]
pub async fn update_group(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    Body(body): Body<Rename>,
) -> R<Json<GroupView>> {
    let (mut p, rev) = state.project(&group_id).await?;
    caller.may_group(Operation::UpdateGroup, &p)?;
    validate::text("name", &body.name, 64)?;
    let mut ops = Vec::new();
    if name_key(&p.org_id, &body.name) != name_key(&p.org_id, &p.name) {
        let old = name_key(&p.org_id, &p.name);
        if let Some(item) = state.store.get(&old).await? {
            ops.push(Op::Delete {
                key: old,
                expect: Expect::Revision(item.revision),
            });
        }
        ops.push(Op::Put {
            key: name_key(&p.org_id, &body.name),
            value: serde_json::Value::String(p.id.clone()),
            expect: Expect::Absent,
        });
    }
    p.name = body.name.clone();
    ops.push(Op::Put {
        key: format!("groups/{group_id}"),
        value: to_value(&p)?,
        expect: Expect::Revision(rev),
    });
    let ev = Event::new(
        "GROUP_RENAMED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(p.name.clone()),
    );
    state
        .write(ops, ev)
        .await
        .map_err(|e| duplicate(e, &body.name))?;
    Ok(Json(group_view(&state, &p).await?))
}

/// `DELETE /groups/{groupId}`: refused while the project has clusters.
#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}", tag = "Projects", operation_id = "delete_group",
    params(("groupId" = String, Path)),
    responses((status = 204), ApiErrors<Delete>))]
pub async fn delete_group(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
) -> R<StatusCode> {
    let (p, rev) = state.project(&group_id).await?;
    caller.may_group(Operation::DeleteGroup, &p)?;
    let prefix = format!("groups/{group_id}/");
    let items = state.store.list(&prefix).await?;
    if items
        .iter()
        .any(|i| i.key.starts_with(&format!("{prefix}clusters/")))
    {
        return Err(ApiError::conflict(
            "CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS",
            "the project still has clusters; delete them first",
        ));
    }
    // The project's users, roles and access list go with it. Cluster creation rewrites the
    // project record, so the Expect below also catches a cluster added meanwhile.
    let mut ops: Vec<Op> = items
        .into_iter()
        .map(|i| Op::Delete {
            key: i.key,
            expect: Expect::Revision(i.revision),
        })
        .collect();
    // Children created since the list above (each checks that the project exists).
    ops.push(Op::DeletePrefix { prefix });
    ops.push(Op::Delete {
        key: format!("groups/{group_id}"),
        expect: Expect::Revision(rev),
    });
    if let Some(item) = state.store.get(&name_key(&p.org_id, &p.name)).await? {
        ops.push(Op::Delete {
            key: item.key,
            expect: Expect::Revision(item.revision),
        });
    }
    let ev = Event::new(
        "GROUP_DELETED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(p.name.clone()),
    );
    state.write(ops, ev).await?;
    Ok(StatusCode::NO_CONTENT)
}
