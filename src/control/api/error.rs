//! ApiError: the one place where every failure of the admin API becomes an HTTP status and
//! Atlas's JSON error body `{error, errorCode, detail, reason, parameters}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::control::authz::Denial;

/// Atlas's error body.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorBody {
    /// HTTP status code.
    pub error: u16,
    /// Atlas error code (`VALIDATION_ERROR`, `RESOURCE_NOT_FOUND`, ...).
    pub error_code: String,
    pub detail: String,
    /// HTTP reason phrase.
    pub reason: String,
    pub parameters: Vec<Value>,
}

/// Every way an API request fails.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, unknown field, wrong type, failed validation, oversized body.
    #[error("{0}")]
    Validation(String),
    /// A path parameter that cannot name anything (e.g. an id that is not 24 hex).
    #[error("{0}")]
    InvalidPath(String),
    /// A body over the cap: 400, and the connection closes (the rest is never read).
    #[error("request body larger than 1 MiB")]
    TooLarge,
    #[error("unsupported media type")]
    MediaType,
    /// No token, an unknown or expired token, or bad client credentials.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(Denial),
    /// The caller's address is not on the service account's API access list.
    #[error("{0}")]
    NotOnAccessList(String),
    /// Refused for a reason other than role (limits, `access_denied` on tokens).
    #[error("{detail}")]
    Refused {
        code: &'static str,
        detail: String,
        parameters: Vec<Value>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A duplicate, a concurrent change (an Expect failed), or a delete that would break
    /// something still in use.
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        parameters: Vec<Value>,
    },
    #[error("too many attempts; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The store cannot be reached.
    #[error("the control-plane store is unavailable")]
    Unavailable,
    /// A bug or a corrupt record; details go to the log, not to the caller.
    #[error("unexpected error")]
    Internal(String),
}

impl ApiError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            code,
            detail: detail.into(),
            parameters: Vec::new(),
        }
    }

    pub fn validation(detail: impl Into<String>) -> ApiError {
        ApiError::Validation(detail.into())
    }

    /// Status and Atlas error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation(_) | ApiError::TooLarge => {
                (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
            }
            // An id that is not 24 hex names nothing: 404, as for an unknown id.
            ApiError::InvalidPath(_) => (StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND"),
            ApiError::MediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "USER_UNAUTHORIZED"),
            ApiError::NotOnAccessList(_) => {
                (StatusCode::FORBIDDEN, "IP_ADDRESS_NOT_ON_ACCESS_LIST")
            }
            ApiError::Refused { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "UNEXPECTED_ERROR"),
        }
    }

    /// The JSON body (the internal detail of a 500 is never shown).
    pub fn body(&self) -> ApiErrorBody {
        let (status, code) = self.status_and_code();
        let parameters = match self {
            ApiError::Refused { parameters, .. } | ApiError::Conflict { parameters, .. } => {
                parameters.clone()
            }
            _ => Vec::new(),
        };
        ApiErrorBody {
            error: status.as_u16(),
            error_code: code.to_string(),
            detail: self.to_string(),
            reason: status.canonical_reason().unwrap_or("Error").to_string(),
            parameters,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(why) = &self {
            tracing::error!(error.detail = %why, "control-plane API internal error");
        }
        let (status, _) = self.status_and_code();
        let mut resp = (status, axum::Json(self.body())).into_response();
        let headers = resp.headers_mut();
        if let ApiError::RateLimited { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        if matches!(self, ApiError::TooLarge) {
            // Tell the client, so it does not send its next request on this connection.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_and_atlas_code() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::validation("x"), 400, "VALIDATION_ERROR"),
            (ApiError::Unauthenticated("x".into()), 401, "UNAUTHORIZED"),
            (
                ApiError::Forbidden(Denial::NotInGroup),
                403,
                "USER_UNAUTHORIZED",
            ),
            (
                ApiError::NotOnAccessList("x".into()),
                403,
                "IP_ADDRESS_NOT_ON_ACCESS_LIST",
            ),
            (ApiError::NotFound("x".into()), 404, "RESOURCE_NOT_FOUND"),
            (ApiError::conflict("CONFLICT", "x"), 409, "CONFLICT"),
            (
                ApiError::RateLimited {
                    retry_after_secs: 3,
                },
                429,
                "RATE_LIMITED",
            ),
            (ApiError::Unavailable, 503, "SERVICE_UNAVAILABLE"),
            (
                ApiError::Internal("secret detail".into()),
                500,
                "UNEXPECTED_ERROR",
            ),
        ];
        for (e, status, code) in cases {
            let b = e.body();
            assert_eq!((b.error, b.error_code.as_str()), (status, code), "{e:?}");
            assert!(!b.reason.is_empty());
            assert!(!b.detail.contains("secret detail"));
        }
    }
}
