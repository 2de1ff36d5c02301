//! A client of the local API, for CLI commands that need the running daemon.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::NodeError;
use crate::dir::{Config, NodeDir};
use crate::init::load_token;

/// The API of the node in a directory.
#[derive(Debug)]
pub struct Client {
    addr: std::net::SocketAddr,
    dir: String,
    token: Zeroizing<String>,
    rt: tokio::runtime::Runtime,
}

impl Client {
    /// A client of the node in `dir` (reads its API address and token).
    pub fn new(dir: &NodeDir) -> Result<Self, NodeError> {
        let config = Config::load(dir)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NodeError::Internal(format!("cannot start the runtime: {e}")))?;
        Ok(Self {
            addr: config.api,
            dir: dir.root().display().to_string(),
            token: load_token(dir)?,
            rt,
        })
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Value, NodeError> {
        self.call("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, NodeError> {
        self.call("POST", path, Some(body))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, NodeError> {
        let not_running = || NodeError::NotRunning {
            addr: self.addr.to_string(),
            dir: self.dir.clone(),
        };
        self.rt.block_on(async {
            let stream = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect(self.addr),
            )
            .await
            .map_err(|_| not_running())?
            .map_err(|_| not_running())?;
            let io = hyper_util::rt::TokioIo::new(stream);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| NodeError::Internal(format!("API connection: {e}")))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let bytes = match body {
                Some(v) => serde_json::to_vec(v).map_err(|e| NodeError::Internal(e.to_string()))?,
                None => Vec::new(),
            };
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", self.addr.to_string())
                .header("authorization", format!("Bearer {}", self.token.as_str()))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(bytes)))
                .map_err(|e| NodeError::Internal(format!("API request: {e}")))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| NodeError::Internal(format!("API request: {e}")))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| NodeError::Internal(format!("API response: {e}")))?
                .to_bytes();
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                Ok(value)
            } else {
                let message = value
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("the node refused the request")
                    .to_owned();
                Err(NodeError::Api { status, message })
            }
        })
    }
}
