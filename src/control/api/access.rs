//! A project's IP access list (the data plane's network gate).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use time::OffsetDateTime;

use super::error::ApiError;
use super::events::Event;
use super::extract::{Body, PathParams, QueryParams};
use super::oauth::to_value;
use super::paging::{PageQuery, Paged};
use super::responses::{ApiErrors, Delete, List, Read, Write};
use super::state::{Caller, InGroup, Shared};
use super::types::{AccessEntries, AccessEntryBody, AccessStatus};
use super::validate;
use crate::control::authz::Operation;
use crate::control::model::{access_entry_key, access_list_prefix, AccessEntry};
use crate::control::store::{Expect, Op};

type R<T> = Result<T, ApiError>;

use super::types::MAX_ENTRIES as MAX_PER_REQUEST;

/// Checks one entry and returns it in stored form (a CIDR block in canonical form).
pub fn check_entry(group_id: &str, e: AccessEntryBody, now: OffsetDateTime) -> R<AccessEntry> {
    if e.group_id.as_deref().is_some_and(|g| g != group_id) {
        return Err(ApiError::validation(
            "groupId in the body must match the path",
        ));
    }
    let (cidr_block, ip_address) = match (e.cidr_block, e.ip_address) {
        (Some(c), None) => {
            let net: ipnet::IpNet = c.parse().map_err(|_| {
                ApiError::validation(format!("cidrBlock {c:?} is not a CIDR block"))
            })?;
            (Some(net.trunc().to_string()), None)
        }
        (None, Some(ip)) => {
            let a: std::net::IpAddr = ip.parse().map_err(|_| {
                ApiError::validation(format!("ipAddress {ip:?} is not an IP address"))
            })?;
            (None, Some(a.to_string()))
        }
        _ => {
            return Err(ApiError::validation(
                "give exactly one of cidrBlock and ipAddress",
            ))
        }
    };
    if let Some(c) = &e.comment {
        validate::optional_text("comment", c, 80)?;
    }
    let delete_after_date = e
        .delete_after_date
        .as_deref()
        .map(|d| validate::delete_after(d, now))
        .transpose()?;
    Ok(AccessEntry {
        group_id: group_id.to_string(),
        cidr_block,
        ip_address,
        comment: e.comment.filter(|c| !c.is_empty()),
        delete_after_date,
    })
}

fn view(e: &AccessEntry) -> AccessEntryBody {
    AccessEntryBody {
        cidr_block: e.cidr_block.clone(),
        ip_address: e.ip_address.clone(),
        comment: e.comment.clone(),
        delete_after_date: e.delete_after_date.clone(),
        group_id: Some(e.group_id.clone()),
    }
}

async fn all(state: &Shared, group_id: &str) -> R<Vec<AccessEntryBody>> {
    Ok(state
        .list::<AccessEntry>(&access_list_prefix(group_id))
        .await?
        .iter()
        .map(|(_, e, _)| view(e))
        .collect())
}

/// `GET /groups/{groupId}/accessList`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/accessList", tag = "Project IP Access List",
    params(("groupId" = String, Path), PageQuery),
    responses((status = 200, body = Paged<AccessEntryBody>), ApiErrors<List>))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<AccessEntryBody>>> {
    let what = InGroup {
        op: Operation::ListAccessList,
        records: access_list_prefix,
        path: "accessList",
    };
    Ok(Json(
        state
            .list_in_group(&caller, &group_id, &q, what, view)
            .await?,
    ))
}

/// `POST /groups/{groupId}/accessList`: adds (or replaces) the entries given, answers the list.
#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/accessList", tag = "Project IP Access List",
    params(("groupId" = String, Path)), request_body = AccessEntries,
    responses((status = 201, body = Paged<AccessEntryBody>), ApiErrors<Write>))]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    Body(AccessEntries(body)): Body<AccessEntries>,
) -> R<(StatusCode, Json<Paged<AccessEntryBody>>)> {
    let p = state
        .project_for(&caller, Operation::CreateAccessList, &group_id)
        .await?;
    if body.is_empty() || body.len() > MAX_PER_REQUEST {
        return Err(ApiError::validation(format!(
            "give 1 to {MAX_PER_REQUEST} entries"
        )));
    }
    let now = OffsetDateTime::now_utc();
    let (mut ops, mut events) = (Vec::new(), Vec::new());
    let mut seen = std::collections::BTreeSet::new();
    for e in body {
        let entry = check_entry(&group_id, e, now)?;
        let value = entry.value().unwrap_or_default().to_string();
        let key = access_entry_key(&group_id, &value);
        if !seen.insert(key.clone()) {
            return Err(ApiError::validation(format!("{value} is given twice")));
        }
        let (expect, kind) = match state.store.get(&key).await? {
            Some(item) => (
                Expect::Revision(item.revision),
                "NETWORK_PERMISSION_ENTRY_UPDATED",
            ),
            None => (Expect::Absent, "NETWORK_PERMISSION_ENTRY_ADDED"),
        };
        ops.push(Op::Put {
            key,
            value: to_value(&entry)?,
            expect,
        });
        events.push(Event::new(
            kind,
            &caller,
            &p.org_id,
            Some(&group_id),
            Some(value),
        ));
    }
    ops.push(crate::control::model::project_guard(&group_id));
    state.write_many(ops, events).await?;
    let entries = all(&state, &group_id).await?;
    let page = PageQuery::default().check()?;
    Ok((
        StatusCode::CREATED,
        Json(page.apply(
            entries,
            &format!("/api/atlas/v2/groups/{group_id}/accessList"),
        )),
    ))
}

async fn load(state: &Shared, group_id: &str, value: &str) -> R<(AccessEntry, i64)> {
    state
        .get::<AccessEntry>(&access_entry_key(group_id, value))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{value} is not on the access list")))
}

/// `GET /groups/{groupId}/accessList/{entryValue}` (a CIDR block URL-encoded: `%2F`)
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/accessList/{entryValue}", tag = "Project IP Access List",
    params(("groupId" = String, Path), ("entryValue" = String, Path)),
    responses((status = 200, body = AccessEntryBody), ApiErrors<Read>))]
pub async fn get(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, value)): PathParams<(String, String)>,
) -> R<Json<AccessEntryBody>> {
    state
        .project_for(&caller, Operation::GetAccessEntry, &group_id)
        .await?;
    Ok(Json(view(&load(&state, &group_id, &value).await?.0)))
}

/// `GET /groups/{groupId}/accessList/{entryValue}/status`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/accessList/{entryValue}/status", tag = "Project IP Access List",
    params(("groupId" = String, Path), ("entryValue" = String, Path)),
    responses((status = 200, body = AccessStatus), ApiErrors<Read>))]
pub async fn status(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, value)): PathParams<(String, String)>,
) -> R<Json<AccessStatus>> {
    state
        .project_for(&caller, Operation::GetAccessEntryStatus, &group_id)
        .await?;
    load(&state, &group_id, &value).await?;
    Ok(Json(AccessStatus {
        status: "ACTIVE".into(),
    }))
}

/// `DELETE /groups/{groupId}/accessList/{entryValue}`
#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}/accessList/{entryValue}", tag = "Project IP Access List",
    params(("groupId" = String, Path), ("entryValue" = String, Path)),
    responses((status = 204), ApiErrors<Delete>))]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, value)): PathParams<(String, String)>,
) -> R<StatusCode> {
    let p = state
        .project_for(&caller, Operation::DeleteAccessEntry, &group_id)
        .await?;
    let (_, rev) = load(&state, &group_id, &value).await?;
    let ops = vec![Op::Delete {
        key: access_entry_key(&group_id, &value),
        expect: Expect::Revision(rev),
    }];
    let ev = Event::new(
        "NETWORK_PERMISSION_ENTRY_REMOVED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(value),
    );
    state.write(ops, ev).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(cidr: Option<&str>, ip: Option<&str>, comment: Option<&str>) -> AccessEntryBody {
        AccessEntryBody {
            cidr_block: cidr.map(Into::into),
            ip_address: ip.map(Into::into),
            comment: comment.map(Into::into),
            delete_after_date: None,
            group_id: None,
        }
    }

    #[test]
    fn entries() {
        let g = "6a0000000000000000000001";
        let now = OffsetDateTime::now_utc();
        let e = check_entry(g, body(Some("10.1.2.3/8"), None, None), now).unwrap();
        assert_eq!(e.cidr_block.as_deref(), Some("10.0.0.0/8"));
        assert!(check_entry(g, body(Some("10.0.0.0/8"), Some("10.0.0.1"), None), now).is_err());
        assert!(check_entry(g, body(None, None, None), now).is_err());
        assert!(check_entry(g, body(None, Some("nope"), None), now).is_err());
        assert!(check_entry(g, body(None, Some("::1"), Some(&"c".repeat(81))), now).is_err());
        assert!(check_entry(g, body(None, Some("::1"), Some(&"c".repeat(80))), now).is_ok());
    }
}
