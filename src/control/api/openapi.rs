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
    components(schemas(super::ApiErrorBody, super::schemas::OrgRoleName, super::schemas::GroupRoleName)),
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
        sa_routes::org::list, sa_routes::org::create, sa_routes::org::get, sa_routes::org::update,
        sa_routes::org::delete, sa_routes::org::add_secret, sa_routes::org::delete_secret,
        sa_routes::org::list_access, sa_routes::org::add_access, sa_routes::org::delete_access,
        sa_routes::group::list, sa_routes::group::create, sa_routes::group::get,
        sa_routes::group::update, sa_routes::group::delete, sa_routes::group::add_secret,
        sa_routes::group::delete_secret, sa_routes::group::list_access,
        sa_routes::group::add_access, sa_routes::group::delete_access,
        sa_routes::invite,
    )
)]
pub struct ApiDoc;

/// The document as JSON. utoipa 5 writes a Link object's fields in snake case
/// (`operation_id`); OpenAPI spells them `operationId` and `requestBody`.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    fix_links(&mut doc);
    doc
}

fn fix_links(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(links) = map.get_mut("links").and_then(|l| l.as_object_mut()) {
                for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                    for (from, to) in [
                        ("operation_id", "operationId"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(x) = link.remove(from) {
                            link.insert(to.to_string(), x);
                        }
                    }
                }
            }
            map.values_mut().for_each(fix_links);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(fix_links),
        _ => {}
    }
}

/// `GET /api/atlas/v2/openapi.json` (no token needed: it describes, it does not reveal).
pub async fn serve() -> Json<serde_json::Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_name_their_target_operation() {
        let doc = super::document();
        assert_eq!(doc["openapi"], "3.1.0");
        let link =
            &doc["paths"]["/api/atlas/v2/groups"]["post"]["responses"]["201"]["links"]["GetGroup"];
        assert_eq!(link["operationId"], "get_group", "{link}");
        assert!(link.get("operation_id").is_none());
        assert!(doc.to_string().matches("operationId").count() > 50);
    }
}
