//! The admin API over real HTTPS against the real binary and a real store: tokens,
//! 400/401/403/409, a role too low changes nothing, records and events in one write, paging.
//! The tests that reach the store's paths (writes, conflicts, paging, events) run on SQLite
//! and on PostgreSQL; the others on SQLite.

mod common;
mod control;

use serde_json::{json, Value};

use control::{api_error, start, start_on, Backend};

/// `name(backend)` as two tests, `sqlite::name` and `postgres::name` (skipped, with a
/// message, where PostgreSQL is not installed).
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Postgres).await
            })*
        }
    };
}

on_both_stores!(
    a_role_too_low_gets_403_and_changes_nothing,
    records_conflicts_and_events,
    secrets_rotate_and_tokens_die_with_them,
    lists_page_and_count,
);

#[tokio::test]
async fn token_flow_and_authentication_errors() {
    let cp = start().await;
    // Wrong secret: 401, in the ApiError shape.
    let r = cp
        .http
        .post(format!("{}/api/oauth/token", cp.api))
        .basic_auth(&cp.client_id, Some("mdb_sa_sk_wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(api_error(401, &body), "UNAUTHORIZED");
    assert!(!body.to_string().contains(&cp.client_secret));
    // Right secret: a bearer token for one hour.
    let r = cp
        .http
        .post(format!("{}/api/oauth/token", cp.api))
        .basic_auth(&cp.client_id, Some(&cp.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    let token = t["access_token"].as_str().unwrap().to_string();
    // No token, a garbage token, a forged token of the right shape: 401.
    let r = cp
        .http
        .get(cp.url(&format!("/orgs/{}", cp.org_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for bad in ["garbage", &format!("{}.AAAA", cp.client_id)] {
        let (s, b) = cp
            .call(bad, "GET", &format!("/orgs/{}", cp.org_id), None)
            .await;
        assert_eq!(s, 401, "{b}");
    }
    let (s, b) = cp
        .call(&token, "GET", &format!("/orgs/{}", cp.org_id), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["name"], "test-org");
    // Unsupported grant: 400.
    let r = cp
        .http
        .post(format!("{}/api/oauth/token", cp.api))
        .basic_auth(&cp.client_id, Some(&cp.client_secret))
        .body("grant_type=password")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn bad_bodies_get_400_in_the_api_error_shape() {
    let cp = start().await;
    let token = cp.owner_token().await;
    let org = cp.org_id.clone();
    // Unknown field, wrong type, missing field.
    for body in [
        json!({"name": "p", "orgId": org, "bogus": 1}),
        json!({"name": 5, "orgId": org}),
        json!({"orgId": org}),
    ] {
        let (s, b) = cp.call(&token, "POST", "/groups", Some(body.clone())).await;
        assert_eq!(s, 400, "{body} -> {b}");
        assert_eq!(api_error(400, &b), "VALIDATION_ERROR");
    }
    // Oversized body (just over the 1 MiB cap: the unread tail fits the socket buffers, so
    // the client finishes writing and reads the answer).
    let big = format!(
        "{{\"name\":\"{}\",\"orgId\":\"{org}\"}}",
        "x".repeat(1 << 20)
    );
    let r = cp
        .http
        .post(cp.url("/groups"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    api_error(400, &r.json().await.unwrap());
    // The versioned media type is accepted; text/plain is not.
    let r = cp
        .http
        .post(cp.url("/groups"))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.atlas.2023-01-01+json")
        .body(json!({"name": "versioned", "orgId": org}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = cp
        .http
        .post(cp.url("/groups"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(json!({"name": "plain", "orgId": org}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Unknown route and bad id: ApiError too.
    let (s, b) = cp.call(&token, "GET", "/nothing/here", None).await;
    assert_eq!(api_error(s, &b), "RESOURCE_NOT_FOUND");
    let (s, b) = cp.call(&token, "GET", "/groups/not-an-id", None).await;
    assert_eq!(
        api_error(s, &b),
        "RESOURCE_NOT_FOUND",
        "an id that is not 24 hex names nothing"
    );
    // Validation: short password, far deleteAfterDate, long comment.
    let g = cp.project(&token, "validation").await;
    let user = |pw: &str| {
        json!({"username": "u1", "databaseName": "admin", "password": pw,
                                 "roles": [{"roleName": "read", "databaseName": "app"}]})
    };
    let (s, _) = cp
        .call(
            &token,
            "POST",
            &format!("/groups/{g}/databaseUsers"),
            Some(user("short")),
        )
        .await;
    assert_eq!(s, 400);
    let far = (time::OffsetDateTime::now_utc() + time::Duration::days(8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (s, _) = cp
        .call(
            &token,
            "POST",
            &format!("/groups/{g}/accessList"),
            Some(json!([{"ipAddress": "10.0.0.1", "deleteAfterDate": far}])),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = cp
        .call(
            &token,
            "POST",
            &format!("/groups/{g}/accessList"),
            Some(json!([{"ipAddress": "10.0.0.1", "comment": "c".repeat(81)}])),
        )
        .await;
    assert_eq!(s, 400);
}

/// Events of a project, as the owner sees them.
async fn events(cp: &control::ControlPlane, token: &str, g: &str) -> Vec<Value> {
    let (s, b) = cp
        .call(token, "GET", &format!("/groups/{g}/events"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b["results"].as_array().unwrap().clone()
}

async fn a_role_too_low_gets_403_and_changes_nothing(backend: Backend) {
    let Some(cp) = start_on(backend).await else {
        return;
    };
    let owner = cp.owner_token().await;
    let g = cp.project(&owner, "prod").await;
    // A project-level account with read-only rights.
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/serviceAccounts"),
            Some(
                json!({"name": "viewer", "description": "reads", "roles": ["GROUP_READ_ONLY"],
                          "secretExpiresAfterHours": 8}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let client = b["clientId"].as_str().unwrap().to_string();
    let secret = b["secrets"][0]["secret"].as_str().unwrap().to_string();
    let (_, again) = cp
        .call(
            &owner,
            "GET",
            &format!("/groups/{g}/serviceAccounts/{client}"),
            None,
        )
        .await;
    assert!(
        again["secrets"][0].get("secret").is_none(),
        "a secret is shown once: {again}"
    );
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/serviceAccounts/{client}"),
            Some(json!({})),
        )
        .await;
    assert_eq!((s, api_error(s, &b).as_str()), (405, "METHOD_NOT_ALLOWED"));
    let viewer = cp.token_for(&client, &secret).await;
    let before = events(&cp, &owner, &g).await.len();
    let stored = cp.store_dump().await;
    let user = json!({"username": "app", "databaseName": "admin", "password": "long-enough-1",
                      "roles": [{"roleName": "readWrite", "databaseName": "app"}]});
    let writes = [
        ("POST", format!("/groups/{g}/databaseUsers"), Some(user)),
        (
            "POST",
            format!("/groups/{g}/accessList"),
            Some(json!([{"ipAddress": "10.0.0.1"}])),
        ),
        (
            "POST",
            format!("/groups/{g}/clusters"),
            Some(json!({"name": "c1", "upstream": {"uri": "mongodb://127.0.0.1:1/"}})),
        ),
        (
            "PATCH",
            format!("/groups/{g}"),
            Some(json!({"name": "renamed"})),
        ),
        ("DELETE", format!("/groups/{g}"), None),
    ];
    for (method, path, body) in writes {
        let (s, b) = cp.call(&viewer, method, &path, body).await;
        assert_eq!(s, 403, "{method} {path}: {b}");
        assert_eq!(api_error(403, &b), "USER_UNAUTHORIZED");
    }
    assert!(
        cp.store_dump().await == stored,
        "a refused write changed the store"
    );
    let (s, b) = cp
        .call(&viewer, "GET", &format!("/groups/{g}/databaseUsers"), None)
        .await;
    assert_eq!(s, 200, "read-only may read: {b}");
    assert_eq!(b["totalCount"], 0, "nothing was created: {b}");
    assert_eq!(
        events(&cp, &owner, &g).await.len(),
        before,
        "no event either"
    );
    // The viewer cannot see another project, nor the organization's accounts.
    let other = cp.project(&owner, "other").await;
    let (s, _) = cp
        .call(&viewer, "GET", &format!("/groups/{other}"), None)
        .await;
    assert_eq!(s, 403);
    let (s, b) = cp.call(&viewer, "GET", "/groups", None).await;
    assert_eq!(s, 200);
    assert_eq!(
        b["totalCount"], 1,
        "an org member sees only its own projects: {b}"
    );
}

async fn records_conflicts_and_events(backend: Backend) {
    let Some(cp) = start_on(backend).await else {
        return;
    };
    let owner = cp.owner_token().await;
    let g = cp.project(&owner, "p1").await;
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            "/groups",
            Some(json!({"name": "p1", "orgId": cp.org_id})),
        )
        .await;
    assert_eq!(
        (s, api_error(s, &b).as_str()),
        (409, "GROUP_ALREADY_EXISTS")
    );
    // A custom role and a user holding it.
    let (s, b) = cp
        .call(&owner, "POST", &format!("/groups/{g}/customDBRoles/roles"),
              Some(json!({"roleName": "orders-insert",
                          "actions": [{"action": "INSERT", "resources": [{"db": "shop", "collection": "orders"}]}]})))
        .await;
    assert_eq!(s, 201, "{b}");
    let user = json!({"username": "writer", "databaseName": "admin", "password": "long-enough-1",
                      "roles": [{"roleName": "orders-insert", "databaseName": "admin"}]});
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/databaseUsers"),
            Some(user.clone()),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(
        b.get("password").is_none() && !b.to_string().contains("long-enough-1"),
        "{b}"
    );
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/databaseUsers"),
            Some(user),
        )
        .await;
    assert_eq!((s, api_error(s, &b).as_str()), (409, "USER_ALREADY_EXISTS"));
    let (s, b) = cp
        .call(
            &owner,
            "DELETE",
            &format!("/groups/{g}/customDBRoles/roles/orders-insert"),
            None,
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert!(
        b["detail"].as_str().unwrap().contains("writer@admin"),
        "holders named: {b}"
    );
    // An unknown role name is refused.
    let (s, _) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/databaseUsers"),
            Some(
                json!({"username": "x", "databaseName": "admin", "password": "long-enough-1",
                          "roles": [{"roleName": "noSuchRole", "databaseName": "admin"}]}),
            ),
        )
        .await;
    assert_eq!(s, 400);
    // Access list with a CIDR, read back URL-encoded.
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/accessList"),
            Some(json!([{"cidrBlock": "10.1.0.0/16", "comment": "office"}])),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = cp
        .call(
            &owner,
            "GET",
            &format!("/groups/{g}/accessList/10.1.0.0%2F16"),
            None,
        )
        .await;
    assert_eq!((s, b["comment"].as_str()), (200, Some("office")), "{b}");
    let (s, b) = cp
        .call(
            &owner,
            "GET",
            &format!("/groups/{g}/accessList/10.1.0.0%2F16/status"),
            None,
        )
        .await;
    assert_eq!((s, b["STATUS"].as_str()), (200, Some("ACTIVE")));
    // A project with a cluster cannot be deleted.
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/clusters"),
            Some(json!({"name": "c1", "upstream": {"uri": "mongodb://127.0.0.1:1/"}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(
        b["connectionStrings"]["standard"]
            .as_str()
            .unwrap()
            .starts_with("mongodb://"),
        "{b}"
    );
    let (s, b) = cp
        .call(&owner, "DELETE", &format!("/groups/{g}"), None)
        .await;
    assert_eq!(
        (s, api_error(s, &b).as_str()),
        (409, "CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS")
    );
    // Every change left its event, with Atlas's names, the actor and the address.
    let evs = events(&cp, &owner, &g).await;
    let names: Vec<&str> = evs
        .iter()
        .map(|e| e["eventTypeName"].as_str().unwrap())
        .collect();
    for want in [
        "GROUP_CREATED",
        "MONGODB_ROLE_ADDED",
        "MONGODB_USER_ADDED",
        "NETWORK_PERMISSION_ENTRY_ADDED",
        "CLUSTER_CREATED",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(evs
        .iter()
        .all(|e| e["actor"] == cp.client_id.as_str() && e["remoteAddress"] == "127.0.0.1"));
    let (s, b) = cp
        .call(
            &owner,
            "GET",
            &format!("/groups/{g}/events?eventType=MONGODB_USER_ADDED"),
            None,
        )
        .await;
    assert_eq!((s, b["totalCount"].as_u64()), (200, Some(1)), "{b}");
}

async fn secrets_rotate_and_tokens_die_with_them(backend: Backend) {
    let Some(cp) = start_on(backend).await else {
        return;
    };
    let owner = cp.owner_token().await;
    let org = cp.org_id.clone();
    let (s, b) = cp
        .call(&owner, "POST", &format!("/orgs/{org}/serviceAccounts"),
              Some(json!({"name": "ci", "description": "ci", "roles": ["ORG_READ_ONLY"], "secretExpiresAfterHours": 8})))
        .await;
    assert_eq!(s, 201, "{b}");
    let client = b["clientId"].as_str().unwrap().to_string();
    let first_id = b["secrets"][0]["id"].as_str().unwrap().to_string();
    let first = b["secrets"][0]["secret"].as_str().unwrap().to_string();
    let token = cp.token_for(&client, &first).await;
    let (s, _) = cp.call(&token, "GET", &format!("/orgs/{org}"), None).await;
    assert_eq!(s, 200);
    let path = format!("/orgs/{org}/serviceAccounts/{client}/secrets");
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &path,
            Some(json!({"secretExpiresAfterHours": 9000})),
        )
        .await;
    assert_eq!(s, 400, "more than a year: {b}");
    let (s, _) = cp
        .call(
            &owner,
            "POST",
            &path,
            Some(json!({"secretExpiresAfterHours": 24})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &path,
            Some(json!({"secretExpiresAfterHours": 24})),
        )
        .await;
    assert_eq!(s, 409, "at most two live secrets: {b}");
    let (s, _) = cp
        .call(&owner, "DELETE", &format!("{path}/{first_id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = cp.call(&token, "GET", &format!("/orgs/{org}"), None).await;
    assert_eq!(s, 401, "the token died with its secret");
    // An access list that excludes loopback makes the account's tokens unusable.
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/orgs/{org}/serviceAccounts/{client}/accessList"),
            Some(json!([{"ipAddress": "192.0.2.1"}])),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = cp
        .call(
            &owner,
            "GET",
            &format!("/orgs/{org}/serviceAccounts/{client}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// Lists page as Atlas's do (`pageNum`, `itemsPerPage`, `includeCount`, a `next` link) over
/// what the store holds.
async fn lists_page_and_count(backend: Backend) {
    let Some(cp) = start_on(backend).await else {
        return;
    };
    let owner = cp.owner_token().await;
    let g = cp.project(&owner, "paged").await;
    let entries: Vec<Value> = (1..=5)
        .map(|i| json!({"ipAddress": format!("10.0.0.{i}")}))
        .collect();
    let (s, b) = cp
        .call(
            &owner,
            "POST",
            &format!("/groups/{g}/accessList"),
            Some(Value::Array(entries)),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let page = |n: u32, extra: &'static str| {
        let path = format!("/groups/{g}/accessList?itemsPerPage=2&pageNum={n}{extra}");
        let (cp, owner) = (&cp, &owner);
        async move {
            let (s, b) = cp.call(owner, "GET", &path, None).await;
            assert_eq!(s, 200, "{path}: {b}");
            b
        }
    };
    let has_next = |b: &Value| {
        b["links"]
            .as_array()
            .expect("links")
            .iter()
            .any(|l| l["rel"] == "next")
    };
    let mut seen = std::collections::BTreeSet::new();
    for (n, len, next) in [(1, 2, true), (2, 2, true), (3, 1, false), (4, 0, false)] {
        let b = page(n, "").await;
        let results = b["results"].as_array().expect("results");
        assert_eq!((results.len(), has_next(&b)), (len, next), "page {n}: {b}");
        assert_eq!(b["totalCount"], 5, "page {n}: {b}");
        seen.extend(results.iter().map(|e| e["ipAddress"].to_string()));
    }
    assert_eq!(seen.len(), 5, "every entry once: {seen:?}");
    let b = page(1, "&includeCount=false").await;
    assert!(b.get("totalCount").is_none(), "{b}");
    let get = |path: String| {
        let (cp, owner) = (&cp, &owner);
        async move { cp.call(owner, "GET", &path, None).await }
    };
    let (s, b) = get(format!("/groups/{g}/accessList?itemsPerPage=0")).await;
    assert_eq!((s, api_error(s, &b).as_str()), (400, "VALIDATION_ERROR"));
    // Events page too.
    let (s, b) = get(format!("/groups/{g}/events?itemsPerPage=1")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["results"].as_array().map(Vec::len), Some(1), "{b}");
    assert!(b["totalCount"].as_u64() >= Some(2), "{b}");
    assert!(has_next(&b), "{b}");
}
