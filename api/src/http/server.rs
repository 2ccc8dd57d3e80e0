//! The accept loop: HTTP/1.1 (with upgrades, for websockets) on hyper, in
//! place of `axum::serve`, which sets no timer and so no limit on
//! how long a client may take to send its request's headers. Here a
//! connection that has not sent a complete head within
//! `HTTP_HEADER_TIMEOUT_SECONDS` is closed (a slow-headers client cannot hold a
//! connection for ever); the whole request, body included, is bounded by
//! `HTTP_REQUEST_TIMEOUT_SECONDS` in the router.
//!
//! Each request carries the peer as axum's `ConnectInfo<SocketAddr>` (the
//! client address is decided from it, see [`super::client_ip`]). Graceful
//! shutdown: stop accepting, let each connection finish its requests, wait
//! for all of them.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// the open connections to finish. A connection is closed when a request's
/// head takes longer than `header_read_timeout` to arrive.
///
/// # Errors
/// Never at present: a failed accept (too many open files, say) is logged
/// and retried after a pause.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Dropped to ask the connections to finish; `closed()` tells when the
    // last of them has.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed; trying again shortly");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => finished(result, peer),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    finished(connection.await, peer);
                }
            }
            drop(stop);
        });
    }
    drop(listener);
    drop(stop_rx);
    stop_tx.send_replace(());
    stop_tx.closed().await;
    Ok(())
}

fn finished(result: Result<(), hyper::Error>, peer: SocketAddr) {
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
}
