//! Shared state of the API, the authenticated caller, and the one write path (a change and
//! its event in one `Store::apply`).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use rand::RngCore;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::error::ApiError;
use super::events::Event;
use super::paging::{PageQuery, Paged};
use crate::control::accounts::{self, ServiceAccount, TokenRecord};
use crate::control::authz::{self, Operation, Principal, Resource};
use crate::control::model::{Org, Project};
use crate::control::store::{Expect, Op, Revision, Store, StoreError};
use crate::gates::throttle::Throttle;
use crate::ops::audit::Auditor;

/// The remote address of a connection, inserted by the server into each request.
#[derive(Clone, Copy, Debug)]
pub struct RemoteAddr(pub SocketAddr);

pub struct AppState {
    pub store: Store,
    pub auditor: Auditor,
    /// The token endpoint's failure throttle (the same rules as SCRAM failures).
    pub throttle: Mutex<Throttle>,
    started: Instant,
    /// The data plane's shared listener, for clusters routed by SNI (`host:port`).
    pub data_plane_addr: Option<String>,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(
        store: Store,
        auditor: Auditor,
        throttle: Throttle,
        data_plane_addr: Option<String>,
    ) -> AppState {
        AppState {
            store,
            auditor,
            throttle: Mutex::new(throttle),
            started: Instant::now(),
            data_plane_addr,
        }
    }

    /// Milliseconds on a monotonic clock (for the throttle).
    pub fn mono_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Reads and decodes one record.
    pub async fn get<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, Revision)>, ApiError> {
        match self.store.get(key).await? {
            None => Ok(None),
            Some(item) => {
                let v = serde_json::from_value(item.value)
                    .map_err(|e| ApiError::Internal(format!("corrupt record {key}: {e}")))?;
                Ok(Some((v, item.revision)))
            }
        }
    }

    /// Reads and decodes every record under `prefix` whose key has no further `/`.
    pub async fn list<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T, Revision)>, ApiError> {
        self.list_where(prefix, false).await
    }

    /// Reads and decodes every record under `prefix`, however deep.
    pub async fn list_deep<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T, Revision)>, ApiError> {
        self.list_where(prefix, true).await
    }

    async fn list_where<T: DeserializeOwned>(
        &self,
        prefix: &str,
        deep: bool,
    ) -> Result<Vec<(String, T, Revision)>, ApiError> {
        let mut out = Vec::new();
        for item in self.store.list(prefix).await? {
            let rest = &item.key[prefix.len().min(item.key.len())..];
            if !deep && rest.contains('/') {
                continue;
            }
            let v = serde_json::from_value(item.value)
                .map_err(|e| ApiError::Internal(format!("corrupt record {}: {e}", item.key)))?;
            out.push((item.key, v, item.revision));
        }
        Ok(out)
    }

    /// Applies `ops` and appends `event` in the same transaction, then audits the event.
    pub async fn write(&self, ops: Vec<Op>, event: Event) -> Result<Revision, ApiError> {
        self.write_many(ops, vec![event]).await
    }

    /// Applies `ops` with one event per change, all in one transaction.
    pub async fn write_many(
        &self,
        mut ops: Vec<Op>,
        events: Vec<Event>,
    ) -> Result<Revision, ApiError> {
        for event in &events {
            ops.push(Op::Put {
                key: event.key(),
                value: serde_json::to_value(event)
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
                expect: Expect::Absent,
            });
        }
        let rev = self.store.apply(ops).await?;
        for event in &events {
            self.auditor.emit(event.audit());
        }
        Ok(rev)
    }

    /// A list endpoint under a project: checks the paging, the project and the caller's
    /// role, then pages the view of every record of `what` (in key order).
    pub async fn list_in_group<T: DeserializeOwned, V>(
        &self,
        caller: &Caller,
        group_id: &str,
        q: &PageQuery,
        what: InGroup,
        view: impl Fn(&T) -> V,
    ) -> Result<Paged<V>, ApiError> {
        let page = q.check()?;
        self.project_for(caller, what.op, group_id).await?;
        let records = self.list_deep::<T>(&(what.records)(group_id)).await?;
        let views = records.iter().map(|(_, r, _)| view(r)).collect();
        let path = format!("/api/atlas/v2/groups/{group_id}/{}", what.path);
        Ok(page.apply(views, &path))
    }

    /// A project and the 404 when it is missing.
    pub async fn project(&self, group_id: &str) -> Result<(Project, Revision), ApiError> {
        super::validate::id("groupId", group_id)?;
        self.get(&format!("groups/{group_id}"))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no project with id {group_id}")))
    }

    /// The project `group_id` (404 when missing), once `caller` may run `op` on it (403).
    pub async fn project_for(
        &self,
        caller: &Caller,
        op: Operation,
        group_id: &str,
    ) -> Result<Project, ApiError> {
        let (p, _) = self.project(group_id).await?;
        caller.may_group(op, &p)?;
        Ok(p)
    }

    pub async fn org(&self, org_id: &str) -> Result<(Org, Revision), ApiError> {
        super::validate::id("orgId", org_id)?;
        self.get(&format!("orgs/{org_id}"))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no organization with id {org_id}")))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict { .. } => ApiError::conflict(
                "CONFLICT",
                "the resource was changed concurrently; read it again and retry",
            ),
            StoreError::NotFound { key } => ApiError::NotFound(format!("{key} does not exist")),
            StoreError::Unavailable(why) => {
                tracing::warn!(error.detail = %why, "control-plane store unavailable");
                ApiError::Unavailable
            }
            StoreError::Invalid(why) => ApiError::Internal(why),
        }
    }
}

/// One kind of record listed under a project.
pub struct InGroup {
    /// The operation the caller needs.
    pub op: Operation,
    /// The store prefix of the records, from the project id.
    pub records: fn(&str) -> String,
    /// The list's path below `/groups/{groupId}/` (for the page links).
    pub path: &'static str,
}

/// Now, as Unix seconds and as a date.
pub fn now() -> (i64, OffsetDateTime) {
    let t = OffsetDateTime::now_utc();
    (t.unix_timestamp(), t)
}

/// A random 24-hex id.
pub fn random_id() -> String {
    accounts::new_id(&mut rand::rngs::OsRng)
}

/// Fills a buffer from the OS (used where a value must be unguessable).
pub fn os_random(buf: &mut [u8]) {
    rand::rngs::OsRng.fill_bytes(buf);
}

/// An authenticated API caller.
pub struct Caller {
    pub account: ServiceAccount,
    pub principal: Principal,
    pub remote: IpAddr,
}

impl Caller {
    /// The pure decision, as an ApiError when refused.
    pub fn may(&self, op: Operation, resource: Resource<'_>) -> Result<(), ApiError> {
        authz::authorize(&self.principal, op, resource)
            .map(|_| ())
            .map_err(ApiError::Forbidden)
    }

    /// May run a project-scoped operation on `project`.
    pub fn may_group(&self, op: Operation, project: &Project) -> Result<(), ApiError> {
        self.may(
            op,
            Resource::Group {
                org_id: &project.org_id,
                group_id: &project.id,
            },
        )
    }
}

pub fn remote_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<RemoteAddr>()
        .map(|r| r.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let unauth = || ApiError::Unauthenticated("a valid bearer token is required".into());
        let token = bearer(parts).ok_or_else(unauth)?;
        let client_id = accounts::token_client_id(token).ok_or_else(unauth)?;
        let key = format!(
            "{}{}",
            accounts::tokens_prefix(client_id),
            accounts::sha256_hex(token)
        );
        let (now_s, _) = now();
        let (rec, _) = state.get::<TokenRecord>(&key).await?.ok_or_else(unauth)?;
        if rec.expires_at <= now_s || rec.client_id != client_id {
            return Err(unauth());
        }
        let (account, _) = state
            .get::<ServiceAccount>(&accounts::account_key(client_id))
            .await?
            .ok_or_else(unauth)?;
        if !account.secret_live(&rec.secret_id, now_s) {
            return Err(unauth());
        }
        let list_required = match state
            .get::<Org>(&format!("orgs/{}", account.org_id))
            .await?
        {
            Some((org, _)) => org.settings.api_access_list_required,
            None => return Err(unauth()),
        };
        let remote = remote_ip(parts);
        if !account.admits(remote, list_required) {
            return Err(ApiError::NotOnAccessList(format!(
                "{remote} is not on this service account's API access list"
            )));
        }
        Ok(Caller {
            principal: account.principal(),
            account,
            remote,
        })
    }
}
