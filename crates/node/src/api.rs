//! The local HTTP/JSON API (127.0.0.1, bearer token); the OpenAPI document is `openapi.json`.
//!
//! Every handler runs the same operation the CLI runs ([`crate::ops`], [`crate::jobs`]); errors
//! go through [`ApiError`]: the status and a message for the client, internal detail only in
//! the log.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::jobs::{self, SubmitRequest};
use crate::node::Node;
use crate::ops::{self, DatasetInput, PartnerInput, PolicyInput};
use crate::{NodeError, metrics};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route: (method, path as in the OpenAPI document). A test checks both agree.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("get", "/metrics"),
    ("get", "/v1/node"),
    ("get", "/v1/partners"),
    ("post", "/v1/partners"),
    ("delete", "/v1/partners/{name}"),
    ("get", "/v1/datasets"),
    ("post", "/v1/datasets"),
    ("delete", "/v1/datasets/{name}"),
    ("get", "/v1/policies"),
    ("post", "/v1/policies"),
    ("delete", "/v1/policies/{dataset}/{partner}/{job}"),
    ("get", "/v1/jobs"),
    ("post", "/v1/jobs"),
    ("get", "/v1/jobs/{id}"),
    ("post", "/v1/jobs/{id}/cancel"),
    ("post", "/v1/jobs/{id}/rerun"),
    ("post", "/v1/models/{model_id}/score"),
    ("get", "/v1/audit"),
    ("get", "/v1/audit/verify"),
];

/// An error answered to an API client: a status and a message; 5xx detail stays in the log.
#[derive(Debug)]
pub struct ApiError(NodeError);

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // A partner failure (502) names the partner and what failed; other 5xx detail stays in
        // the log.
        let message = if status.is_server_error() && status != StatusCode::BAD_GATEWAY {
            tracing::error!(error = %self.0, "API request failed");
            "internal error; see the node's log".to_owned()
        } else {
            self.0.to_string()
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs blocking work (database, files) off the async workers.
async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, NodeError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(NodeError::Internal(format!("worker failed: {e}"))))?
        .map_err(ApiError)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, NodeError> {
    serde_json::to_value(v).map_err(|e| NodeError::Internal(e.to_string()))
}

/// The API's router (tests call it without a socket).
pub fn router(node: Arc<Node>) -> Router {
    let authed = Router::new()
        .route("/metrics", get(get_metrics))
        .route("/v1/node", get(get_node))
        .route("/v1/partners", get(list_partners).post(add_partner))
        .route("/v1/partners/{name}", delete(remove_partner))
        .route("/v1/datasets", get(list_datasets).post(add_dataset))
        .route("/v1/datasets/{name}", delete(remove_dataset))
        .route("/v1/policies", get(list_policies).post(allow))
        .route("/v1/policies/{dataset}/{partner}/{job}", delete(deny))
        .route("/v1/jobs", get(list_jobs).post(submit))
        .route("/v1/jobs/{id}", get(show_job))
        .route("/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/v1/jobs/{id}/rerun", post(rerun_job))
        .route("/v1/models/{model_id}/score", post(score_one))
        .route("/v1/audit", get(audit_show))
        .route("/v1/audit/verify", get(audit_verify))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&node), auth));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .merge(authed)
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "no such endpoint" })),
            )
        })
        .with_state(node)
}

async fn auth(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented.is_some_and(|t| node.token_matches(t)) {
        return next.run(req).await;
    }
    node.counters
        .api_unauthorized
        .fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_owned();
    tracing::warn!(method = %req.method(), %path, "API request without a valid token");
    let audit_node = Arc::clone(&node);
    let method = req.method().to_string();
    let source = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(
            || "unknown".to_owned(),
            |c| crate::admission::Source::of(c.0.ip()).to_string(),
        );
    // Rate-limited: one record per source and interval, with a count (crate::refusals).
    let _ = tokio::task::spawn_blocking(move || {
        audit_node.audit_refusal(
            "api",
            "api.unauthorized",
            &source,
            json!({ "method": method, "path": path }),
        );
    })
    .await;
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "unauthorized" })),
    )
        .into_response()
}

async fn healthz(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(json!({ "status": "ok", "name": node.config.name }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn get_metrics(State(node): State<Arc<Node>>) -> Result<Response, ApiError> {
    let text = blocking(move || {
        let m = node.store().job_metrics()?;
        Ok(metrics::render(&m, &node.counters))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn get_node(State(node): State<Arc<Node>>) -> ApiResult {
    let info = crate::node_info(&node.config, &node.fingerprint(), &node.dir)?;
    Ok(Json(info))
}

async fn list_partners(State(node): State<Arc<Node>>) -> ApiResult {
    blocking(move || to_json(&node.store().partners()?))
        .await
        .map(Json)
}

async fn add_partner(State(node): State<Arc<Node>>, Json(p): Json<PartnerInput>) -> ApiResult {
    blocking(move || {
        let own = node.fingerprint();
        to_json(&ops::add_partner(&mut node.store(), "api", &own, &p)?)
    })
    .await
    .map(Json)
}

async fn remove_partner(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    blocking(move || {
        ops::remove_partner(&mut node.store(), "api", &name)?;
        Ok(json!({ "removed": name }))
    })
    .await
    .map(Json)
}

async fn list_datasets(State(node): State<Arc<Node>>) -> ApiResult {
    blocking(move || to_json(&node.store().datasets()?))
        .await
        .map(Json)
}

async fn add_dataset(State(node): State<Arc<Node>>, Json(d): Json<DatasetInput>) -> ApiResult {
    blocking(move || {
        // The file is read without holding the store: a large dataset must not stall jobs.
        let mut store = crate::audit_key::open_store(&node.dir)?;
        let (dataset, summary) = ops::add_dataset(&mut store, "api", &d)?;
        Ok(
            json!({ "dataset": to_json(&dataset)?, "rows": summary.rows_read,
                   "skipped_invalid": summary.skipped_invalid,
                   "duplicates_dropped": summary.duplicates_dropped }),
        )
    })
    .await
    .map(Json)
}

async fn remove_dataset(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    blocking(move || {
        ops::remove_dataset(&node.dir, &mut node.store(), "api", &name)?;
        Ok(json!({ "removed": name }))
    })
    .await
    .map(Json)
}

async fn list_policies(State(node): State<Arc<Node>>) -> ApiResult {
    blocking(move || to_json(&node.store().policies()?))
        .await
        .map(Json)
}

async fn allow(State(node): State<Arc<Node>>, Json(p): Json<PolicyInput>) -> ApiResult {
    blocking(move || to_json(&ops::allow(&mut node.store(), "api", &p)?))
        .await
        .map(Json)
}

async fn deny(
    State(node): State<Arc<Node>>,
    Path((dataset, partner, job)): Path<(String, String, String)>,
) -> ApiResult {
    blocking(move || {
        let removed = ops::deny(&mut node.store(), "api", &dataset, &partner, &job)?;
        Ok(json!({ "removed": removed }))
    })
    .await
    .map(Json)
}

async fn list_jobs(State(node): State<Arc<Node>>) -> ApiResult {
    blocking(move || to_json(&node.store().jobs(None)?))
        .await
        .map(Json)
}

async fn submit(State(node): State<Arc<Node>>, Json(req): Json<SubmitRequest>) -> ApiResult {
    blocking(move || to_json(&jobs::submit(&node, "api", &req, None)?))
        .await
        .map(Json)
}

async fn show_job(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    blocking(move || {
        let job = node.store().job(&id)?.ok_or_else(|| {
            NodeError::Store(unseen_store::StoreError::NotFound {
                what: "job",
                name: id,
            })
        })?;
        to_json(&job)
    })
    .await
    .map(Json)
}

async fn cancel_job(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    blocking(move || to_json(&jobs::cancel(&node, "api", &id)?))
        .await
        .map(Json)
}

async fn rerun_job(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    blocking(move || to_json(&jobs::rerun(&node, "api", &id)?))
        .await
        .map(Json)
}

/// Scores one applicant (synchronous: the session with the partner runs before the answer).
/// The body is parsed here so that every malformed body is a 400 with a JSON message.
async fn score_one(
    State(node): State<Arc<Node>>,
    Path(model_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    blocking(move || {
        let req = crate::score::ScoreRequest::parse(&body)?;
        crate::score::score(&node, "api", &model_id, &req)
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    job: Option<String>,
}

async fn audit_show(State(node): State<Arc<Node>>, Query(q): Query<AuditQuery>) -> ApiResult {
    blocking(move || to_json(&node.store().audit_records(q.job.as_deref())?))
        .await
        .map(Json)
}

async fn audit_verify(State(node): State<Arc<Node>>) -> ApiResult {
    blocking(move || to_json(&crate::audit_key::verify(&node.dir, &node.store())?))
        .await
        .map(Json)
}
