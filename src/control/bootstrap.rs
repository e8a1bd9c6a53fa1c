//! `mongoward admin init`: the organization and its first ORG_OWNER service account.

use serde::Serialize;

use super::accounts::{self, ServiceAccount};
use super::api::events::Event;
use super::authz::OrgRole;
use super::model::{Org, OrgSettings};
use super::store::{Expect, Op, Store, StoreError};

/// Marks an initialized store; written with Expect::Absent, so a second (or concurrent)
/// init fails instead of creating a second organization.
const INIT_KEY: &str = "bootstrap/initialized";

/// The first secret lives as long as Atlas allows (365 days); rotate it through the API.
const FIRST_SECRET_HOURS: u32 = 8760;

/// The one JSON line `admin init` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitOutput {
    pub org_id: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("the store is already initialized (an organization exists); `admin init` runs once")]
    AlreadyInitialized,
    #[error("organization name must be 1 to 64 characters")]
    BadName,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("encoding a record: {0}")]
    Encode(#[from] serde_json::Error),
}

pub async fn init(store: &Store, org_name: &str) -> Result<InitOutput, InitError> {
    let n = org_name.chars().count();
    if n == 0 || n > 64 || org_name.chars().any(char::is_control) {
        return Err(InitError::BadName);
    }
    if store.get(INIT_KEY).await?.is_some() || !store.list("orgs/").await?.is_empty() {
        return Err(InitError::AlreadyInitialized);
    }
    let mut rng = rand::rngs::OsRng;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let org = Org {
        id: accounts::new_id(&mut rng),
        name: org_name.to_string(),
        settings: OrgSettings::default(),
    };
    let (secret_value, secret) = accounts::new_secret(&mut rng, now, FIRST_SECRET_HOURS);
    let account = ServiceAccount {
        client_id: accounts::new_client_id(&mut rng),
        org_id: org.id.clone(),
        name: "owner".into(),
        description: "first organization owner, created by mongoward admin init".into(),
        created_at: now,
        org_roles: vec![OrgRole::Owner],
        group_roles: Default::default(),
        secrets: vec![secret],
        access_list: Vec::new(),
    };
    let event = Event::system(
        "SERVICE_ACCOUNT_CREATED",
        "admin init",
        &org.id,
        Some(account.client_id.clone()),
    );
    let ops = vec![
        Op::Put {
            key: INIT_KEY.into(),
            value: serde_json::json!({"orgId": org.id}),
            expect: Expect::Absent,
        },
        Op::Put {
            key: format!("orgs/{}", org.id),
            value: serde_json::to_value(&org)?,
            expect: Expect::Absent,
        },
        Op::Put {
            key: accounts::account_key(&account.client_id),
            value: serde_json::to_value(&account)?,
            expect: Expect::Absent,
        },
        Op::Put {
            key: event.key(),
            value: serde_json::to_value(&event)?,
            expect: Expect::Absent,
        },
    ];
    match store.apply(ops).await {
        Ok(_) => {}
        Err(StoreError::Conflict { .. }) => return Err(InitError::AlreadyInitialized),
        Err(e) => return Err(e.into()),
    }
    Ok(InitOutput {
        org_id: org.id,
        client_id: account.client_id,
        client_secret: secret_value,
    })
}
