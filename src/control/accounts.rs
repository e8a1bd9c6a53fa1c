//! Service accounts, their secrets and their OAuth tokens.
//!
//! Secrets and tokens are 256-bit random values, stored only as SHA-256 hex. A fast hash is
//! enough here (unlike for people's passwords, which get argon2id): with 256 bits of entropy
//! nobody can search the input space, so a stolen store gives neither a secret nor a token,
//! and every API request can verify its token without a deliberately slow hash.
//!
//! Keys (cp-api's part of the store): `serviceAccounts/{clientId}` holds the account with its
//! secrets' hashes; `tokens/{clientId}/{sha256(token)}` holds one live token. A token string
//! carries its client id (`{clientId}.{random}`) so verifying one is two key reads.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::control::authz::{GroupRole, OrgRole, Principal};

/// A token lives one hour (Atlas).
pub const TOKEN_TTL_SECS: i64 = 3600;
/// Live tokens an account may hold (Atlas; beyond: 403 `access_denied`).
pub const MAX_LIVE_TOKENS: usize = 100;
/// Live secrets an account may hold, so rotation has no gap (Atlas).
pub const MAX_LIVE_SECRETS: usize = 2;

/// `serviceAccounts/{clientId}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    pub client_id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    #[serde(default)]
    pub org_roles: Vec<OrgRole>,
    /// Project roles by project id (a project-level account, or an `:invite`).
    #[serde(default)]
    pub group_roles: BTreeMap<String, Vec<GroupRole>>,
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// The API access list: addresses or CIDR blocks a token may be used from.
    #[serde(default)]
    pub access_list: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub id: String,
    /// SHA-256 hex of the secret.
    pub hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// The last four characters, for recognising a secret in a list.
    pub masked: String,
}

/// `tokens/{clientId}/{sha256(token)}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub client_id: String,
    pub secret_id: String,
    pub expires_at: i64,
}

/// Store key of an account.
pub fn account_key(client_id: &str) -> String {
    format!("serviceAccounts/{client_id}")
}

/// Store key prefix of an account's tokens.
pub fn tokens_prefix(client_id: &str) -> String {
    format!("tokens/{client_id}/")
}

/// SHA-256 hex.
pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 24 lowercase hex characters from the given random source (Atlas's id shape).
pub fn new_id(rng: &mut impl RngCore) -> String {
    let mut b = [0u8; 12];
    rng.fill_bytes(&mut b);
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// `mdb_sa_id_` + 24 hex, as Atlas's client ids.
pub fn new_client_id(rng: &mut impl RngCore) -> String {
    format!("mdb_sa_id_{}", new_id(rng))
}

/// A fresh secret value (shown once) and its record.
pub fn new_secret(rng: &mut impl RngCore, now: i64, hours: u32) -> (String, Secret) {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    let value = format!("mdb_sa_sk_{}", B64URL.encode(b));
    let masked = format!("mdb_sa_sk_****{}", &value[value.len() - 4..]);
    let secret = Secret {
        id: new_id(rng),
        hash: sha256_hex(&value),
        created_at: now,
        expires_at: now + i64::from(hours) * 3600,
        last_used_at: None,
        masked,
    };
    (value, secret)
}

/// A fresh bearer token for `client_id`: the value and its store-key hash.
pub fn new_token(rng: &mut impl RngCore, client_id: &str) -> (String, String) {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    let value = format!("{client_id}.{}", B64URL.encode(b));
    let hash = sha256_hex(&value);
    (value, hash)
}

/// The client id a bearer token names (its own prefix), if it is shaped like ours.
pub fn token_client_id(token: &str) -> Option<&str> {
    let (id, rest) = token.split_once('.')?;
    let ok = id.starts_with("mdb_sa_id_") && id.len() == 34 && !rest.is_empty();
    ok.then_some(id)
}

impl ServiceAccount {
    /// The live secret matching `presented`, compared in constant time against every live
    /// secret (so timing tells nothing about which one, or how much, matched).
    pub fn matching_secret(&self, presented: &str, now: i64) -> Option<&Secret> {
        let h = sha256_hex(presented);
        let mut found = None;
        for s in &self.secrets {
            let eq: bool = s.hash.as_bytes().ct_eq(h.as_bytes()).into();
            if eq && s.expires_at > now {
                found = Some(s);
            }
        }
        found
    }

    /// Whether secret `id` is still there and unexpired (a token dies with its secret).
    pub fn secret_live(&self, id: &str, now: i64) -> bool {
        self.secrets
            .iter()
            .any(|s| s.id == id && s.expires_at > now)
    }

    pub fn live_secrets(&self, now: i64) -> usize {
        self.secrets.iter().filter(|s| s.expires_at > now).count()
    }

    /// The roles an API call made with this account's token carries.
    pub fn principal(&self) -> Principal {
        Principal {
            org_id: self.org_id.clone(),
            org_roles: self.org_roles.iter().copied().collect(),
            group_roles: self
                .group_roles
                .iter()
                .map(|(g, r)| (g.clone(), r.iter().copied().collect()))
                .collect(),
        }
    }

    /// The per-account access list, applied when a token is used. An empty list admits
    /// everyone unless the organization requires an API access list.
    pub fn admits(&self, ip: IpAddr, list_required: bool) -> bool {
        if self.access_list.is_empty() {
            return !list_required;
        }
        self.access_list.iter().any(|e| entry_admits(e, ip))
    }
}

/// Whether one access-list entry (an address or a CIDR block) admits `ip`.
pub fn entry_admits(entry: &str, ip: IpAddr) -> bool {
    let ip = canonical(ip);
    if let Ok(net) = entry.parse::<ipnet::IpNet>() {
        return net.contains(&ip);
    }
    entry.parse::<IpAddr>().is_ok_and(|a| canonical(a) == ip)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    fn account(secrets: Vec<Secret>) -> ServiceAccount {
        ServiceAccount {
            client_id: "mdb_sa_id_000000000000000000000001".into(),
            org_id: "5f0000000000000000000001".into(),
            name: "ci".into(),
            description: "ci".into(),
            created_at: 0,
            org_roles: vec![OrgRole::Owner],
            group_roles: BTreeMap::new(),
            secrets,
            access_list: vec![],
        }
    }

    #[test]
    fn secret_matches_only_itself_and_only_while_live() {
        let mut r = rng();
        let (value, s) = new_secret(&mut r, 1000, 8);
        assert!(!s.hash.contains(&value) && s.hash.len() == 64);
        let a = account(vec![s.clone()]);
        assert_eq!(a.matching_secret(&value, 1001).map(|s| &s.id), Some(&s.id));
        assert!(a.matching_secret("mdb_sa_sk_wrong", 1001).is_none());
        assert!(
            a.matching_secret(&value, 1000 + 8 * 3600).is_none(),
            "expired"
        );
        assert!(a.secret_live(&s.id, 1001));
        assert!(!a.secret_live("other", 1001));
    }

    #[test]
    fn tokens_name_their_account() {
        let mut r = rng();
        let (t, h) = new_token(&mut r, "mdb_sa_id_000000000000000000000001");
        assert_eq!(
            token_client_id(&t),
            Some("mdb_sa_id_000000000000000000000001")
        );
        assert_eq!(h, sha256_hex(&t));
        assert_eq!(token_client_id("garbage"), None);
        assert_eq!(token_client_id("mdb_sa_id_1.x"), None);
    }

    #[test]
    fn access_list_on_use() {
        let mut a = account(vec![]);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(a.admits(ip, false));
        assert!(
            !a.admits(ip, true),
            "apiAccessListRequired and an empty list"
        );
        a.access_list = vec!["10.0.0.0/8".into()];
        assert!(a.admits(ip, true));
        assert!(a.admits("::ffff:10.1.2.3".parse().unwrap(), true));
        assert!(!a.admits("192.168.0.1".parse().unwrap(), false));
        a.access_list = vec!["192.168.0.1".into()];
        assert!(a.admits("192.168.0.1".parse().unwrap(), true));
    }
}
