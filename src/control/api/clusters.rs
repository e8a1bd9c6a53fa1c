//! Clusters of a project. `upstream`, `listen` and `sni` are mongoward extensions: the
//! cluster is an existing deployment that mongoward fronts.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::ApiError;
use super::events::Event;
use super::extract::{Body, PathParams, QueryParams};
use super::oauth::to_value;
use super::paging::{PageQuery, Paged};
use super::responses::{ApiErrors, Delete, List, Read, Write};
use super::state::{Caller, InGroup, Shared};
use super::types::{ClusterView, ConnectionStrings, CreateCluster, UpdateCluster, UpstreamBody};
use super::validate;
use crate::config::uri::UpstreamUri;
use crate::control::authz::Operation;
use crate::control::model::{Cluster, Project, Upstream};
use crate::control::store::{Expect, Op};

type R<T> = Result<T, ApiError>;

fn key(group_id: &str, name: &str) -> String {
    format!("groups/{group_id}/clusters/{name}")
}

fn check_upstream(u: &UpstreamBody) -> R<()> {
    UpstreamUri::parse(&u.uri).map_err(|e| ApiError::validation(format!("upstream.uri: {e}")))?;
    if u.password_env.is_some() && u.password_file.is_some() {
        return Err(ApiError::validation(
            "upstream: give passwordEnv or passwordFile, not both",
        ));
    }
    for (field, v) in [
        ("passwordEnv", &u.password_env),
        ("passwordFile", &u.password_file),
        ("tlsCaFile", &u.tls_ca_file),
    ] {
        if let Some(v) = v {
            validate::text(&format!("upstream.{field}"), v, 4096)?;
        }
    }
    Ok(())
}

fn check_routing(listen: &[String], sni: &[String]) -> R<()> {
    for l in listen {
        l.parse::<SocketAddr>()
            .map_err(|_| ApiError::validation(format!("listen: {l:?} is not ip:port")))?;
    }
    for s in sni {
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return Err(ApiError::validation(format!(
                "sni: {s:?} is not a DNS name"
            )));
        }
    }
    Ok(())
}

/// Another cluster (any project) already using one of these listeners or names.
async fn routing_clash(
    state: &Shared,
    me: (&str, &str),
    listen: &[String],
    sni: &[String],
) -> R<()> {
    for item in state.store.list("groups/").await? {
        if !item.key.contains("/clusters/") {
            continue;
        }
        let Ok(c) = serde_json::from_value::<Cluster>(item.value) else {
            continue;
        };
        if (c.group_id.as_str(), c.name.as_str()) == me {
            continue;
        }
        let clash = c.listen.iter().find(|l| listen.contains(l)).or_else(|| {
            c.sni
                .iter()
                .find(|s| sni.iter().any(|n| n.eq_ignore_ascii_case(s)))
        });
        if let Some(what) = clash {
            return Err(ApiError::conflict(
                "DUPLICATE_CLUSTER_ROUTE",
                format!("{what} already routes to cluster {}", c.name),
            ));
        }
    }
    Ok(())
}

fn upstream(u: UpstreamBody) -> Upstream {
    Upstream {
        uri: u.uri,
        password_env: u.password_env,
        password_file: u.password_file,
        tls_ca_file: u.tls_ca_file,
    }
}

fn view(state: &Shared, c: &Cluster) -> ClusterView {
    let standard = if !c.listen.is_empty() {
        format!("mongodb://{}/?tls=true", c.listen.join(","))
    } else {
        // Routed on the shared listener: by SNI name when it has one.
        let shared = state
            .data_plane_addr
            .as_deref()
            .unwrap_or("127.0.0.1:27017");
        let port = shared.parse::<SocketAddr>().map_or(27017, |a| a.port());
        match c.sni.first() {
            Some(name) => format!("mongodb://{name}:{port}/?tls=true"),
            None => format!("mongodb://{shared}/?tls=true"),
        }
    };
    let u = &c.upstream;
    ClusterView {
        name: c.name.clone(),
        group_id: c.group_id.clone(),
        upstream: UpstreamBody {
            uri: u.uri.clone(),
            password_env: u.password_env.clone(),
            password_file: u.password_file.clone(),
            tls_ca_file: u.tls_ca_file.clone(),
        },
        listen: c.listen.clone(),
        sni: c.sni.clone(),
        connection_strings: ConnectionStrings { standard },
        state_name: "IDLE".into(),
    }
}

async fn load(state: &Shared, p: &Project, name: &str) -> R<(Cluster, i64)> {
    state
        .get::<Cluster>(&key(&p.id, name))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no cluster named {name} in this project")))
}

/// `GET /groups/{groupId}/clusters`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/clusters", tag = "Clusters",
    params(("groupId" = String, Path), PageQuery),
    responses((status = 200, body = Paged<ClusterView>), ApiErrors<List>))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> R<Json<Paged<ClusterView>>> {
    let what = InGroup {
        op: Operation::ListClusters,
        records: |g| format!("groups/{g}/clusters/"),
        path: "clusters",
    };
    let page = state
        .list_in_group(&caller, &group_id, &q, what, |c: &Cluster| view(&state, c))
        .await?;
    Ok(Json(page))
}

/// `POST /groups/{groupId}/clusters`
#[utoipa::path(post, path = "/api/atlas/v2/groups/{groupId}/clusters", tag = "Clusters",
    params(("groupId" = String, Path)), request_body = CreateCluster,
    responses((status = 201, body = ClusterView,
               links(("GetCluster" = (operation_id = "get_cluster", parameters(("groupId" = "$request.path.groupId"), ("clusterName" = "$response.body#/name")))),
                     ("DeleteCluster" = (operation_id = "delete_cluster", parameters(("groupId" = "$request.path.groupId"), ("clusterName" = "$response.body#/name")))))), ApiErrors<Write>))]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    PathParams(group_id): PathParams<String>,
    Body(body): Body<CreateCluster>,
) -> R<(StatusCode, Json<ClusterView>)> {
    let (p, prev) = state.project(&group_id).await?;
    caller.may_group(Operation::CreateCluster, &p)?;
    validate::cluster_name("name", &body.name)?;
    check_upstream(&body.upstream)?;
    check_routing(&body.listen, &body.sni)?;
    routing_clash(&state, (&group_id, &body.name), &body.listen, &body.sni).await?;
    let c = Cluster {
        name: body.name.clone(),
        group_id: group_id.clone(),
        upstream: upstream(body.upstream),
        listen: body.listen,
        sni: body.sni,
    };
    let ops = vec![
        Op::Put {
            key: key(&group_id, &c.name),
            value: to_value(&c)?,
            expect: Expect::Absent,
        },
        // Rewriting the project makes a concurrent project delete conflict (no orphan).
        Op::Put {
            key: format!("groups/{group_id}"),
            value: to_value(&p)?,
            expect: Expect::Revision(prev),
        },
    ];
    let ev = Event::new(
        "CLUSTER_CREATED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(c.name.clone()),
    );
    state.write(ops, ev).await.map_err(|e| match e {
        ApiError::Conflict { .. } => ApiError::conflict(
            "DUPLICATE_CLUSTER_NAME",
            format!("a cluster named {} already exists in this project", c.name),
        ),
        other => other,
    })?;
    Ok((StatusCode::CREATED, Json(view(&state, &c))))
}

/// `GET /groups/{groupId}/clusters/{clusterName}`
#[utoipa::path(get, path = "/api/atlas/v2/groups/{groupId}/clusters/{clusterName}", tag = "Clusters",
    operation_id = "get_cluster", params(("groupId" = String, Path), ("clusterName" = String, Path)),
    responses((status = 200, body = ClusterView), ApiErrors<Read>))]
pub async fn get(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, name)): PathParams<(String, String)>,
) -> R<Json<ClusterView>> {
    let p = state
        .project_for(&caller, Operation::GetCluster, &group_id)
        .await?;
    let (c, _) = load(&state, &p, &name).await?;
    Ok(Json(view(&state, &c)))
}

/// `PATCH /groups/{groupId}/clusters/{clusterName}`
#[utoipa::path(patch, path = "/api/atlas/v2/groups/{groupId}/clusters/{clusterName}", tag = "Clusters",
    params(("groupId" = String, Path), ("clusterName" = String, Path)), request_body = UpdateCluster,
    responses((status = 200, body = ClusterView), ApiErrors<Write>))]
pub async fn update(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, name)): PathParams<(String, String)>,
    Body(body): Body<UpdateCluster>,
) -> R<Json<ClusterView>> {
    let p = state
        .project_for(&caller, Operation::UpdateCluster, &group_id)
        .await?;
    let (mut c, rev) = load(&state, &p, &name).await?;
    if let Some(u) = body.upstream {
        check_upstream(&u)?;
        c.upstream = upstream(u);
    }
    if let Some(l) = body.listen {
        c.listen = l;
    }
    if let Some(s) = body.sni {
        c.sni = s;
    }
    check_routing(&c.listen, &c.sni)?;
    routing_clash(&state, (&group_id, &name), &c.listen, &c.sni).await?;
    let ops = vec![Op::Put {
        key: key(&group_id, &name),
        value: to_value(&c)?,
        expect: Expect::Revision(rev),
    }];
    let ev = Event::new(
        "CLUSTER_UPDATE_SUBMITTED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(name.clone()),
    );
    state.write(ops, ev).await?;
    Ok(Json(view(&state, &c)))
}

/// `DELETE /groups/{groupId}/clusters/{clusterName}`
#[utoipa::path(delete, path = "/api/atlas/v2/groups/{groupId}/clusters/{clusterName}", tag = "Clusters",
    operation_id = "delete_cluster", params(("groupId" = String, Path), ("clusterName" = String, Path)),
    responses((status = 204), ApiErrors<Delete>))]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    PathParams((group_id, name)): PathParams<(String, String)>,
) -> R<StatusCode> {
    let p = state
        .project_for(&caller, Operation::DeleteCluster, &group_id)
        .await?;
    let (_, rev) = load(&state, &p, &name).await?;
    let ops = vec![Op::Delete {
        key: key(&group_id, &name),
        expect: Expect::Revision(rev),
    }];
    let ev = Event::new(
        "CLUSTER_DELETED",
        &caller,
        &p.org_id,
        Some(&group_id),
        Some(name),
    );
    state.write(ops, ev).await?;
    Ok(StatusCode::NO_CONTENT)
}
