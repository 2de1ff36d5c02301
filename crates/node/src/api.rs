//! The local HTTP/JSON API (127.0.0.1, bearer token); the OpenAPI document is `openapi.json`.
//!
//! Every handler runs the same operation the CLI runs ([`crate::ops`], [`crate::jobs`]); errors
//! go through [`ApiError`]: the status and a message for the client, internal detail only in
//! the log.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use unseen_store::TokenRole;
use zeroize::Zeroizing;

use crate::jobs::{self, SubmitRequest};
use crate::node::{Caller, Node};
use crate::ops::{self, DatasetInput, PartnerInput, PolicyInput};
use crate::{NodeError, metrics};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Who may call a route: anyone, or a token with at least this role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token needed (health and the API description).
    Public,
    /// A token whose role is at least this one ([`TokenRole::allows`]).
    Role(TokenRole),
}

use Access::Public;
const SCORER: Access = Access::Role(TokenRole::Scorer);
const OPERATOR: Access = Access::Role(TokenRole::Operator);
const ADMIN: Access = Access::Role(TokenRole::Admin);

/// Every route: (method, path as in the OpenAPI document, who may call it). The one place where
/// a route's role is declared: [`auth`] looks the matched route up here (a route missing from
/// this table needs admin), and a test checks that the router and the OpenAPI document (its
/// `x-unseen-role`) agree with it.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("get", "/healthz", Public),
    ("get", "/openapi.json", Public),
    ("get", "/metrics", OPERATOR),
    ("get", "/v1/node", SCORER),
    ("get", "/v1/partners", OPERATOR),
    ("post", "/v1/partners", ADMIN),
    ("delete", "/v1/partners/{name}", ADMIN),
    ("get", "/v1/datasets", OPERATOR),
    ("post", "/v1/datasets", ADMIN),
    ("delete", "/v1/datasets/{name}", ADMIN),
    ("get", "/v1/policies", OPERATOR),
    ("post", "/v1/policies", ADMIN),
    ("delete", "/v1/policies/{dataset}/{partner}/{job}", ADMIN),
    ("get", "/v1/jobs", OPERATOR),
    ("post", "/v1/jobs", OPERATOR),
    ("get", "/v1/jobs/{id}", OPERATOR),
    ("post", "/v1/jobs/{id}/cancel", OPERATOR),
    ("post", "/v1/jobs/{id}/rerun", OPERATOR),
    ("post", "/v1/queries", OPERATOR),
    ("post", "/v1/predictions", OPERATOR),
    ("post", "/v1/models/{model_id}/score", SCORER),
    ("get", "/v1/audit", OPERATOR),
    ("get", "/v1/audit/verify", OPERATOR),
];

/// The role a route needs (admin for a route missing from [`ROUTES`]: deny by default).
pub fn needed_role(method: &str, path: &str) -> TokenRole {
    ROUTES
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path)
        .map_or(TokenRole::Admin, |(_, _, a)| match a {
            Access::Role(r) => *r,
            Access::Public => TokenRole::Scorer,
        })
}

/// An error answered to an API client: a status and a message as `{"error": …}`; 5xx detail
/// stays in the log.
#[derive(Debug)]
pub enum ApiError {
    /// An operation failed: its status and message come from the error.
    Node(NodeError),
    /// The request itself was refused before any operation ran (malformed body, wrong content
    /// type, missing role). The message never quotes the request's body.
    Request {
        /// HTTP status.
        status: StatusCode,
        /// What is wrong, for the client.
        message: String,
    },
}

impl ApiError {
    fn request(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Request {
            status,
            message: message.into(),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        Self::Node(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Request { status, message } => (status, message),
            Self::Node(e) => {
                let status =
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                // A partner failure (502) names the partner and what failed; other 5xx detail
                // stays in the log.
                let message = if status.is_server_error() && status != StatusCode::BAD_GATEWAY {
                    tracing::error!(error = %e, "API request failed");
                    "internal error; see the node's log".to_owned()
                } else {
                    e.to_string()
                };
                (status, message)
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

/// A JSON request body. Unlike axum's `Json`, every rejection is an [`ApiError`] (JSON, like
/// every other error of this API), and its message gives the position and the kind of the
/// problem but never quotes the body (which may hold keys or file paths).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json_type {
            return Err(ApiError::request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be JSON with `Content-Type: application/json`",
            ));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| {
                let status = r.status();
                let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "the request body is too large"
                } else {
                    "the request body could not be read"
                };
                ApiError::request(status, message)
            })?;
        serde_json::from_slice(&body)
            .map(Self)
            .map_err(|e| ApiError::request(StatusCode::BAD_REQUEST, json_problem(&e)))
    }
}

/// What is wrong with a JSON body, without quoting it: serde's message is kept only for a
/// missing field (the name is the API's) and for an unknown one (the names expected).
fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax => format!("the request body is not valid JSON ({at})"),
        Category::Eof => format!("the request body ends early ({at})"),
        Category::Io => "the request body could not be read".to_owned(),
        Category::Data => {
            let text = e.to_string();
            if let Some(rest) = text.strip_prefix("missing field ") {
                let field = rest.split(" at line").next().unwrap_or(rest);
                format!("the request body lacks the field {field}; see /openapi.json")
            } else if text.starts_with("unknown field") {
                let expected = text
                    .split_once(", expected")
                    .map(|(_, x)| x.split(" at line").next().unwrap_or(x).trim())
                    .unwrap_or("the documented fields");
                format!("the request body has an unknown field ({at}); expected {expected}")
            } else {
                format!(
                    "the request body does not match this endpoint's schema (a value of the \
                     wrong type or an unknown name at {at}); see /openapi.json"
                )
            }
        }
    }
}

/// Turns every error answer that is not JSON yet (405 from the router, a rejection of an
/// extractor other than [`ApiJson`]) into `{"error": …}` with a generic message by status, so
/// that the OpenAPI document's promise holds for every error.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return resp;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            "method not allowed on this endpoint; see /openapi.json".to_owned()
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "the request body must be JSON with `Content-Type: application/json`".to_owned()
        }
        s if s.is_server_error() => "internal error; see the node's log".to_owned(),
        s => format!(
            "bad request: {}",
            s.canonical_reason().unwrap_or("refused").to_lowercase()
        ),
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut out = (status, Json(json!({ "error": message }))).into_response();
    // Keep the router's headers that matter to the client (e.g. `Allow` on a 405).
    if let Some(allow) = parts.headers.remove(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
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
        .map_err(|e| ApiError::Node(NodeError::Internal(format!("worker failed: {e}"))))?
        .map_err(ApiError::Node)
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
        .route("/v1/queries", post(submit_query))
        .route("/v1/predictions", post(submit_prediction))
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
        .layer(middleware::map_response(json_errors))
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
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Zeroizing::new(t.to_owned()));
    if let Some(token) = presented {
        let lookup = Arc::clone(&node);
        let caller = tokio::task::spawn_blocking(move || lookup.authenticate(&token)).await;
        match caller {
            Ok(Ok(Some(caller))) => return authorize(&caller, req, next).await,
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return ApiError::Node(e).into_response(),
            Err(e) => {
                let e = NodeError::Internal(format!("token check failed: {e}"));
                return ApiError::Node(e).into_response();
            }
        }
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

/// Lets a request with a valid token through if its role suffices for the route ([`ROUTES`]);
/// otherwise 403 naming the role needed.
async fn authorize(caller: &Caller, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let needed = needed_role(req.method().as_str(), &route);
    if caller.role.allows(needed) {
        return next.run(req).await;
    }
    tracing::warn!(
        token = %caller.name, role = %caller.role, method = %req.method(), %route,
        "API request refused: the token's role is not enough"
    );
    ApiError::request(
        StatusCode::FORBIDDEN,
        format!(
            "forbidden: {} {route} needs the {needed} role (or higher); the token {:?} has the \
             {} role",
            req.method(),
            caller.name,
            caller.role
        ),
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

async fn add_partner(
    State(node): State<Arc<Node>>,
    ApiJson(p): ApiJson<PartnerInput>,
) -> ApiResult {
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

async fn add_dataset(
    State(node): State<Arc<Node>>,
    ApiJson(d): ApiJson<DatasetInput>,
) -> ApiResult {
    blocking(move || {
        // The file is read without holding the store: a large dataset must not stall jobs.
        let mut store = crate::audit_key::open_store(&node.dir)?;
        let access = ops::DataAccess::Api {
            roots: &node.config.data.roots,
        };
        let (dataset, summary) = ops::add_dataset(&node.dir, &mut store, "api", &d, access)?;
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

async fn allow(State(node): State<Arc<Node>>, ApiJson(p): ApiJson<PolicyInput>) -> ApiResult {
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

async fn submit(State(node): State<Arc<Node>>, ApiJson(req): ApiJson<SubmitRequest>) -> ApiResult {
    blocking(move || to_json(&jobs::submit(&node, "api", &req, None)?))
        .await
        .map(Json)
}

async fn submit_query(
    State(node): State<Arc<Node>>,
    ApiJson(req): ApiJson<jobs::QueryRequest>,
) -> ApiResult {
    blocking(move || to_json(&jobs::query_request(&node, "api", &req)?))
        .await
        .map(Json)
}

async fn submit_prediction(
    State(node): State<Arc<Node>>,
    ApiJson(req): ApiJson<jobs::PredictRequest>,
) -> ApiResult {
    blocking(move || to_json(&jobs::predict_request(&node, "api", &req)?))
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
        let req = crate::kinds::score::ScoreRequest::parse(&body)?;
        crate::kinds::score::score(&node, "api", &model_id, &req)
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
