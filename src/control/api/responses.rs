//! The error answers each operation declares in the OpenAPI document: one `IntoResponses`
//! type, [`ApiErrors`], whose marker names the kind of operation. Each kind lists every
//! status that [`ApiError`](super::ApiError) can really produce for it, so the document
//! and the server cannot disagree (schemathesis checks that every answer is declared).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use axum::http::StatusCode;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

/// A kind of operation: the error statuses it can answer.
pub trait Statuses {
    const STATUSES: &'static [u16];
}

/// Every ApiError answer of an operation of kind `S`, each with the `ApiErrorBody` schema.
pub struct ApiErrors<S>(PhantomData<S>);

// Every operation behind a bearer token can answer 401 (no or a dead token), 403 (a role
// too low, or a caller off its API access list), 500 (a corrupt record) and 503 (the store
// is down); each kind below adds what its shape makes possible.

macro_rules! kind {
    ($(#[$doc:meta])* $name:ident: $($status:literal),*) => {
        $(#[$doc])*
        pub struct $name;
        impl Statuses for $name {
            const STATUSES: &'static [u16] = &[$($status),*];
        }
    };
}

kind!(
    /// GET of one resource named by path ids: 404 for an unknown or malformed id.
    Read: 401, 403, 404, 500, 503
);
kind!(
    /// GET of a list under a path id: 400 for bad paging or filters, 404 for the id.
    List: 400, 401, 403, 404, 500, 503
);
kind!(
    /// GET of a list without path ids (`/groups`): 400 for bad paging.
    ListAll: 400, 401, 403, 500, 503
);
kind!(
    /// POST/PATCH with a JSON body: 400 for a body that breaks a rule the schema cannot
    /// state, 404 for an unknown id (in the path or the body), 409 for a duplicate or a
    /// concurrent change, 415 for a body that is not JSON.
    Write: 400, 401, 403, 404, 409, 415, 500, 503
);
kind!(
    /// `POST .../{clientId}:invite`: a write, and 405 when the last segment is not
    /// `:invite` (the router shares that segment with the account's own path).
    Invite: 400, 401, 403, 404, 405, 409, 415, 500, 503
);
kind!(
    /// DELETE: 404 for an unknown id, 409 for a concurrent change or a resource in use.
    Delete: 401, 403, 404, 409, 500, 503
);
kind!(
    /// `POST /api/oauth/token` (Basic credentials, not a bearer token): 400 for a bad
    /// form, 401 for bad credentials, 403 for a caller off the account's access list, 429
    /// while the throttle holds the caller back.
    Token: 400, 401, 403, 429, 500, 503
);

fn error_response(status: u16) -> Response {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut r = ResponseBuilder::new().description(reason).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ApiErrorBody")))
            .build(),
    );
    if status == 429 {
        r = r.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::Integer),
                )
                .description(Some("Seconds to wait before the next attempt."))
                .build(),
        );
    }
    r.build()
}

impl<S: Statuses> IntoResponses for ApiErrors<S> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        S::STATUSES
            .iter()
            .map(|s| (s.to_string(), RefOr::T(error_response(*s))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes<S: Statuses>() -> Vec<u16> {
        let mut v = S::STATUSES.to_vec();
        v.sort_unstable();
        v
    }

    #[test]
    fn kinds_list_their_statuses_once() {
        assert_eq!(codes::<Read>(), [401, 403, 404, 500, 503]);
        assert_eq!(codes::<Write>(), [400, 401, 403, 404, 409, 415, 500, 503]);
        assert_eq!(codes::<Delete>(), [401, 403, 404, 409, 500, 503]);
        let all = ApiErrors::<Write>::responses();
        assert_eq!(all.len(), 8);
        assert!(all.contains_key("415"));
    }

    #[test]
    fn every_kind_has_an_error_body() {
        let json = serde_json::to_value(ApiErrors::<Token>::responses()).unwrap();
        assert_eq!(
            json["429"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ApiErrorBody"
        );
        assert!(json["429"]["headers"]["Retry-After"].is_object());
    }
}
