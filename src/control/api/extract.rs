//! Request extractors whose every rejection is an ApiError (axum's own rejections answer
//! plain text otherwise).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Request bodies are capped here (Atlas-sized requests are a few KiB).
pub const MAX_BODY: usize = 1 << 20;

/// A JSON body: `application/json` or a versioned `application/vnd.atlas.YYYY-MM-DD+json`.
pub struct Body<T>(pub T);

/// Whether a Content-Type is one the API reads.
pub fn json_media_type(ct: &str) -> bool {
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/vnd.atlas.") && essence.ends_with("+json"))
}

/// serde's message without the offending value (it could be a password of the wrong type).
pub fn json_error_detail(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        match msg.split_once(", expected ") {
            Some((_, expected)) => format!("invalid type or value: expected {expected}"),
            None => "invalid type or value".into(),
        }
    } else {
        format!("invalid JSON body: {msg}")
    }
}

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !json_media_type(ct) {
            return Err(ApiError::MediaType);
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::TooLarge)?;
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::Validation(json_error_detail(&e)))
    }
}

/// Path parameters (percent-decoded by axum: `10.0.0.0%2F8` arrives as `10.0.0.0/8`).
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| ApiError::InvalidPath(format!("bad path parameter: {}", e.body_text())))
    }
}

/// Query parameters.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::validation(format!("bad query parameter: {}", e.body_text())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(json_media_type("application/json"));
        assert!(json_media_type("application/json; charset=utf-8"));
        assert!(json_media_type("application/vnd.atlas.2023-01-01+json"));
        assert!(json_media_type("Application/Vnd.Atlas.2025-03-12+JSON"));
        assert!(!json_media_type("text/plain"));
        assert!(!json_media_type(""));
    }

    #[test]
    fn wrong_type_detail_hides_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            password: String,
        }
        let e = serde_json::from_str::<P>(r#"{"password": 12345678901}"#).unwrap_err();
        let d = json_error_detail(&e);
        assert!(!d.contains("12345678901"), "{d}");
        assert!(d.contains("expected a string"), "{d}");
    }
}
