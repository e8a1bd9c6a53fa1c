//! HTTP handlers of the service-account endpoints. The organization level (`org::*`) and the
//! project level (`group::*`) are the same ten handlers over a different [`Level`], written
//! once by [`service_account_routes!`]; the shared logic is in `service_accounts.rs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::ApiError;
use super::extract::{Body, PathParams, QueryParams};
use super::paging::{PageQuery, Paged};
use super::responses::{ApiErrors, Delete, Invite, List, Read, Write};
use super::service_accounts::{self as sa, Level};
use super::state::{Caller, Shared};
use super::types::{
    CreateGroupServiceAccount, CreateOrgServiceAccount, CreateSecret, InviteServiceAccount,
    SaAccessEntries, SaAccessEntryBody, SecretView, ServiceAccountView, UpdateGroupServiceAccount,
    UpdateOrgServiceAccount,
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

/// One level's handlers: `$base` is the accounts' collection path, `$id` the name of its
/// path id, `$level` answers the [`Level`] after the caller's role is checked, and the
/// operations are the authorization table's, in handler order.
macro_rules! service_account_routes {
    (
        $module:ident, $prefix:tt, $base:tt, $id:tt, $id_ref:tt, $level:ident,
        $create_body:ty, $update_body:ty,
        [$list:ident, $create:ident, $get:ident, $update:ident, $delete:ident,
         $add_secret:ident, $delete_secret:ident, $list_access:ident, $add_access:ident,
         $delete_access:ident]
    ) => {
        pub mod $module {
            use super::*;

            #[utoipa::path(get, path = $base, tag = "Service Accounts",
                operation_id = concat!($prefix, "_list"),
                params(($id = String, Path), PageQuery),
                responses((status = 200, body = Paged<ServiceAccountView>), ApiErrors<List>))]
            pub async fn list(
                State(s): State<Shared>,
                c: Caller,
                PathParams(id): PathParams<String>,
                QueryParams(q): QueryParams<PageQuery>,
            ) -> R<Json<Paged<ServiceAccountView>>> {
                let page = q.check()?;
                let level = $level(&s, &c, &id, Operation::$list).await?;
                let path = $base.replace(concat!("{", $id, "}"), &id);
                Ok(Json(page.apply(sa::list(&s, &level).await?, &path)))
            }

            #[utoipa::path(post, path = $base, tag = "Service Accounts",
                operation_id = concat!($prefix, "_create"),
                params(($id = String, Path)), request_body = inline($create_body),
                responses((status = 201, body = ServiceAccountView,
                           links(("Get" = (operation_id = concat!($prefix, "_get"), parameters(($id = $id_ref), ("clientId" = "$response.body#/clientId")))),
                                 ("Delete" = (operation_id = concat!($prefix, "_delete"), parameters(($id = $id_ref), ("clientId" = "$response.body#/clientId")))))),
                          ApiErrors<Write>))]
            pub async fn create(
                State(s): State<Shared>,
                c: Caller,
                PathParams(id): PathParams<String>,
                Body(b): Body<$create_body>,
            ) -> R<(StatusCode, Json<ServiceAccountView>)> {
                let level = $level(&s, &c, &id, Operation::$create).await?;
                let view = sa::create(&s, &c, &level, b.named()).await?;
                Ok((StatusCode::CREATED, Json(view)))
            }

            #[utoipa::path(get, path = concat!($base, "/{clientId}"), tag = "Service Accounts",
                operation_id = concat!($prefix, "_get"),
                params(($id = String, Path), ("clientId" = String, Path)),
                responses((status = 200, body = ServiceAccountView), ApiErrors<Read>))]
            pub async fn get(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client)): PathParams<(String, String)>,
            ) -> R<Json<ServiceAccountView>> {
                let level = $level(&s, &c, &id, Operation::$get).await?;
                let (a, _) = sa::load(&s, &level, &client).await?;
                Ok(Json(sa::view(&level, &a, None)?))
            }

            #[utoipa::path(patch, path = concat!($base, "/{clientId}"), tag = "Service Accounts",
                operation_id = concat!($prefix, "_update"),
                params(($id = String, Path), ("clientId" = String, Path)),
                request_body = inline($update_body),
                responses((status = 200, body = ServiceAccountView), ApiErrors<Write>))]
            pub async fn update(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client)): PathParams<(String, String)>,
                Body(b): Body<$update_body>,
            ) -> R<Json<ServiceAccountView>> {
                let level = $level(&s, &c, &id, Operation::$update).await?;
                Ok(Json(sa::update(&s, &c, &level, &client, b.named()).await?))
            }

            #[utoipa::path(delete, path = concat!($base, "/{clientId}"), tag = "Service Accounts",
                operation_id = concat!($prefix, "_delete"),
                params(($id = String, Path), ("clientId" = String, Path)),
                responses((status = 204), ApiErrors<Delete>))]
            pub async fn delete(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client)): PathParams<(String, String)>,
            ) -> R<StatusCode> {
                let level = $level(&s, &c, &id, Operation::$delete).await?;
                sa::delete(&s, &c, &level, &client).await?;
                Ok(StatusCode::NO_CONTENT)
            }

            #[utoipa::path(post, path = concat!($base, "/{clientId}/secrets"), tag = "Service Accounts",
                operation_id = concat!($prefix, "_add_secret"),
                params(($id = String, Path), ("clientId" = String, Path)),
                request_body = CreateSecret,
                responses((status = 201, body = SecretView), ApiErrors<Write>))]
            pub async fn add_secret(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client)): PathParams<(String, String)>,
                Body(b): Body<CreateSecret>,
            ) -> R<(StatusCode, Json<SecretView>)> {
                let level = $level(&s, &c, &id, Operation::$add_secret).await?;
                let secret = sa::add_secret(&s, &c, &level, &client, b).await?;
                Ok((StatusCode::CREATED, Json(secret)))
            }

            #[utoipa::path(delete, path = concat!($base, "/{clientId}/secrets/{secretId}"),
                tag = "Service Accounts", operation_id = concat!($prefix, "_delete_secret"),
                params(($id = String, Path), ("clientId" = String, Path), ("secretId" = String, Path)),
                responses((status = 204), ApiErrors<Delete>))]
            pub async fn delete_secret(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client, secret)): PathParams<(String, String, String)>,
            ) -> R<StatusCode> {
                let level = $level(&s, &c, &id, Operation::$delete_secret).await?;
                sa::delete_secret(&s, &c, &level, &client, &secret).await?;
                Ok(StatusCode::NO_CONTENT)
            }

            #[utoipa::path(get, path = concat!($base, "/{clientId}/accessList"), tag = "Service Accounts",
                operation_id = concat!($prefix, "_list_access"),
                params(($id = String, Path), ("clientId" = String, Path), PageQuery),
                responses((status = 200, body = Paged<SaAccessEntryBody>), ApiErrors<List>))]
            pub async fn list_access(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client)): PathParams<(String, String)>,
                QueryParams(q): QueryParams<PageQuery>,
            ) -> R<Json<Paged<SaAccessEntryBody>>> {
                let page = q.check()?;
                let level = $level(&s, &c, &id, Operation::$list_access).await?;
                let entries = sa::access_list(&s, &level, &client).await?;
                Ok(Json(page.apply(entries, "accessList")))
            }

            #[utoipa::path(post, path = concat!($base, "/{clientId}/accessList"), tag = "Service Accounts",
                operation_id = concat!($prefix, "_add_access"),
                params(($id = String, Path), ("clientId" = String, Path)),
                request_body = SaAccessEntries,
                responses((status = 201, body = Paged<SaAccessEntryBody>), ApiErrors<Write>))]
            pub async fn add_access(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client)): PathParams<(String, String)>,
                Body(SaAccessEntries(b)): Body<SaAccessEntries>,
            ) -> R<(StatusCode, Json<Paged<SaAccessEntryBody>>)> {
                let level = $level(&s, &c, &id, Operation::$add_access).await?;
                let all = sa::add_access(&s, &c, &level, &client, b).await?;
                let page = PageQuery::default().check()?.apply(all, "accessList");
                Ok((StatusCode::CREATED, Json(page)))
            }

            #[utoipa::path(delete, path = concat!($base, "/{clientId}/accessList/{ipAddress}"),
                tag = "Service Accounts", operation_id = concat!($prefix, "_delete_access"),
                params(($id = String, Path), ("clientId" = String, Path), ("ipAddress" = String, Path)),
                responses((status = 204), ApiErrors<Delete>))]
            pub async fn delete_access(
                State(s): State<Shared>,
                c: Caller,
                PathParams((id, client, entry)): PathParams<(String, String, String)>,
            ) -> R<StatusCode> {
                let level = $level(&s, &c, &id, Operation::$delete_access).await?;
                sa::delete_access(&s, &c, &level, &client, &entry).await?;
                Ok(StatusCode::NO_CONTENT)
            }
        }
    };
}

service_account_routes!(
    org,
    "org",
    "/api/atlas/v2/orgs/{orgId}/serviceAccounts",
    "orgId",
    "$request.path.orgId",
    org_level,
    CreateOrgServiceAccount,
    UpdateOrgServiceAccount,
    [
        ListOrgServiceAccounts,
        CreateOrgServiceAccount,
        GetOrgServiceAccount,
        UpdateOrgServiceAccount,
        DeleteOrgServiceAccount,
        CreateOrgSaSecret,
        DeleteOrgSaSecret,
        ListOrgSaAccessList,
        CreateOrgSaAccessList,
        DeleteOrgSaAccessEntry
    ]
);

service_account_routes!(
    group,
    "group",
    "/api/atlas/v2/groups/{groupId}/serviceAccounts",
    "groupId",
    "$request.path.groupId",
    group_level,
    CreateGroupServiceAccount,
    UpdateGroupServiceAccount,
    [
        ListGroupServiceAccounts,
        CreateGroupServiceAccount,
        GetGroupServiceAccount,
        UpdateGroupServiceAccount,
        DeleteGroupServiceAccount,
        CreateGroupSaSecret,
        DeleteGroupSaSecret,
        ListGroupSaAccessList,
        CreateGroupSaAccessList,
        DeleteGroupSaAccessEntry
    ]
);

/// `POST /groups/{groupId}/serviceAccounts/{clientId}:invite` (the router hands over the
/// whole last segment; anything but `:invite` is not an endpoint).
#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/serviceAccounts/{clientId}:invite", tag = "Service Accounts",
    params(("groupId" = String, Path), ("clientId" = String, Path)), request_body = InviteServiceAccount,
    responses((status = 200, body = ServiceAccountView), ApiErrors<Invite>))]
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
    Ok(Json(sa::invite(&s, &c, &org, &p, client, b.named()).await?))
}
