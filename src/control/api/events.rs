//! The activity feed: one append-only event per change, written in the change's own
//! transaction (`AppState::write`) and copied to the audit sink.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{PathParams, QueryParams};
use super::paging::{PageQuery, Paged};
use super::responses::{ApiErrors, List};
use super::state::{Caller, Shared};
use crate::control::authz::{Operation, Resource};
use crate::ops::audit::{AuditEvent, Endpoint, Timestamp};

/// One activity-feed event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    /// RFC 3339 with milliseconds, UTC.
    pub created: String,
    /// Atlas event type (`MONGODB_USER_ADDED`, `NETWORK_PERMISSION_ENTRY_ADDED`, ...).
    pub event_type_name: String,
    pub org_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The service account that made the change (its client id).
    pub actor: String,
    pub remote_address: String,
    /// What changed (user `db/name`, role, entry, cluster, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_username: Option<String>,
}

fn created_now() -> (String, i64) {
    let t = OffsetDateTime::now_utc();
    let millis = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    (created_text(t), millis)
}

/// Fixed-width UTC with milliseconds, so keys sort by time as strings.
fn created_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

impl Event {
    /// An event by `caller` on `org_id` (and `group_id`), created now.
    pub fn new(
        kind: &str,
        caller: &Caller,
        org_id: &str,
        group_id: Option<&str>,
        target: Option<String>,
    ) -> Event {
        Event {
            id: super::state::random_id(),
            created: created_now().0,
            event_type_name: kind.to_string(),
            org_id: org_id.to_string(),
            group_id: group_id.map(str::to_string),
            actor: caller.account.client_id.clone(),
            remote_address: caller.remote.to_string(),
            target,
            target_username: None,
        }
    }

    /// An event made by mongoward itself (e.g. `admin init`), not through the API.
    pub fn system(kind: &str, actor: &str, org_id: &str, target: Option<String>) -> Event {
        Event {
            id: super::state::random_id(),
            created: created_now().0,
            event_type_name: kind.to_string(),
            org_id: org_id.to_string(),
            group_id: None,
            actor: actor.to_string(),
            remote_address: "local".into(),
            target,
            target_username: None,
        }
    }

    pub fn with_username(mut self, u: &str) -> Event {
        self.target_username = Some(u.to_string());
        self
    }

    /// `events/{orgId}/{created}-{id}`: sorted by time within an organization.
    pub fn key(&self) -> String {
        format!("events/{}/{}-{}", self.org_id, self.created, self.id)
    }

    /// The same event as an audit line.
    pub fn audit(&self) -> AuditEvent {
        let millis = OffsetDateTime::parse(&self.created, &Rfc3339)
            .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
            .unwrap_or(0);
        AuditEvent {
            atype: "controlPlaneChange",
            ts: Timestamp(millis),
            local: Endpoint::System,
            remote: self
                .remote_address
                .parse()
                .map(|ip| Endpoint::Addr(std::net::SocketAddr::new(ip, 0)))
                .unwrap_or(Endpoint::System),
            users: Vec::new(),
            roles: Vec::new(),
            param: serde_json::to_value(self).unwrap_or_default(),
            result: 0,
            cluster: None,
            conn_id: None,
        }
    }
}

/// Filters of the event lists.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only this event type.
    pub event_type: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime)]
    pub min_date: Option<String>,
    /// Created at or before (RFC 3339).
    #[param(format = DateTime)]
    pub max_date: Option<String>,
    #[param(minimum = 1)]
    pub page_num: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub items_per_page: Option<i64>,
    pub include_count: Option<bool>,
}

fn parse_date(field: &str, s: &Option<String>) -> Result<Option<OffsetDateTime>, ApiError> {
    s.as_deref()
        .map(|d| {
            OffsetDateTime::parse(d, &Rfc3339)
                .map_err(|_| ApiError::validation(format!("{field} must be an ISO 8601 date")))
        })
        .transpose()
}

async fn list_events(
    state: &Shared,
    org_id: &str,
    group_id: Option<&str>,
    q: EventQuery,
    path: &str,
) -> Result<Paged<Event>, ApiError> {
    let page = PageQuery {
        page_num: q.page_num,
        items_per_page: q.items_per_page,
        include_count: q.include_count,
    }
    .check()?;
    let (min, max) = (
        parse_date("minDate", &q.min_date)?,
        parse_date("maxDate", &q.max_date)?,
    );
    let mut out = Vec::new();
    for (_, e, _) in state.list::<Event>(&format!("events/{org_id}/")).await? {
        if group_id.is_some() && e.group_id.as_deref() != group_id {
            continue;
        }
        if q.event_type
            .as_deref()
            .is_some_and(|t| t != e.event_type_name)
        {
            continue;
        }
        let at = OffsetDateTime::parse(&e.created, &Rfc3339).ok();
        if min.is_some_and(|m| at.is_some_and(|a| a < m))
            || max.is_some_and(|m| at.is_some_and(|a| a > m))
        {
            continue;
        }
        out.push(e);
    }
    out.reverse(); // newest first, as Atlas lists
    Ok(page.apply(out, path))
}

/// `GET /groups/{groupId}/events`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/events", tag = "Events",
    params(("groupId" = String, Path), EventQuery),
    responses((status = 200, body = Paged<Event>), ApiErrors<List>))]
pub async fn list_group_events(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    QueryParams(q): QueryParams<EventQuery>,
) -> Result<Json<Paged<Event>>, ApiError> {
    let (project, _) = state.project(&group_id).await?;
    caller.may_group(Operation::ListGroupEvents, &project)?;
    let path = format!("/api/atlas/v2/groups/{group_id}/events");
    Ok(Json(
        list_events(&state, &project.org_id, Some(&group_id), q, &path).await?,
    ))
}

/// `GET /orgs/{orgId}/events`
#[utoipa::path(get, path = "/api/atlas/v2/orgs/{orgId}/events", tag = "Events",
    params(("orgId" = String, Path), EventQuery),
    responses((status = 200, body = Paged<Event>), ApiErrors<List>))]
pub async fn list_org_events(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(org_id): PathParams<String>,
    QueryParams(q): QueryParams<EventQuery>,
) -> Result<Json<Paged<Event>>, ApiError> {
    state.org(&org_id).await?;
    caller.may(Operation::ListOrgEvents, Resource::Org(&org_id))?;
    let path = format!("/api/atlas/v2/orgs/{org_id}/events");
    Ok(Json(list_events(&state, &org_id, None, q, &path).await?))
}
