//! HTTP handlers of the service-account endpoints (org and project level).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::{ApiError, ApiErrorBody};
use super::extract::{Body, PathParams, QueryParams};
use super::paging::{PageQuery, Paged};
use super::service_accounts::{self as sa, Level};
use super::state::{Caller, Shared};
use super::types::{
    CreateSecret, CreateServiceAccount, InviteServiceAccount, SaAccessEntryBody, SecretView,
    ServiceAccountView, UpdateServiceAccount,
};
use crate::control::authz::{Operation, Resource};

type R<T> = Result<T, ApiError>;

async fn org_level(state: &Shared, caller: &Caller, org_id: &str, op: Operation) -> R<Level> {
    let (org, _) = state.org(org_id).await?;
    caller.may(op, Resource::Org(org_id))?;
    Ok(Level::Org(org))
}

async fn group_level(state: &Shared, caller: &Caller, group_id: &str, op: Operation) -> R<Level> {
    let (p, _) = state.project(group_id).await?;
    caller.may_group(op, &p)?;
    let (org, _) = state.org(&p.org_id).await?;
    Ok(Level::Group(org, p))
}

// Organization level.

#[utoipa::path(get, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts", tag = "Service Accounts",
            params(("orgId" = String, Path), PageQuery),
            responses((status = 200, body = Paged<ServiceAccountView>), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn org_list(
    State(s): State<Shared>,
    c: Caller,
    PathParams(id): PathParams<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<ServiceAccountView>>> {
    let page = q.check()?;
    let level = org_level(&s, &c, &id, Operation::ListOrgServiceAccounts).await?;
    Ok(Json(page.apply(
        sa::list(&s, &level).await?,
        &format!("/api/atlas/v2/orgs/{id}/serviceAccounts"),
    )))
}

#[utoipa::path(post, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts", tag = "Service Accounts",
            params(("orgId" = String, Path)), request_body = CreateServiceAccount,
            responses((status = 201, body = ServiceAccountView,
                       links(("Get" = (operation_id = "org_get", parameters(("orgId" = "$request.path.orgId"), ("clientId" = "$response.body#/clientId")))),
                             ("Delete" = (operation_id = "org_delete", parameters(("orgId" = "$request.path.orgId"), ("clientId" = "$response.body#/clientId")))))),
                      (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn org_create(
    State(s): State<Shared>,
    c: Caller,
    PathParams(id): PathParams<String>,
    Body(b): Body<CreateServiceAccount>,
) -> R<(StatusCode, Json<ServiceAccountView>)> {
    let level = org_level(&s, &c, &id, Operation::CreateOrgServiceAccount).await?;
    Ok((
        StatusCode::CREATED,
        Json(sa::create(&s, &c, &level, b).await?),
    ))
}

#[utoipa::path(get, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}", tag = "Service Accounts", operation_id = "org_get",
            params(("orgId" = String, Path), ("clientId" = String, Path)),
            responses((status = 200, body = ServiceAccountView), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn org_get(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
) -> R<Json<ServiceAccountView>> {
    let level = org_level(&s, &c, &id, Operation::GetOrgServiceAccount).await?;
    let (a, _) = sa::load(&s, &level, &client).await?;
    Ok(Json(sa::view(&level, &a, None)?))
}

#[utoipa::path(patch, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}", tag = "Service Accounts",
            params(("orgId" = String, Path), ("clientId" = String, Path)), request_body = UpdateServiceAccount,
            responses((status = 200, body = ServiceAccountView), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
                      (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn org_update(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    Body(b): Body<UpdateServiceAccount>,
) -> R<Json<ServiceAccountView>> {
    let level = org_level(&s, &c, &id, Operation::UpdateOrgServiceAccount).await?;
    Ok(Json(sa::update(&s, &c, &level, &client, b).await?))
}

#[utoipa::path(delete, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}", tag = "Service Accounts", operation_id = "org_delete",
            params(("orgId" = String, Path), ("clientId" = String, Path)),
            responses((status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn org_delete(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
) -> R<StatusCode> {
    let level = org_level(&s, &c, &id, Operation::DeleteOrgServiceAccount).await?;
    sa::delete(&s, &c, &level, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}/secrets", tag = "Service Accounts",
            params(("orgId" = String, Path), ("clientId" = String, Path)), request_body = CreateSecret,
            responses((status = 201, body = SecretView), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
                      (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn org_add_secret(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    Body(b): Body<CreateSecret>,
) -> R<(StatusCode, Json<SecretView>)> {
    let level = org_level(&s, &c, &id, Operation::CreateOrgSaSecret).await?;
    Ok((
        StatusCode::CREATED,
        Json(sa::add_secret(&s, &c, &level, &client, b).await?),
    ))
}

#[utoipa::path(delete, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}/secrets/{secretId}", tag = "Service Accounts",
            params(("orgId" = String, Path), ("clientId" = String, Path), ("secretId" = String, Path)),
            responses((status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn org_delete_secret(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client, secret)): PathParams<(String, String, String)>,
) -> R<StatusCode> {
    let level = org_level(&s, &c, &id, Operation::DeleteOrgSaSecret).await?;
    sa::delete_secret(&s, &c, &level, &client, &secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}/accessList", tag = "Service Accounts",
            params(("orgId" = String, Path), ("clientId" = String, Path), PageQuery),
            responses((status = 200, body = Paged<SaAccessEntryBody>), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn org_list_access(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<SaAccessEntryBody>>> {
    let page = q.check()?;
    let level = org_level(&s, &c, &id, Operation::ListOrgSaAccessList).await?;
    Ok(Json(page.apply(
        sa::access_list(&s, &level, &client).await?,
        "accessList",
    )))
}

#[utoipa::path(post, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}/accessList", tag = "Service Accounts",
            params(("orgId" = String, Path), ("clientId" = String, Path)), request_body = Vec<SaAccessEntryBody>,
            responses((status = 201, body = Paged<SaAccessEntryBody>), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
                      (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn org_add_access(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    Body(b): Body<Vec<SaAccessEntryBody>>,
) -> R<(StatusCode, Json<Paged<SaAccessEntryBody>>)> {
    let level = org_level(&s, &c, &id, Operation::CreateOrgSaAccessList).await?;
    let all = sa::add_access(&s, &c, &level, &client, b).await?;
    Ok((
        StatusCode::CREATED,
        Json(PageQuery::default().check()?.apply(all, "accessList")),
    ))
}

#[utoipa::path(delete, path = "/api/atlas/v2/orgs/{orgId}/serviceAccounts/{clientId}/accessList/{ipAddress}", tag = "Service Accounts",
            params(("orgId" = String, Path), ("clientId" = String, Path), ("ipAddress" = String, Path)),
            responses((status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn org_delete_access(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client, entry)): PathParams<(String, String, String)>,
) -> R<StatusCode> {
    let level = org_level(&s, &c, &id, Operation::DeleteOrgSaAccessEntry).await?;
    sa::delete_access(&s, &c, &level, &client, &entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Project level.

#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts", tag = "Service Accounts",
            params(("groupId" = String, Path), PageQuery),
            responses((status = 200, body = Paged<ServiceAccountView>), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn group_list(
    State(s): State<Shared>,
    c: Caller,
    PathParams(id): PathParams<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<ServiceAccountView>>> {
    let page = q.check()?;
    let level = group_level(&s, &c, &id, Operation::ListGroupServiceAccounts).await?;
    Ok(Json(page.apply(
        sa::list(&s, &level).await?,
        &format!("/api/atlas/v2/groups/{id}/serviceAccounts"),
    )))
}

#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts", tag = "Service Accounts",
            params(("groupId" = String, Path)), request_body = CreateServiceAccount,
            responses((status = 201, body = ServiceAccountView,
                       links(("Get" = (operation_id = "group_get", parameters(("groupId" = "$request.path.groupId"), ("clientId" = "$response.body#/clientId")))),
                             ("Delete" = (operation_id = "group_delete", parameters(("groupId" = "$request.path.groupId"), ("clientId" = "$response.body#/clientId")))))),
                      (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn group_create(
    State(s): State<Shared>,
    c: Caller,
    PathParams(id): PathParams<String>,
    Body(b): Body<CreateServiceAccount>,
) -> R<(StatusCode, Json<ServiceAccountView>)> {
    let level = group_level(&s, &c, &id, Operation::CreateGroupServiceAccount).await?;
    Ok((
        StatusCode::CREATED,
        Json(sa::create(&s, &c, &level, b).await?),
    ))
}

#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}", tag = "Service Accounts", operation_id = "group_get",
            params(("groupId" = String, Path), ("clientId" = String, Path)),
            responses((status = 200, body = ServiceAccountView), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn group_get(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
) -> R<Json<ServiceAccountView>> {
    let level = group_level(&s, &c, &id, Operation::GetGroupServiceAccount).await?;
    let (a, _) = sa::load(&s, &level, &client).await?;
    Ok(Json(sa::view(&level, &a, None)?))
}

#[utoipa::path(patch, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}", tag = "Service Accounts",
            params(("groupId" = String, Path), ("clientId" = String, Path)), request_body = UpdateServiceAccount,
            responses((status = 200, body = ServiceAccountView), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
                      (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn group_update(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    Body(b): Body<UpdateServiceAccount>,
) -> R<Json<ServiceAccountView>> {
    let level = group_level(&s, &c, &id, Operation::UpdateGroupServiceAccount).await?;
    Ok(Json(sa::update(&s, &c, &level, &client, b).await?))
}

#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}", tag = "Service Accounts", operation_id = "group_delete",
            params(("groupId" = String, Path), ("clientId" = String, Path)),
            responses((status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn group_delete(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
) -> R<StatusCode> {
    let level = group_level(&s, &c, &id, Operation::DeleteGroupServiceAccount).await?;
    sa::delete(&s, &c, &level, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}/secrets", tag = "Service Accounts",
            params(("groupId" = String, Path), ("clientId" = String, Path)), request_body = CreateSecret,
            responses((status = 201, body = SecretView), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
                      (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn group_add_secret(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    Body(b): Body<CreateSecret>,
) -> R<(StatusCode, Json<SecretView>)> {
    let level = group_level(&s, &c, &id, Operation::CreateGroupSaSecret).await?;
    Ok((
        StatusCode::CREATED,
        Json(sa::add_secret(&s, &c, &level, &client, b).await?),
    ))
}

#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}/secrets/{secretId}", tag = "Service Accounts",
            params(("groupId" = String, Path), ("clientId" = String, Path), ("secretId" = String, Path)),
            responses((status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn group_delete_secret(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client, secret)): PathParams<(String, String, String)>,
) -> R<StatusCode> {
    let level = group_level(&s, &c, &id, Operation::DeleteGroupSaSecret).await?;
    sa::delete_secret(&s, &c, &level, &client, &secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}/accessList", tag = "Service Accounts",
            params(("groupId" = String, Path), ("clientId" = String, Path), PageQuery),
            responses((status = 200, body = Paged<SaAccessEntryBody>), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn group_list_access(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<SaAccessEntryBody>>> {
    let page = q.check()?;
    let level = group_level(&s, &c, &id, Operation::ListGroupSaAccessList).await?;
    Ok(Json(page.apply(
        sa::access_list(&s, &level, &client).await?,
        "accessList",
    )))
}

#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}/accessList", tag = "Service Accounts",
            params(("groupId" = String, Path), ("clientId" = String, Path)), request_body = Vec<SaAccessEntryBody>,
            responses((status = 201, body = Paged<SaAccessEntryBody>), (status = 400, body = ApiErrorBody),
                      (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
                      (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn group_add_access(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client)): PathParams<(String, String)>,
    Body(b): Body<Vec<SaAccessEntryBody>>,
) -> R<(StatusCode, Json<Paged<SaAccessEntryBody>>)> {
    let level = group_level(&s, &c, &id, Operation::CreateGroupSaAccessList).await?;
    let all = sa::add_access(&s, &c, &level, &client, b).await?;
    Ok((
        StatusCode::CREATED,
        Json(PageQuery::default().check()?.apply(all, "accessList")),
    ))
}

#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}/accessList/{ipAddress}", tag = "Service Accounts",
            params(("groupId" = String, Path), ("clientId" = String, Path), ("ipAddress" = String, Path)),
            responses((status = 204), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
                      (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn group_delete_access(
    State(s): State<Shared>,
    c: Caller,
    PathParams((id, client, entry)): PathParams<(String, String, String)>,
) -> R<StatusCode> {
    let level = group_level(&s, &c, &id, Operation::DeleteGroupSaAccessEntry).await?;
    sa::delete_access(&s, &c, &level, &client, &entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /groups/{groupId}/serviceAccounts/{clientId}:invite` (the router hands over the
/// whole last segment; anything but `:invite` is not an endpoint).
#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}:invite", tag = "Service Accounts",
    params(("groupId" = String, Path), ("clientId" = String, Path)), request_body = InviteServiceAccount,
    responses((status = 200, body = ServiceAccountView), (status = 400, body = ApiErrorBody),
              (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn invite(
    State(s): State<Shared>,
    c: Caller,
    PathParams((group_id, segment)): PathParams<(String, String)>,
    req: axum::extract::Request,
) -> R<Json<ServiceAccountView>> {
    // POST on a plain account path is no endpoint: 405 before the body is looked at.
    let client = segment
        .strip_suffix(":invite")
        .ok_or(ApiError::MethodNotAllowed)?;
    let Body(b) =
        <Body<InviteServiceAccount> as axum::extract::FromRequest<()>>::from_request(req, &())
            .await?;
    let (p, _) = s.project(&group_id).await?;
    c.may(
        Operation::InviteServiceAccount,
        Resource::Group {
            org_id: &p.org_id,
            group_id: &p.id,
        },
    )?;
    let (org, _) = s.org(&p.org_id).await?;
    Ok(Json(sa::invite(&s, &c, &org, &p, client, b.roles).await?))
}
