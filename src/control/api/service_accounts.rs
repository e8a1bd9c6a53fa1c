//! Service accounts at organization and project level: their secrets (shown once) and
//! their API access lists. The shared logic works on a [`Level`]; the handlers in
//! `sa_routes.rs` are thin.

use time::OffsetDateTime;

use super::error::ApiError;
use super::events::Event;
use super::oauth::to_value;
use super::state::{now, Caller, Shared};
use super::types::{
    CreateSecret, CreateServiceAccount, SaAccessEntryBody, SecretView, ServiceAccountView,
    UpdateServiceAccount, MAX_ENTRIES,
};
use super::validate;
use crate::control::accounts::{self, Secret, ServiceAccount, TokenRecord, MAX_LIVE_SECRETS};
use crate::control::authz::{GroupRole, OrgRole};
use crate::control::model::{Org, Project};
use crate::control::store::{Expect, Op};

type R<T> = Result<T, ApiError>;

/// Where an account is addressed from.
pub enum Level {
    Org(Org),
    Group(Org, Project),
}

impl Level {
    pub fn org(&self) -> &Org {
        match self {
            Level::Org(o) | Level::Group(o, _) => o,
        }
    }

    fn group_id(&self) -> Option<&str> {
        match self {
            Level::Org(_) => None,
            Level::Group(_, p) => Some(&p.id),
        }
    }

    /// Whether the account is visible at this level.
    fn shows(&self, a: &ServiceAccount) -> bool {
        a.org_id == self.org().id
            && self
                .group_id()
                .is_none_or(|g| a.group_roles.contains_key(g))
    }

    fn roles_of(&self, a: &ServiceAccount) -> Vec<String> {
        match self.group_id() {
            None => a.org_roles.iter().map(|r| r.name().to_string()).collect(),
            Some(g) => a
                .group_roles
                .get(g)
                .into_iter()
                .flatten()
                .map(|r| r.name().to_string())
                .collect(),
        }
    }

    fn event(&self, kind: &str, caller: &Caller, target: &str) -> Event {
        Event::new(
            kind,
            caller,
            &self.org().id,
            self.group_id(),
            Some(target.to_string()),
        )
    }
}

fn date(secs: i64) -> R<String> {
    let t =
        OffsetDateTime::from_unix_timestamp(secs).map_err(|e| ApiError::Internal(e.to_string()))?;
    validate::rfc3339(t)
}

fn secret_view(s: &Secret, value: Option<String>) -> R<SecretView> {
    Ok(SecretView {
        id: s.id.clone(),
        created_at: date(s.created_at)?,
        expires_at: date(s.expires_at)?,
        last_used_at: s.last_used_at.map(date).transpose()?,
        masked_secret_value: s.masked.clone(),
        secret: value,
    })
}

pub fn view(
    level: &Level,
    a: &ServiceAccount,
    new_secret: Option<(&str, String)>,
) -> R<ServiceAccountView> {
    let secrets = a
        .secrets
        .iter()
        .map(|s| {
            let value = new_secret
                .as_ref()
                .filter(|(id, _)| *id == s.id)
                .map(|(_, v)| v.clone());
            secret_view(s, value)
        })
        .collect::<R<Vec<_>>>()?;
    Ok(ServiceAccountView {
        client_id: a.client_id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        created_at: date(a.created_at)?,
        roles: level.roles_of(a),
        secrets,
    })
}

fn org_roles(names: &[String]) -> R<Vec<OrgRole>> {
    role_names(names, OrgRole::from_name, "an organization")
}

pub fn group_roles(names: &[String]) -> R<Vec<GroupRole>> {
    role_names(names, GroupRole::from_name, "a project")
}

/// At least one role, each a name `parse` knows (`level` words the error).
fn role_names<T>(names: &[String], parse: fn(&str) -> Option<T>, level: &str) -> R<Vec<T>> {
    if names.is_empty() {
        return Err(ApiError::validation("roles must name at least one role"));
    }
    names
        .iter()
        .map(|n| parse(n).ok_or_else(|| ApiError::validation(format!("{n} is not {level} role"))))
        .collect()
}

fn secret_hours(org: &Org, h: i64) -> R<u32> {
    let h = validate::secret_hours(h)?;
    match org.settings.max_service_account_secret_validity_in_hours {
        Some(max) if h > max => Err(ApiError::validation(format!(
            "secretExpiresAfterHours exceeds the organization's maximum of {max}"
        ))),
        _ => Ok(h),
    }
}

/// Creates an account; the answer carries its first secret, once.
pub async fn create(
    state: &Shared,
    caller: &Caller,
    level: &Level,
    body: CreateServiceAccount<String>,
) -> R<ServiceAccountView> {
    validate::text("name", &body.name, 64)?;
    validate::text("description", &body.description, 250)?;
    let hours = secret_hours(level.org(), body.secret_expires_after_hours)?;
    let mut rng = rand::rngs::OsRng;
    let (now_s, _) = now();
    let (value, secret) = accounts::new_secret(&mut rng, now_s, hours);
    let mut a = ServiceAccount {
        client_id: accounts::new_client_id(&mut rng),
        org_id: level.org().id.clone(),
        name: body.name,
        description: body.description,
        created_at: now_s,
        org_roles: Vec::new(),
        group_roles: Default::default(),
        secrets: vec![secret.clone()],
        access_list: Vec::new(),
    };
    match level {
        Level::Org(_) => a.org_roles = org_roles(&body.roles)?,
        Level::Group(_, p) => {
            a.org_roles = vec![OrgRole::Member];
            a.group_roles
                .insert(p.id.clone(), group_roles(&body.roles)?);
        }
    }
    let ops = vec![Op::Put {
        key: accounts::account_key(&a.client_id),
        value: to_value(&a)?,
        expect: Expect::Absent,
    }];
    state
        .write(
            ops,
            level.event("SERVICE_ACCOUNT_CREATED", caller, &a.client_id),
        )
        .await?;
    view(level, &a, Some((&secret.id, value)))
}

pub async fn list(state: &Shared, level: &Level) -> R<Vec<ServiceAccountView>> {
    let mut out = Vec::new();
    for (_, a, _) in state.list::<ServiceAccount>("serviceAccounts/").await? {
        if level.shows(&a) {
            out.push(view(level, &a, None)?);
        }
    }
    Ok(out)
}

/// The account, if this level shows it.
pub async fn load(state: &Shared, level: &Level, client_id: &str) -> R<(ServiceAccount, i64)> {
    match state
        .get::<ServiceAccount>(&accounts::account_key(client_id))
        .await?
    {
        Some((a, rev)) if level.shows(&a) => Ok((a, rev)),
        _ => Err(ApiError::NotFound(format!(
            "no service account {client_id} here"
        ))),
    }
}

/// Refuses to leave the organization without an owner account (nobody could administer it).
async fn keep_an_owner(state: &Shared, org_id: &str, losing: &str) -> R<()> {
    let others = state
        .list::<ServiceAccount>("serviceAccounts/")
        .await?
        .into_iter()
        .any(|(_, a, _)| {
            a.org_id == org_id && a.client_id != losing && a.org_roles.contains(&OrgRole::Owner)
        });
    if others {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "LAST_ORG_OWNER",
            "the organization must keep at least one ORG_OWNER service account",
        ))
    }
}

pub async fn update(
    state: &Shared,
    caller: &Caller,
    level: &Level,
    client_id: &str,
    body: UpdateServiceAccount<String>,
) -> R<ServiceAccountView> {
    let (mut a, rev) = load(state, level, client_id).await?;
    let mut kind = "SERVICE_ACCOUNT_DETAILS_CHANGED";
    if let Some(n) = body.name {
        validate::text("name", &n, 64)?;
        a.name = n;
    }
    if let Some(d) = body.description {
        validate::text("description", &d, 250)?;
        a.description = d;
    }
    if let Some(r) = body.roles {
        kind = "SERVICE_ACCOUNT_ROLES_CHANGED";
        match level {
            Level::Org(o) => {
                let roles = org_roles(&r)?;
                if a.org_roles.contains(&OrgRole::Owner) && !roles.contains(&OrgRole::Owner) {
                    keep_an_owner(state, &o.id, client_id).await?;
                }
                a.org_roles = roles;
            }
            Level::Group(_, p) => {
                a.group_roles.insert(p.id.clone(), group_roles(&r)?);
            }
        }
    }
    let ops = vec![Op::Put {
        key: accounts::account_key(client_id),
        value: to_value(&a)?,
        expect: Expect::Revision(rev),
    }];
    state
        .write(ops, level.event(kind, caller, client_id))
        .await?;
    view(level, &a, None)
}

/// Deletes the account (org level) or removes it from the project (project level; an
/// account created at project level and holding no other project goes entirely).
pub async fn delete(state: &Shared, caller: &Caller, level: &Level, client_id: &str) -> R<()> {
    let (mut a, rev) = load(state, level, client_id).await?;
    let mut ops = Vec::new();
    let kind = match level {
        Level::Group(_, p)
            if a.group_roles.len() > 1 || !a.org_roles.iter().all(|r| *r == OrgRole::Member) =>
        {
            a.group_roles.remove(&p.id);
            ops.push(Op::Put {
                key: accounts::account_key(client_id),
                value: to_value(&a)?,
                expect: Expect::Revision(rev),
            });
            "SERVICE_ACCOUNT_REMOVED_FROM_GROUP"
        }
        _ => {
            if a.org_roles.contains(&OrgRole::Owner) {
                keep_an_owner(state, &a.org_id, client_id).await?;
            }
            ops.push(Op::Delete {
                key: accounts::account_key(client_id),
                expect: Expect::Revision(rev),
            });
            // Its tokens go with it (they are refused anyway once the account is gone).
            for item in state
                .store
                .list(&accounts::tokens_prefix(client_id))
                .await?
            {
                ops.push(Op::Delete {
                    key: item.key,
                    expect: Expect::Any,
                });
            }
            "SERVICE_ACCOUNT_DELETED"
        }
    };
    state
        .write(ops, level.event(kind, caller, client_id))
        .await?;
    Ok(())
}

pub async fn add_secret(
    state: &Shared,
    caller: &Caller,
    level: &Level,
    client_id: &str,
    body: CreateSecret,
) -> R<SecretView> {
    let (mut a, rev) = load(state, level, client_id).await?;
    let hours = secret_hours(level.org(), body.secret_expires_after_hours)?;
    let (now_s, _) = now();
    a.secrets.retain(|s| s.expires_at > now_s);
    if a.live_secrets(now_s) >= MAX_LIVE_SECRETS {
        return Err(ApiError::conflict(
            "SERVICE_ACCOUNT_MAX_SECRETS",
            format!("an account holds at most {MAX_LIVE_SECRETS} secrets; delete one first"),
        ));
    }
    let (value, secret) = accounts::new_secret(&mut rand::rngs::OsRng, now_s, hours);
    a.secrets.push(secret.clone());
    let ops = vec![Op::Put {
        key: accounts::account_key(client_id),
        value: to_value(&a)?,
        expect: Expect::Revision(rev),
    }];
    state
        .write(
            ops,
            level.event("SERVICE_ACCOUNT_SECRET_ADDED", caller, client_id),
        )
        .await?;
    secret_view(&secret, Some(value))
}

pub async fn delete_secret(
    state: &Shared,
    caller: &Caller,
    level: &Level,
    client_id: &str,
    secret_id: &str,
) -> R<()> {
    let (mut a, rev) = load(state, level, client_id).await?;
    let before = a.secrets.len();
    a.secrets.retain(|s| s.id != secret_id);
    if a.secrets.len() == before {
        return Err(ApiError::NotFound(format!("no secret {secret_id}")));
    }
    let mut ops = vec![Op::Put {
        key: accounts::account_key(client_id),
        value: to_value(&a)?,
        expect: Expect::Revision(rev),
    }];
    for (key, t, trev) in state
        .list::<TokenRecord>(&accounts::tokens_prefix(client_id))
        .await?
    {
        if t.secret_id == secret_id {
            ops.push(Op::Delete {
                key,
                expect: Expect::Revision(trev),
            });
        }
    }
    state
        .write(
            ops,
            level.event("SERVICE_ACCOUNT_SECRET_DELETED", caller, client_id),
        )
        .await?;
    Ok(())
}

fn entry_view(e: &str) -> SaAccessEntryBody {
    if e.contains('/') {
        SaAccessEntryBody {
            cidr_block: Some(e.to_string()),
            ip_address: None,
        }
    } else {
        SaAccessEntryBody {
            cidr_block: None,
            ip_address: Some(e.to_string()),
        }
    }
}

pub async fn access_list(
    state: &Shared,
    level: &Level,
    client_id: &str,
) -> R<Vec<SaAccessEntryBody>> {
    let (a, _) = load(state, level, client_id).await?;
    Ok(a.access_list.iter().map(|e| entry_view(e)).collect())
}

pub async fn add_access(
    state: &Shared,
    caller: &Caller,
    level: &Level,
    client_id: &str,
    body: Vec<SaAccessEntryBody>,
) -> R<Vec<SaAccessEntryBody>> {
    if body.is_empty() || body.len() > MAX_ENTRIES {
        return Err(ApiError::validation(format!(
            "give 1 to {MAX_ENTRIES} entries"
        )));
    }
    let (mut a, rev) = load(state, level, client_id).await?;
    let mut events = Vec::new();
    for e in body {
        let value = match (e.cidr_block, e.ip_address) {
            (Some(c), None) => c
                .parse::<ipnet::IpNet>()
                .map(|n| n.trunc().to_string())
                .map_err(|_| ApiError::validation(format!("{c:?} is not a CIDR block")))?,
            (None, Some(i)) => i
                .parse::<std::net::IpAddr>()
                .map(|a| a.to_string())
                .map_err(|_| ApiError::validation(format!("{i:?} is not an IP address")))?,
            _ => {
                return Err(ApiError::validation(
                    "give exactly one of cidrBlock and ipAddress",
                ))
            }
        };
        if !a.access_list.contains(&value) {
            events.push(level.event(
                "SERVICE_ACCOUNT_ACCESS_LIST_ENTRY_ADDED",
                caller,
                &format!("{client_id} {value}"),
            ));
            a.access_list.push(value);
        }
    }
    let ops = vec![Op::Put {
        key: accounts::account_key(client_id),
        value: to_value(&a)?,
        expect: Expect::Revision(rev),
    }];
    state.write_many(ops, events).await?;
    Ok(a.access_list.iter().map(|e| entry_view(e)).collect())
}

pub async fn delete_access(
    state: &Shared,
    caller: &Caller,
    level: &Level,
    client_id: &str,
    entry: &str,
) -> R<()> {
    let (mut a, rev) = load(state, level, client_id).await?;
    let before = a.access_list.len();
    a.access_list.retain(|e| e != entry);
    if a.access_list.len() == before {
        return Err(ApiError::NotFound(format!(
            "{entry} is not on this account's access list"
        )));
    }
    let ops = vec![Op::Put {
        key: accounts::account_key(client_id),
        value: to_value(&a)?,
        expect: Expect::Revision(rev),
    }];
    state
        .write(
            ops,
            level.event(
                "SERVICE_ACCOUNT_ACCESS_LIST_ENTRY_DELETED",
                caller,
                &format!("{client_id} {entry}"),
            ),
        )
        .await?;
    Ok(())
}

/// `:invite`: gives an organization's account roles on a project.
pub async fn invite(
    state: &Shared,
    caller: &Caller,
    org: &Org,
    project: &Project,
    client_id: &str,
    roles: Vec<String>,
) -> R<ServiceAccountView> {
    let roles = group_roles(&roles)?;
    let (mut a, rev) = load(state, &Level::Org(org.clone()), client_id).await?;
    a.group_roles.insert(project.id.clone(), roles);
    let ops = vec![Op::Put {
        key: accounts::account_key(client_id),
        value: to_value(&a)?,
        expect: Expect::Revision(rev),
    }];
    let level = Level::Group(org.clone(), project.clone());
    state
        .write(
            ops,
            level.event("SERVICE_ACCOUNT_ADDED_TO_GROUP", caller, client_id),
        )
        .await?;
    view(&level, &a, None)
}
