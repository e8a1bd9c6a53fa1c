//! The OpenAPI 3.1 document, generated from the handlers' and bodies' Rust types, with
//! links from each create to its read and delete (schemathesis follows them).

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{access, clusters, dbusers, events, groups, oauth, roles, sa_routes};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "basicAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "mongoward admin API", description = "Shaped like the MongoDB Atlas Administration API v2. `upstream`, `listen` and `sni` on clusters are mongoward extensions."),
    modifiers(&Security),
    security(("bearerAuth" = [])),
    paths(
        oauth::token,
        groups::get_org, groups::update_org, groups::get_settings, groups::update_settings,
        groups::list_groups, groups::list_org_groups, groups::create_group, groups::get_group,
        groups::update_group, groups::delete_group,
        events::list_group_events, events::list_org_events,
        clusters::list, clusters::create, clusters::get, clusters::update, clusters::delete,
        dbusers::list, dbusers::create, dbusers::get, dbusers::update, dbusers::delete,
        roles::list, roles::create, roles::get, roles::update, roles::delete,
        access::list, access::create, access::get, access::status, access::delete,
        sa_routes::org_list, sa_routes::org_create, sa_routes::org_get, sa_routes::org_update,
        sa_routes::org_delete, sa_routes::org_add_secret, sa_routes::org_delete_secret,
        sa_routes::org_list_access, sa_routes::org_add_access, sa_routes::org_delete_access,
        sa_routes::group_list, sa_routes::group_create, sa_routes::group_get, sa_routes::group_update,
        sa_routes::group_delete, sa_routes::group_add_secret, sa_routes::group_delete_secret,
        sa_routes::group_list_access, sa_routes::group_add_access, sa_routes::group_delete_access,
        sa_routes::invite,
    )
)]
pub struct ApiDoc;

/// `GET /api/atlas/v2/openapi.json` (no token needed: it describes, it does not reveal).
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
