//! `unseen node run`: the daemon. Partners on the mutual-TLS port, local users on the HTTP API.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use unseen_transport::Acceptor;

use crate::NodeError;
use crate::dir::NodeDir;
use crate::jobs;
use crate::node::Node;

/// Partner connections served at once; more are closed at once (a flood must not exhaust
/// threads).
pub const MAX_CONNECTIONS: usize = 64;

/// Runs the node in the foreground until SIGINT or SIGTERM.
pub fn run(dir: &NodeDir) -> Result<(), NodeError> {
    let node = Node::open(dir)?;
    // One daemon per directory: a second one would mark the first one's running jobs failed.
    let lock_path = node.dir.root().join("daemon.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| NodeError::io(&lock_path, e))?;
    if lock.try_lock().is_err() {
        return Err(NodeError::Conflict(format!(
            "another `unseen node run` is already serving {}",
            node.dir.root().display()
        )));
    }
    let listen = node.config.listen;
    let api_addr = node.config.api;
    let partners = TcpListener::bind(listen)
        .map_err(|e| NodeError::Invalid(format!("cannot listen for partners on {listen}: {e}")))?;
    let api = std::net::TcpListener::bind(api_addr)
        .map_err(|e| NodeError::Invalid(format!("cannot serve the API on {api_addr}: {e}")))?;
    // Only now, with the directory and both ports ours, is it safe to settle the previous run.
    let failed = jobs::recover(&node)?;
    if !failed.is_empty() {
        tracing::warn!(
            count = failed.len(),
            "jobs interrupted by the previous stop were marked failed"
        );
    }
    api.set_nonblocking(true)
        .map_err(|e| NodeError::Internal(format!("API socket: {e}")))?;
    let acceptor = Arc::new(Acceptor::new(
        node.identity(),
        node.config.transport_options(),
    )?);

    let accept_node = Arc::clone(&node);
    std::thread::Builder::new()
        .name("partners".into())
        .spawn(move || accept_loop(&accept_node, &acceptor, &partners))
        .map_err(|e| NodeError::Internal(format!("cannot start the listener thread: {e}")))?;

    tracing::info!(
        name = %node.config.name,
        fingerprint = %node.fingerprint(),
        %listen,
        api = %api_addr,
        "node running: partners connect with mutual TLS on the listen address; the local API is on the api address"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::Internal(format!("cannot start the runtime: {e}")))?;
    let app = crate::api::router(Arc::clone(&node));
    let tls = if node.config.api_tls {
        Some(unseen_transport::api_server_config(node.identity())?)
    } else {
        None
    };
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(api)
            .map_err(|e| NodeError::Internal(format!("API socket: {e}")))?;
        match tls {
            Some(tls) => {
                serve_api_tls(listener, app, tls, shutdown_signal()).await;
                Ok(())
            }
            None => axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .map_err(|e| NodeError::Internal(format!("API server: {e}"))),
        }
    })?;
    tracing::info!("stopping: closing running jobs' connections");
    drop(lock);
    node.stop_all_jobs();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline && !node.running().is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// How long an API client has to complete the TLS handshake, and then to send a request's
/// headers.
const API_HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the API router over TLS (`api_tls = true`) until `shutdown` completes: each connection
/// is a TLS 1.3 handshake with the node's certificate (bounded by [`API_HANDSHAKE`]), then
/// HTTP/1.1 with the router as the service. Connections in flight are dropped at shutdown.
pub async fn serve_api_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an API connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(API_HANDSHAKE, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "API TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let served = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(API_HANDSHAKE)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "API connection ended with an error");
            }
        });
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn accept_loop(node: &Arc<Node>, acceptor: &Arc<Acceptor>, listener: &TcpListener) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let tcp = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a partner connection failed");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("too many partner connections; closing a new one");
            continue;
        }
        let node = Arc::clone(node);
        let acceptor = Arc::clone(acceptor);
        let guard = Arc::clone(&active);
        let spawned = std::thread::Builder::new()
            .name("partner-conn".into())
            .spawn(move || {
                jobs::serve_connection(&node, &acceptor, tcp);
                guard.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
