//! `unseen node run`: the daemon. Partners on the mutual-TLS port, local users on the HTTP API.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use unseen_transport::Acceptor;

use crate::NodeError;
use crate::admission::{HandshakeSlot, Handshakes, Limits, Source};
use crate::dir::NodeDir;
use crate::jobs;
use crate::node::Node;

/// Sessions with authenticated partners served at once; one more is answered "busy" over TLS
/// (the partner retries). Connections still in the handshake have their own pool
/// ([`crate::admission`]).
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

    // Aggregated refusal counts are written when their interval has passed, even if no
    // further refusal comes.
    let flush_node = Arc::clone(&node);
    std::thread::Builder::new()
        .name("refusals".into())
        .spawn(move || {
            loop {
                std::thread::sleep(crate::refusals::INTERVAL / 4);
                flush_node.flush_refusals(false);
            }
        })
        .map_err(|e| NodeError::Internal(format!("cannot start the audit flusher: {e}")))?;
    let accept_node = Arc::clone(&node);
    std::thread::Builder::new()
        .name("partners".into())
        .spawn(move || serve_partners(&accept_node, &acceptor, &partners, Limits::default()))
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
            None => {
                // The peer address names the source of refused requests (crate::refusals).
                let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
                    .map_err(|e| NodeError::Internal(format!("API server: {e}")))
            }
        }
    })?;
    tracing::info!("stopping: closing running jobs' connections");
    drop(lock);
    node.flush_refusals(true);
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
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an API connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        // The peer address names the source of refused requests (crate::refusals), as
        // `into_make_service_with_connect_info` does for plain HTTP.
        let app = app
            .clone()
            .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
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

/// Serves partner connections on `listener` until it fails for good: each connection gets a
/// thread that runs the TLS handshake in the handshake pool, then (authenticated and pinned)
/// a session in the session pool, or the answer "busy" when that is full. See
/// [`crate::admission`] for the pools and why a flood of strangers cannot take the sessions
/// partners need.
pub fn serve_partners(
    node: &Arc<Node>,
    acceptor: &Arc<Acceptor>,
    listener: &TcpListener,
    limits: Limits,
) {
    let handshakes = Arc::new(Handshakes::new(limits));
    let sessions = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let tcp = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a partner connection failed");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let (Ok(peer), Ok(handle)) = (tcp.peer_addr(), tcp.try_clone()) else {
            continue;
        };
        let (slot, evicted) = handshakes.enter(Source::of(peer.ip()), handle);
        if evicted > 0 {
            node.counters
                .handshakes_shed
                .fetch_add(evicted as u64, Ordering::Relaxed);
            tracing::debug!(evicted, source = %Source::of(peer.ip()), "handshake pool full: closed the oldest pending connections");
        }
        let node = Arc::clone(node);
        let acceptor = Arc::clone(acceptor);
        let sessions = Arc::clone(&sessions);
        let spawned = std::thread::Builder::new()
            .name("partner-conn".into())
            .spawn(move || serve_one(&node, &acceptor, tcp, slot, &sessions, limits.sessions));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a thread for a partner connection");
        }
    }
}

fn serve_one(
    node: &Arc<Node>,
    acceptor: &Acceptor,
    tcp: TcpStream,
    slot: HandshakeSlot,
    sessions: &AtomicUsize,
    max_sessions: usize,
) {
    if let Err(err) = acceptor.await_hello(&tcp) {
        node.counters
            .handshake_failed
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(error = %err, "a connection sent no client hello");
        return;
    }
    slot.spoke();
    let authenticated = jobs::authenticate(node, acceptor, tcp);
    // Out of the handshake pool, whatever the outcome.
    drop(slot);
    let Some(pending) = authenticated else {
        return;
    };
    if sessions.fetch_add(1, Ordering::SeqCst) >= max_sessions {
        sessions.fetch_sub(1, Ordering::SeqCst);
        node.counters.busy.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            max_sessions,
            "all partner sessions are taken; told a partner to retry later"
        );
        let _ = pending.refuse_busy();
        return;
    }
    match pending.admit() {
        Ok(ch) => jobs::serve_session(node, ch),
        Err(err) => {
            node.counters
                .handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, "a partner connection failed at its acceptance");
        }
    }
    sessions.fetch_sub(1, Ordering::SeqCst);
}
