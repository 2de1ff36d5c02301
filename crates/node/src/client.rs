//! A client of the local API, for CLI commands that need the running daemon.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use serde_json::Value;
use tokio_rustls::rustls::pki_types::ServerName;
use zeroize::Zeroizing;

use crate::NodeError;
use crate::dir::{Config, NodeDir};
use crate::init::load_token;

/// The API of the node in a directory.
#[derive(Debug)]
pub struct Client {
    addr: std::net::SocketAddr,
    /// With `api_tls`: the TLS configuration pinning the node's own certificate.
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
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
        let tls = if config.api_tls {
            let path = dir.cert();
            let pem = std::fs::read_to_string(&path).map_err(|e| NodeError::io(&path, e))?;
            let cert = unseen_transport::Certificate::from_pem(&pem)?;
            Some(unseen_transport::api_client_config(cert.fingerprint())?)
        } else {
            None
        };
        Ok(Self {
            addr: config.api,
            tls,
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

    /// `POST path` with a typed request (the struct the daemon's handler reads).
    pub fn send<T: serde::Serialize>(&self, path: &str, req: &T) -> Result<Value, NodeError> {
        let body = serde_json::to_value(req)
            .map_err(|e| NodeError::Internal(format!("cannot encode the request: {e}")))?;
        self.call("POST", path, Some(&body))
    }

    /// Submits a job (`POST /v1/jobs`); returns the job as proposed.
    pub fn submit(&self, req: &crate::jobs::SubmitRequest) -> Result<Value, NodeError> {
        self.send("/v1/jobs", req)
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
            let resp = match &self.tls {
                None => send(stream, req).await?,
                Some(config) => {
                    let name = ServerName::try_from(unseen_transport::NODE_SERVER_NAME)
                        .map_err(|e| NodeError::Internal(format!("API server name: {e}")))?;
                    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
                    let tls = tokio::time::timeout(
                        Duration::from_secs(10),
                        connector.connect(name, stream),
                    )
                    .await
                    .map_err(|_| NodeError::Internal("API TLS handshake timed out".into()))?
                    .map_err(|e| {
                        NodeError::Internal(format!(
                            "API TLS handshake with {} failed (is it this node, with the \
                             certificate in identity/cert.pem?): {e}",
                            self.addr
                        ))
                    })?;
                    send(tls, req).await?
                }
            };
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

/// Sends one request over a fresh HTTP/1.1 connection on `io`.
async fn send<IO>(
    io: IO,
    req: Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, NodeError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(io);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| NodeError::Internal(format!("API connection: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(req)
        .await
        .map_err(|e| NodeError::Internal(format!("API request: {e}")))
}
