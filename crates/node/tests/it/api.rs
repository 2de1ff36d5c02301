//! The HTTP API through its router, without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use unseen_node::api::{OPENAPI, ROUTES, router};

use crate::util::{id_csv, node, token};

async fn call(
    node: &std::sync::Arc<unseen_node::Node>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&b).unwrap())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = router(std::sync::Arc::clone(node))
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes)
}

fn json_of(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(b)))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn wrong_or_missing_token_is_401_without_detail_and_audited() {
    let f = node("bank-a");
    let good = token(&f.dir);
    rt().block_on(async {
        for t in [None, Some("wrong"), Some(&good[..good.len() - 1])] {
            let (status, body) = call(&f.node, "GET", "/v1/partners", t, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(json_of(&body), json!({ "error": "unauthorized" }));
            assert!(!String::from_utf8_lossy(&body).contains(&good));
        }
        // Health and the API description are public; everything else is not.
        let (status, _) = call(&f.node, "GET", "/healthz", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&f.node, "GET", "/metrics", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = call(&f.node, "GET", "/v1/partners", Some(&good), None).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    });
    // Refusals are audited at a bounded rate: the first at once, the others counted and
    // written as one record when the interval passes (here: flushed as at shutdown).
    f.node.flush_refusals(true);
    let records = f.node.store().audit_records(None).unwrap();
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r.action == "api.unauthorized")
        .collect();
    assert_eq!(refused.len(), 2);
    let total: u64 = refused
        .iter()
        .map(|r| r.params["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4);
    for r in refused {
        assert!(!r.params.to_string().contains(&good));
    }
    assert!(matches!(
        f.node.store().audit_verify().unwrap(),
        unseen_store::AuditReport::Intact { .. }
    ));
}

/// A flood of unauthenticated requests used to append one signed audit record each; now one
/// record per source and interval, and the count is kept (written at the latest at shutdown).
#[test]
fn unauthorized_flood_does_not_grow_the_audit_log() {
    let f = node("bank-a");
    let before = f.node.store().audit_records(None).unwrap().len();
    rt().block_on(async {
        for _ in 0..200 {
            let (status, _) = call(&f.node, "GET", "/v1/jobs", Some("wrong"), None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    });
    let during = f.node.store().audit_records(None).unwrap().len() - before;
    assert!(during <= 2, "{during} audit records for 200 refusals");
    f.node.flush_refusals(true);
    let records = f.node.store().audit_records(None).unwrap();
    let total: u64 = records
        .iter()
        .filter(|r| r.action == "api.unauthorized")
        .map(|r| r.params["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 200, "every refusal is counted");
    assert_eq!(
        f.node
            .counters
            .api_unauthorized
            .load(std::sync::atomic::Ordering::Relaxed),
        200
    );
}

#[test]
fn openapi_document_and_router_agree() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    documented.sort();
    let mut routed: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    routed.sort();
    assert_eq!(documented, routed);

    // Every listed route is served (not the fallback), with placeholders filled in.
    let f = node("bank-a");
    let t = token(&f.dir);
    rt().block_on(async {
        for (m, p, _) in ROUTES {
            let path = p
                .replace("{name}", "nobody")
                .replace("{dataset}", "d")
                .replace("{partner}", "p")
                .replace("{job}", "psi")
                .replace("{id}", "0123456789abcdef0123456789abcdef")
                .replace("{model_id}", "0123456789abcdef0123456789abcdef");
            let body = (*m == "post").then(|| json!({}));
            let (status, bytes) = call(&f.node, &m.to_uppercase(), &path, Some(&t), body).await;
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("no such endpoint") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{m} {path}: {status} {text}"
            );
        }
        let (status, bytes) = call(&f.node, "GET", "/v2/nothing", Some(&t), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json_of(&bytes)["error"], "no such endpoint");
    });
}

#[test]
fn registries_over_http_validate_their_input() {
    let mut f = node("bank-a");
    f.node = with_roots(&f, &[f._tmp.path()]);
    let other = node("data-b");
    let t = token(&f.dir);
    let own_pem = std::fs::read_to_string(f.dir.cert()).unwrap();
    let their_pem = std::fs::read_to_string(other.dir.cert()).unwrap();
    let csv = f.data("customers.csv");
    id_csv(&csv, 50);
    rt().block_on(async {
        let add = |name: &str, pem: &str| {
            json!({ "name": name, "address": "127.0.0.1:7102", "cert_pem": pem })
        };
        let (s, b) = call(&f.node, "POST", "/v1/partners", Some(&t), Some(add("data-b", "not a pem"))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&b));
        let (s, b) = call(&f.node, "POST", "/v1/partners", Some(&t), Some(add("data-b", &own_pem))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(json_of(&b)["error"].as_str().unwrap().contains("own certificate"));
        let (s, b) = call(&f.node, "POST", "/v1/partners", Some(&t), Some(add("../x", &their_pem))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&b));
        let (s, b) = call(&f.node, "POST", "/v1/partners", Some(&t), Some(add("data-b", &their_pem))).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        assert_eq!(
            json_of(&b)["fingerprint"],
            other.node.fingerprint().to_string()
        );
        let (s, _) = call(&f.node, "POST", "/v1/partners", Some(&t), Some(add("data-b", &their_pem))).await;
        assert_eq!(s, StatusCode::CONFLICT);

        let ds = |key: &str, path: &str| {
            json!({ "name": "customers", "path": path, "key": key, "key_type": "id-card" })
        };
        let p = csv.display().to_string();
        let (s, b) = call(&f.node, "POST", "/v1/datasets", Some(&t), Some(ds("cust_id", &p))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(json_of(&b)["error"].as_str().unwrap().contains("cust_id"), "{}", String::from_utf8_lossy(&b));
        let (s, b) = call(&f.node, "POST", "/v1/datasets", Some(&t), Some(ds("id", "/nonexistent/x.csv"))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&b));
        // A corrupt Parquet file (the magic and nothing else): refused, naming the file.
        let parquet = f.data("t.parquet");
        std::fs::write(&parquet, b"PAR1").unwrap();
        let (s, b) = call(&f.node, "POST", "/v1/datasets", Some(&t), Some(ds("id", &parquet.display().to_string()))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let err = json_of(&b)["error"].as_str().unwrap().to_owned();
        assert!(err.contains("t.parquet") && err.contains("cannot read as Parquet"), "{err}");
        // A valid one: checked like a CSV file (key column, keys), its schema's columns listed.
        let pq = f.data("customers.parquet");
        let ids: Vec<Option<String>> = (0..20u32)
            .map(|i| {
                unseen_data::synth::id_card(&format!("11010519800101{i:03}"))
            })
            .collect();
        unseen_data::testing::write_parquet(
            &pq,
            "message t { required binary id (STRING); optional int64 amount; }",
            &[
                unseen_data::testing::Values::strings(ids),
                unseen_data::testing::Values::Int64((0..20).map(Some).collect()),
            ],
            8,
            unseen_data::testing::Codec::Snappy,
        )
        .unwrap();
        let pq_ds = json!({ "name": "customers-pq", "path": pq.display().to_string(),
                            "key": "id", "key_type": "id-card" });
        let (s, b) = call(&f.node, "POST", "/v1/datasets", Some(&t), Some(pq_ds)).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        assert_eq!(json_of(&b)["rows"], 20);
        assert_eq!(json_of(&b)["dataset"]["columns"], json!(["id", "amount"]));
        let pq_bad_key = json!({ "name": "customers-pq2", "path": pq.display().to_string(),
                                 "key": "amount", "key_type": "id-card" });
        let (s, b) = call(&f.node, "POST", "/v1/datasets", Some(&t), Some(pq_bad_key)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let err = json_of(&b)["error"].as_str().unwrap().to_owned();
        assert!(err.contains("customers.parquet: row 1: column \"amount\""), "{err}");
        let (s, b) = call(&f.node, "POST", "/v1/datasets", Some(&t), Some(ds("id", &p))).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        assert_eq!(json_of(&b)["rows"], 50);

        let pol = |job: &str, receivers: &str| {
            json!({ "dataset": "customers", "partner": "data-b", "job": job, "receivers": receivers })
        };
        let (s, _) = call(&f.node, "POST", "/v1/policies", Some(&t), Some(pol("sql", "any"))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = call(&f.node, "POST", "/v1/policies", Some(&t), Some(pol("psi", "everyone"))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, b) = call(&f.node, "POST", "/v1/policies", Some(&t), Some(pol("psi", "none"))).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));

        // A local submission the local policy does not allow: 403, no job, audited.
        let job = json!({ "kind": "psi", "partner": "data-b", "dataset": "customers",
                          "peer_dataset": "theirs", "mode": "both" });
        let (s, b) = call(&f.node, "POST", "/v1/jobs", Some(&t), Some(job)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(json_of(&b)["error"].as_str().unwrap().contains("none"), "{}", String::from_utf8_lossy(&b));
        let (s, b) = call(&f.node, "GET", "/v1/jobs", Some(&t), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(json_of(&b), json!([]));

        let (s, b) = call(&f.node, "GET", "/metrics", Some(&t), None).await;
        assert_eq!(s, StatusCode::OK);
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("unseen_jobs{state=\"succeeded\"} 0"), "{text}");
        assert!(text.contains("unseen_job_duration_seconds_count 0"), "{text}");
    });
    let actions: Vec<String> = f
        .node
        .store()
        .audit_records(None)
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "node.init",
            "partner.added",
            "dataset.added",
            "dataset.added",
            "policy.allowed",
            "job.refused"
        ]
    );
}

/// Sends a request with a raw body and content type (or none).
async fn call_raw(
    node: &std::sync::Arc<unseen_node::Node>,
    method: &str,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &'static [u8],
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = router(std::sync::Arc::clone(node))
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, bytes)
}

/// Method, path, content type, body, expected status.
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [u8],
    StatusCode,
);

#[test]
fn every_error_is_json_and_never_echoes_the_body() {
    let f = node("bank-a");
    let t = token(&f.dir);
    rt().block_on(async {
        let secret = "SECRET-9f1c-in-the-body";
        let cases: Vec<Case> = vec![
            // Not JSON at all.
            ("POST", "/v1/partners", Some("application/json"),
             b"{\"name\": SECRET-9f1c-in-the-body", StatusCode::BAD_REQUEST),
            // Valid JSON of the wrong shape: a value of the wrong type.
            ("POST", "/v1/datasets", Some("application/json"),
             b"{\"name\": \"x\", \"path\": [\"SECRET-9f1c-in-the-body\"], \"key\": \"id\", \"key_type\": \"string\"}",
             StatusCode::BAD_REQUEST),
            // An unknown field whose name is the secret.
            ("POST", "/v1/policies", Some("application/json"),
             b"{\"SECRET-9f1c-in-the-body\": 1}", StatusCode::BAD_REQUEST),
            // No content type.
            ("POST", "/v1/jobs", None, b"{}", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ("POST", "/v1/jobs", Some("text/plain"), b"SECRET-9f1c-in-the-body",
             StatusCode::UNSUPPORTED_MEDIA_TYPE),
            // A method the route does not have, and an unknown route.
            ("PUT", "/v1/partners", Some("application/json"), b"{}", StatusCode::METHOD_NOT_ALLOWED),
            ("GET", "/nothing/here", None, b"", StatusCode::NOT_FOUND),
        ];
        for (method, path, ct, body, want) in cases {
            let (status, content_type, bytes) = call_raw(&f.node, method, path, &t, ct, body).await;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            assert_eq!(status, want, "{method} {path}: {text}");
            assert_eq!(content_type.as_deref(), Some("application/json"), "{method} {path}: {text}");
            let msg = json_of(&bytes)["error"].as_str().unwrap().to_owned();
            assert!(!msg.is_empty());
            assert!(!text.contains(secret), "{method} {path} echoes the body: {text}");
        }
        // A missing field is named (the name is the API's, not the caller's).
        let (status, _, bytes) = call_raw(&f.node, "POST", "/v1/partners", &t,
            Some("application/json"), b"{\"name\": \"x\"}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let msg = json_of(&bytes)["error"].as_str().unwrap().to_owned();
        assert!(msg.contains("address"), "{msg}");
    });
}

/// Creates a token with `role` through the same operation the CLI runs.
fn make_token(f: &crate::util::Fixture, name: &str, role: unseen_store::TokenRole) -> String {
    let mut store = unseen_node::audit_key::open_store(&f.dir).unwrap();
    let (_, secret) = unseen_node::ops::create_token(&mut store, "cli", name, role).unwrap();
    secret.to_string()
}

#[test]
fn token_roles_scope_what_a_token_may_do() {
    use unseen_store::TokenRole;
    let f = node("bank-a");
    let scorer = make_token(&f, "app1", TokenRole::Scorer);
    let operator = make_token(&f, "ops", TokenRole::Operator);
    let admin = make_token(&f, "root2", TokenRole::Admin);
    // Only the digest is stored.
    let db = std::fs::read(f.dir.db()).unwrap();
    assert!(!db.windows(scorer.len()).any(|w| w == scorer.as_bytes()));
    rt().block_on(async {
        let partner = json!({ "name": "p", "address": "127.0.0.1:7102", "cert_pem": "x" });
        // The scorer: scores and the node's identity, nothing else.
        let (s, b) = call(
            &f.node,
            "POST",
            "/v1/partners",
            Some(&scorer),
            Some(partner.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let msg = json_of(&b)["error"].as_str().unwrap().to_owned();
        assert!(msg.contains("admin") && msg.contains("scorer"), "{msg}");
        for (m, p) in [
            ("GET", "/v1/jobs"),
            ("GET", "/v1/audit"),
            ("GET", "/v1/partners"),
        ] {
            let (s, b) = call(&f.node, m, p, Some(&scorer), None).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{m} {p}");
            assert!(json_of(&b)["error"].as_str().unwrap().contains("operator"));
        }
        let (s, _) = call(&f.node, "GET", "/v1/node", Some(&scorer), None).await;
        assert_eq!(s, StatusCode::OK);
        // A score gets past the role check (and fails later: no such model).
        let (s, b) = call(
            &f.node,
            "POST",
            "/v1/models/0123456789abcdef0123456789abcdef/score",
            Some(&scorer),
            Some(json!({ "key": "x" })),
        )
        .await;
        assert_ne!(s, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&b));
        assert_ne!(s, StatusCode::UNAUTHORIZED);
        // The operator: jobs and audit, not the registries.
        let (s, _) = call(&f.node, "GET", "/v1/jobs", Some(&operator), None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&f.node, "GET", "/v1/audit", Some(&operator), None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(
            &f.node,
            "POST",
            "/v1/partners",
            Some(&operator),
            Some(partner.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = call(&f.node, "DELETE", "/v1/datasets/x", Some(&operator), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = call(
            &f.node,
            "POST",
            "/v1/policies",
            Some(&operator),
            Some(json!({ "dataset": "d", "partner": "p", "job": "psi" })),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Admin tokens (created, and the api.token file) pass the role check.
        let (s, _) = call(
            &f.node,
            "POST",
            "/v1/partners",
            Some(&admin),
            Some(partner.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = call(
            &f.node,
            "POST",
            "/v1/partners",
            Some(&token(&f.dir)),
            Some(partner),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    });
    // Revoked: refused from the next request on.
    let mut store = unseen_node::audit_key::open_store(&f.dir).unwrap();
    unseen_node::ops::revoke_token(&mut store, "cli", "ops").unwrap();
    rt().block_on(async {
        let (s, _) = call(&f.node, "GET", "/v1/jobs", Some(&operator), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    });
    let records = f.node.store().audit_records(None).unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "token.created").count(), 3);
    assert!(actions.contains(&"token.revoked"));
    for r in &records {
        for secret in [&scorer, &operator, &admin] {
            assert!(!r.params.to_string().contains(secret.as_str()));
        }
    }
}

#[test]
fn openapi_declares_the_role_of_every_route() {
    use unseen_node::api::Access;
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    for (m, p, access) in ROUTES {
        let op = &doc["paths"][*p][*m];
        let want = match access {
            Access::Public => "public",
            Access::Role(r) => r.as_str(),
        };
        assert_eq!(op["x-unseen-role"], want, "{m} {p}");
        if *access != Access::Public {
            assert!(
                op["responses"]["403"].is_object(),
                "{m} {p} documents no 403"
            );
        }
    }
}

/// The node reopened with `[data] roots` set to `roots`.
fn with_roots(
    f: &crate::util::Fixture,
    roots: &[&std::path::Path],
) -> std::sync::Arc<unseen_node::Node> {
    let text = std::fs::read_to_string(f.dir.config()).unwrap();
    assert!(text.contains("roots = []"), "{text}");
    let list: Vec<String> = roots
        .iter()
        .map(|r| format!("{:?}", r.display().to_string()))
        .collect();
    let text = text.replace("roots = []", &format!("roots = [{}]", list.join(", ")));
    std::fs::write(f.dir.config(), text).unwrap();
    unseen_node::Node::open(&f.dir).unwrap()
}

#[test]
fn api_datasets_must_be_regular_files_under_a_data_root_and_never_the_nodes_secrets() {
    use unseen_node::ops::{self, DataAccess};
    let f = node("bank-a");
    let t = token(&f.dir);
    let data = f.data("data");
    std::fs::create_dir(&data).unwrap();
    let good = data.join("customers.csv");
    id_csv(&good, 20);
    let outside = f.data("outside.csv");
    id_csv(&outside, 20);
    let key = f.dir.audit_key().display().to_string();
    let key_text = std::fs::read_to_string(f.dir.audit_key()).unwrap();
    let ds = |name: &str, path: &str| json!({ "name": name, "path": path, "key": "id", "key_type": "string" });
    // No roots configured: the API registers nothing, and says how to configure.
    rt().block_on(async {
        let (s, b) = call(
            &f.node,
            "POST",
            "/v1/datasets",
            Some(&t),
            Some(ds("c", &good.display().to_string())),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&b));
        let msg = json_of(&b)["error"].as_str().unwrap().to_owned();
        assert!(msg.contains("[data]") && msg.contains("roots"), "{msg}");
    });
    // A root that holds the node directory too ("/"-like): the node directory stays refused.
    let node_a = with_roots(&f, &[&data, f._tmp.path()]);
    let link_to_key = data.join("innocent.csv");
    std::os::unix::fs::symlink(f.dir.key(), &link_to_key).unwrap();
    let link_out = data.join("elsewhere.csv");
    std::os::unix::fs::symlink(&outside, &link_out).unwrap();
    let dotdot = data.join("..").join("outside.csv");
    rt().block_on(async {
        for (path, want) in [
            (key.clone(), StatusCode::FORBIDDEN),
            (f.dir.key().display().to_string(), StatusCode::FORBIDDEN),
            (f.dir.token().display().to_string(), StatusCode::FORBIDDEN),
            (link_to_key.display().to_string(), StatusCode::FORBIDDEN),
            ("/dev/zero".to_owned(), StatusCode::BAD_REQUEST),
            (data.display().to_string(), StatusCode::BAD_REQUEST),
        ] {
            let (s, b) = call(
                &node_a,
                "POST",
                "/v1/datasets",
                Some(&t),
                Some(ds("x", &path)),
            )
            .await;
            let text = String::from_utf8_lossy(&b).into_owned();
            assert_eq!(s, want, "{path}: {text}");
            assert!(!text.contains(key_text.trim()), "{text}");
            assert!(!text.contains("PRIVATE KEY"), "{text}");
        }
    });
    // Only the data directory as root: outside files, `..` and links out are refused.
    let node_b = with_roots_again(&f, &[&data]);
    rt().block_on(async {
        for path in [&outside, &dotdot, &link_out] {
            let (s, b) = call(
                &node_b,
                "POST",
                "/v1/datasets",
                Some(&t),
                Some(ds("x", &path.display().to_string())),
            )
            .await;
            assert_eq!(
                s,
                StatusCode::FORBIDDEN,
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&b)
            );
            assert!(
                json_of(&b)["error"]
                    .as_str()
                    .unwrap()
                    .contains("not under a data root")
            );
        }
        let (s, b) = call(
            &node_b,
            "POST",
            "/v1/datasets",
            Some(&t),
            Some(ds("c", &good.display().to_string())),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    });
    // The operator (CLI) may register any regular file, but not inside the node directory.
    let mut store = unseen_node::audit_key::open_store(&f.dir).unwrap();
    let input = |name: &str, path: &std::path::Path| ops::DatasetInput {
        name: name.into(),
        path: path.to_path_buf(),
        key: "id".into(),
        key_type: "string".into(),
        encoding: "auto".into(),
        skip_invalid: false,
    };
    ops::add_dataset(
        &f.dir,
        &mut store,
        "cli",
        &input("o", &outside),
        DataAccess::Operator,
    )
    .unwrap();
    let err = ops::add_dataset(
        &f.dir,
        &mut store,
        "cli",
        &input("k", &f.dir.key()),
        DataAccess::Operator,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("inside the node directory"),
        "{err}"
    );
    // At job time: a registered file swapped for a link into the node directory is refused.
    let swap = data.join("swap.csv");
    id_csv(&swap, 20);
    ops::add_dataset(
        &f.dir,
        &mut store,
        "cli",
        &input("swap", &swap),
        DataAccess::Operator,
    )
    .unwrap();
    let mut d = store.dataset("swap").unwrap().unwrap();
    d.path = swap.display().to_string();
    ops::dataset_file(&f.dir, &d).unwrap();
    std::fs::remove_file(&swap).unwrap();
    std::os::unix::fs::symlink(f.dir.audit_key(), &swap).unwrap();
    let err = ops::dataset_file(&f.dir, &d).unwrap_err();
    assert!(
        err.to_string().contains("inside the node directory"),
        "{err}"
    );
    // A job on it is refused before anyone is contacted.
    rt().block_on(async {
        let job = json!({ "kind": "psi", "partner": "nobody", "dataset": "swap",
                          "peer_dataset": "theirs", "mode": "both" });
        let (s, _) = call(&node_b, "POST", "/v1/jobs", Some(&t), Some(job)).await;
        assert_ne!(s, StatusCode::OK);
    });
}

/// Like [`with_roots`] on a node.toml that already has roots.
fn with_roots_again(
    f: &crate::util::Fixture,
    roots: &[&std::path::Path],
) -> std::sync::Arc<unseen_node::Node> {
    let text = std::fs::read_to_string(f.dir.config()).unwrap();
    let list: Vec<String> = roots
        .iter()
        .map(|r| format!("{:?}", r.display().to_string()))
        .collect();
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("roots =") {
                format!("roots = [{}]", list.join(", "))
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(f.dir.config(), text.join("\n")).unwrap();
    unseen_node::Node::open(&f.dir).unwrap()
}

#[test]
fn a_tls_api_serves_the_router_and_the_cli_client_pins_the_nodes_certificate() {
    let f = node("bank-a");
    let other = node("data-b");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    for fixture in [&f, &other] {
        let text = std::fs::read_to_string(fixture.dir.config()).unwrap();
        let text = text
            .replace("api = \"127.0.0.1:2\"", &format!("api = \"{addr}\""))
            .replace("api_tls = false", "api_tls = true");
        std::fs::write(fixture.dir.config(), text).unwrap();
    }
    let node = unseen_node::Node::open(&f.dir).unwrap();
    assert!(node.config.api_tls);
    listener.set_nonblocking(true).unwrap();
    let tls = unseen_transport::api_server_config(node.identity()).unwrap();
    let app = router(std::sync::Arc::clone(&node));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            unseen_node::daemon::serve_api_tls(listener, app, tls, async {
                let _ = stopped.await;
            })
            .await;
        });
    });
    // The node's own client talks TLS, pinning identity/cert.pem.
    let client = unseen_node::client::Client::new(&f.dir).unwrap();
    let info = client.get("/v1/node").unwrap();
    assert_eq!(info["name"], "bank-a");
    // A client pinning another certificate is refused in the handshake.
    let wrong = unseen_node::client::Client::new(&other.dir).unwrap();
    let err = wrong.get("/v1/node").unwrap_err();
    assert!(err.to_string().contains("TLS handshake"), "{err}");
    // Plain HTTP gets no HTTP answer: tokens never cross the network in clear text.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        s.write_all(b"GET /v1/node HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(
            !buf.starts_with(b"HTTP/1.1 2"),
            "{}",
            String::from_utf8_lossy(&buf)
        );
    }
    stop.send(()).unwrap();
    server.join().unwrap();
}

/// Polls `GET /v1/jobs/{id}` until the job has ended.
async fn ended(node: &std::sync::Arc<unseen_node::Node>, t: &str, id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (s, b) = call(node, "GET", &format!("/v1/jobs/{id}"), Some(t), None).await;
        assert_eq!(s, StatusCode::OK);
        let j = json_of(&b);
        if ["succeeded", "failed", "rejected", "cancelled"].contains(&j["state"].as_str().unwrap())
        {
            return j;
        }
        assert!(std::time::Instant::now() < deadline, "job {id} did not end");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Item 4 of issue 14: a hidden query is asked through the API; the keys file stays on the
/// node (under a data root), the records land in its outputs directory, and they are the
/// partner's rows for those keys. A refusal carries `"fault": "partner"`.
#[test]
fn a_hidden_query_through_the_api_writes_the_records_on_the_node() {
    use crate::util::{allow, register};
    let p = crate::jobs::pair();
    // B publishes a table of 20 IDs with an amount each and lets A query it.
    let table = p.b.data("list.csv");
    id_csv(&table, 20);
    register(&p.b, "blacklist", &table, "id-card");
    let mut store = unseen_node::audit_key::open_store(&p.b.dir).unwrap();
    let req = unseen_node::pir_job::PublishRequest {
        dataset: "blacklist".into(),
        ..Default::default()
    };
    unseen_node::pir_job::publish(&p.b.dir, &mut store, "test", &req, &|_| {}).unwrap();
    // A's keys: the first 5 of B's and 3 others, under a data root.
    let inbox = p.a.data("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let keys = inbox.join("keys.csv");
    let mine = p.a.data("mine.csv");
    id_csv(&mine, 25);
    let lines: Vec<String> = std::fs::read_to_string(&mine)
        .unwrap()
        .lines()
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    let wanted: Vec<&String> = lines[1..6].iter().chain(&lines[22..25]).collect();
    let mut text = String::from("id\n");
    for k in &wanted {
        text.push_str(&format!("{k}\n"));
    }
    std::fs::write(&keys, text).unwrap();
    let a = with_roots(&p.a, &[&inbox]);
    let t = token(&p.a.dir);
    let body = json!({"partner": "data-b", "dataset": "blacklist", "keys": keys,
                      "key_type": "id-card"});
    rt().block_on(async {
        // Refused: B has no rule yet.
        let (s, b) = call(&a, "POST", "/v1/queries", Some(&t), Some(body.clone())).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let job = ended(&a, &t, json_of(&b)["id"].as_str().unwrap()).await;
        assert_eq!(
            (job["state"].as_str(), job["fault"].as_str()),
            (Some("rejected"), Some("partner"))
        );
        allow(&p.b, "blacklist", "bank-a", "pir");
        let (s, b) = call(&a, "POST", "/v1/queries", Some(&t), Some(body.clone())).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let job = ended(&a, &t, json_of(&b)["id"].as_str().unwrap()).await;
        assert_eq!(job["state"], "succeeded", "{job:#}");
        assert_eq!(job["fault"], Value::Null);
        assert_eq!(job["result"]["found"], 5, "{job:#}");
        let out = std::path::PathBuf::from(job["output"].as_str().unwrap());
        assert!(out.starts_with(a.dir.outputs()), "{}", out.display());
        // The records against a plaintext lookup in B's file: amount i for row i.
        let got = std::fs::read_to_string(&out).unwrap();
        let mut rows: Vec<&str> = got.lines().skip(1).collect();
        rows.sort_unstable();
        let mut expected: Vec<String> = (0..5)
            .map(|i| format!("{},{i},true", lines[1 + i]))
            .chain((22..25).map(|i| format!("{},,false", lines[i])))
            .collect();
        expected.sort_unstable();
        assert_eq!(rows, expected);
        // A keys file outside the data roots is refused before anything is recorded.
        let outside = json!({"partner": "data-b", "dataset": "blacklist", "keys": mine});
        let (s, b) = call(&a, "POST", "/v1/queries", Some(&t), Some(outside)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&b));
        // A prediction of a model this node does not hold: 400 naming it.
        let predict = json!({"model": "00112233445566778899aabbccddeeff", "dataset": "nope",
                             "peer_dataset": "x"});
        let (s, _) = call(&a, "POST", "/v1/predictions", Some(&t), Some(predict)).await;
        assert!(s.is_client_error(), "{s}");
    });
}

/// A partner that cannot be reached: the job ends `failed` with `"fault": "network"` in the
/// API's job object (what `job show --json` prints), and the audit record says so too.
#[test]
fn an_unreachable_partner_is_the_networks_fault_in_the_api() {
    use crate::util::{add_partner, allow, register};
    let a = node("bank-a");
    let b = node("data-b");
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    add_partner(&a, "data-b", &b.dir, &format!("127.0.0.1:{port}"));
    let csv = a.data("c.csv");
    id_csv(&csv, 5);
    register(&a, "customers", &csv, "id-card");
    allow(&a, "customers", "data-b", "psi");
    let t = token(&a.dir);
    rt().block_on(async {
        let body = json!({"kind": "psi", "partner": "data-b", "dataset": "customers",
                          "peer_dataset": "theirs"});
        let (s, b) = call(&a.node, "POST", "/v1/jobs", Some(&t), Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let id = json_of(&b)["id"].as_str().unwrap().to_owned();
        let job = ended(&a.node, &t, &id).await;
        assert_eq!(job["state"], "failed", "{job:#}");
        assert_eq!(job["fault"], "network", "{job:#}");
        let (_, b) = call(
            &a.node,
            "GET",
            &format!("/v1/audit?job={id}"),
            Some(&t),
            None,
        )
        .await;
        let records = json_of(&b);
        let failed = records
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["action"] == "job.failed")
            .unwrap();
        assert_eq!(failed["params"]["fault"], "network", "{failed:#}");
    });
}
