//! `POST /api/oauth/token`: OAuth 2.0 client credentials (RFC 6749 section 4.4) for service
//! accounts. Failures are throttled like SCRAM failures, per (client id, source) and per
//! source.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::responses::{ApiErrors, Token};
use super::state::{now, Shared};
use crate::control::accounts::{self, ServiceAccount, TokenRecord};
use crate::control::store::{Expect, Op};
use crate::gates::throttle::{Ticket, Verdict};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds (3600).
    pub expires_in: i64,
}

/// `grant_type=client_credentials`, form-encoded.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    pub grant_type: String,
}

/// Basic credentials from the Authorization header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = String::from_utf8(B64.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The form's `grant_type` must be exactly `client_credentials`, and nothing else is sent.
pub fn check_form(body: &[u8]) -> Result<(), ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::validation("the body must be form-encoded text"))?;
    let mut grant = None;
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("grant_type", v)) if grant.is_none() => grant = Some(v),
            Some(("scope", _)) => {}
            _ => return Err(ApiError::validation("unexpected form field")),
        }
    }
    match grant {
        Some("client_credentials") => Ok(()),
        _ => Err(ApiError::validation(
            "grant_type must be client_credentials (unsupported_grant_type)",
        )),
    }
}

fn invalid_client() -> ApiError {
    ApiError::Unauthenticated("invalid client credentials (invalid_client)".into())
}

/// `POST /api/oauth/token`
#[utoipa::path(post, path = "/api/oauth/token", tag = "OAuth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security(("basicAuth" = [])),
    responses((status = 200, body = TokenResponse), ApiErrors<Token>))]
pub async fn token(
    State(state): State<Shared>,
    remote: axum::Extension<super::state::RemoteAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenResponse>, ApiError> {
    let ip = remote.0 .0.ip();
    let (client_id, secret) = basic(&headers).ok_or_else(invalid_client)?;
    check_form(&body)?;
    let admission = admit(&state, &client_id, ip).await?;
    let account = state
        .get::<ServiceAccount>(&accounts::account_key(&client_id))
        .await?;
    let (now_s, _) = now();
    let matched = account
        .as_ref()
        .and_then(|(a, _)| a.matching_secret(&secret, now_s).map(|s| s.id.clone()));
    let (Some((account, _)), Some(secret_id)) = (account, matched) else {
        admission.finish(&client_id, false);
        tracing::info!(client.id = %client_id, remote.ip = %ip, "token request refused");
        return Err(invalid_client());
    };
    admission.finish(&client_id, true);
    let access_token = mint(&state, &account.client_id, &secret_id).await?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: accounts::TOKEN_TTL_SECS,
    }))
}

/// A token request's place in the failure throttle, taken the way a SCRAM conversation
/// takes one: a ticket at the start and a place in the source's failure budget before the
/// secret is compared, so parallel requests cannot test more secrets than the budget
/// allows. Dropped unresolved (the request was cancelled), it is handed back uncounted.
struct Admission {
    state: Shared,
    ticket: Option<Ticket>,
}

impl Admission {
    fn finish(mut self, client_id: &str, success: bool) {
        if let Some(ticket) = self.ticket.take() {
            if let Ok(mut t) = self.state.throttle.lock() {
                t.finish(ticket, client_id, success, self.state.mono_ms());
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            if let Ok(mut t) = self.state.throttle.lock() {
                t.abandon(ticket);
            }
        }
    }
}

async fn admit(
    state: &Shared,
    client_id: &str,
    ip: std::net::IpAddr,
) -> Result<Admission, ApiError> {
    let (verdict, ticket) = lock_throttle(state)?.begin(client_id, ip, state.mono_ms());
    let Some(ticket) = ticket else {
        return Err(rate_limited(&verdict));
    };
    let mut admission = Admission {
        state: state.clone(),
        ticket: Some(ticket),
    };
    if let Verdict::Delay(ms) = verdict {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    loop {
        let verdict = match admission.ticket.as_mut() {
            Some(t) => lock_throttle(state)?.reserve(t, client_id, state.mono_ms()),
            None => return Err(ApiError::Internal("throttle ticket missing".into())),
        };
        match verdict {
            Verdict::Allow => return Ok(admission),
            Verdict::Delay(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Verdict::Refuse { .. } => return Err(rate_limited(&verdict)),
        }
    }
}

fn rate_limited(verdict: &Verdict) -> ApiError {
    let retry_after_ms = match verdict {
        Verdict::Refuse { retry_after_ms, .. } => *retry_after_ms,
        _ => 1_000,
    };
    ApiError::RateLimited {
        retry_after_secs: retry_after_ms.div_ceil(1000),
    }
}

fn lock_throttle(
    state: &Shared,
) -> Result<std::sync::MutexGuard<'_, crate::gates::throttle::Throttle>, ApiError> {
    state
        .throttle
        .lock()
        .map_err(|_| ApiError::Internal("throttle lock poisoned".into()))
}

/// Stores a new token unless the account already holds the maximum; expired tokens are
/// removed in the same transaction. The account record is rewritten with an Expect on its
/// revision (the secret's `lastUsedAt`), so concurrent mints cannot exceed the cap.
async fn mint(state: &Shared, client_id: &str, secret_id: &str) -> Result<String, ApiError> {
    for _ in 0..5 {
        let Some((mut account, rev)) = state
            .get::<ServiceAccount>(&accounts::account_key(client_id))
            .await?
        else {
            return Err(invalid_client());
        };
        let (now_s, _) = now();
        let mut ops = Vec::new();
        let mut live = 0;
        for (key, t, trev) in state
            .list::<TokenRecord>(&accounts::tokens_prefix(client_id))
            .await?
        {
            if t.expires_at <= now_s || !account.secret_live(&t.secret_id, now_s) {
                ops.push(Op::Delete {
                    key,
                    expect: Expect::Revision(trev),
                });
            } else {
                live += 1;
            }
        }
        if live >= accounts::MAX_LIVE_TOKENS {
            return Err(ApiError::Refused {
                code: "access_denied",
                detail: format!(
                    "this service account already holds {} live tokens",
                    accounts::MAX_LIVE_TOKENS
                ),
                parameters: vec![accounts::MAX_LIVE_TOKENS.into()],
            });
        }
        let (value, hash) = accounts::new_token(&mut rand::rngs::OsRng, client_id);
        for s in account.secrets.iter_mut().filter(|s| s.id == secret_id) {
            s.last_used_at = Some(now_s);
        }
        let record = TokenRecord {
            client_id: client_id.to_string(),
            secret_id: secret_id.to_string(),
            expires_at: now_s + accounts::TOKEN_TTL_SECS,
        };
        ops.push(Op::Put {
            key: format!("{}{hash}", accounts::tokens_prefix(client_id)),
            value: to_value(&record)?,
            expect: Expect::Absent,
        });
        ops.push(Op::Put {
            key: accounts::account_key(client_id),
            value: to_value(&account)?,
            expect: Expect::Revision(rev),
        });
        match state.store.apply(ops).await {
            Ok(_) => return Ok(value),
            Err(crate::control::store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "CONFLICT",
        "too many concurrent token requests for this account; retry",
    ))
}

pub fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(format!("encoding a record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_needs_client_credentials() {
        assert!(check_form(b"grant_type=client_credentials").is_ok());
        assert!(check_form(b"grant_type=client_credentials&scope=x").is_ok());
        assert!(check_form(b"grant_type=password").is_err());
        assert!(check_form(b"").is_err());
        assert!(
            check_form(b"grant_type=client_credentials&grant_type=client_credentials").is_err()
        );
        assert!(check_form(b"grant_type=client_credentials&x=1").is_err());
    }

    #[test]
    fn basic_header() {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", B64.encode("mdb_sa_id_x:s3cr:et"));
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        assert_eq!(basic(&h), Some(("mdb_sa_id_x".into(), "s3cr:et".into())));
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(basic(&h), None);
    }
}
