//! A TCP proxy on loopback in front of a real server (Redis, PostgreSQL)
//! that a test can stall (bytes are taken but not passed on, so every call
//! hangs, as through a dead network path) and let go again, or cut (every
//! open connection dropped, as when the server restarts).

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A running proxy; stops when dropped.
pub struct Proxy {
    address: SocketAddr,
    stalled: Arc<watch::Sender<bool>>,
    generation: Arc<watch::Sender<u64>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let stalled = Arc::new(watch::channel(false).0);
        let generation = Arc::new(watch::channel(0_u64).0);
        let accept = {
            let (stalled, generation) = (stalled.clone(), generation.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (stalled, generation) = (stalled.clone(), generation.clone());
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let mut cut = generation.subscribe();
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::select! {
                            () = pipe(client_read, server_write, stalled.subscribe()) => {}
                            () = pipe(server_read, client_write, stalled.subscribe()) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        Ok(Self {
            address,
            stalled,
            generation,
            accept,
        })
    }

    /// Where clients connect.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops passing bytes on (both ways), or passes them on again.
    pub fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    /// Drops every open connection (new ones are made as usual).
    pub fn cut(&self) {
        self.generation.send_modify(|generation| *generation += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else { return };
        if read == 0 {
            return;
        }
        if stalled.wait_for(|stalled| !*stalled).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
