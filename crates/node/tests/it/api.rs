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
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    routed.sort();
    assert_eq!(documented, routed);

    // Every listed route is served (not the fallback), with placeholders filled in.
    let f = node("bank-a");
    let t = token(&f.dir);
    rt().block_on(async {
        for (m, p) in ROUTES {
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
    let f = node("bank-a");
    let other = node("data-b");
    let t = token(&f.dir);
    let own_pem = std::fs::read_to_string(f.dir.cert()).unwrap();
    let their_pem = std::fs::read_to_string(other.dir.cert()).unwrap();
    let csv = f.dir.root().join("customers.csv");
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
        let parquet = f.dir.root().join("t.parquet");
        std::fs::write(&parquet, b"PAR1").unwrap();
        let (s, b) = call(&f.node, "POST", "/v1/datasets", Some(&t), Some(ds("id", &parquet.display().to_string()))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let err = json_of(&b)["error"].as_str().unwrap().to_owned();
        assert!(err.contains("t.parquet") && err.contains("cannot read as Parquet"), "{err}");
        // A valid one: checked like a CSV file (key column, keys), its schema's columns listed.
        let pq = f.dir.root().join("customers.parquet");
        let ids: Vec<Option<String>> = (0..20u32)
            .map(|i| {
                let body = format!("11010519800101{i:03}");
                Some(format!("{body}{}", unseen_data::id_card_check_char(&body).unwrap()))
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
