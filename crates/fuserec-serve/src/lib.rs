#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod client;
pub mod http;
pub mod images;
pub mod limits;
pub mod metrics;
pub mod model;

pub use app::{App, OpenedStore, ServeConfig, StoreSpec};
pub use auth::Token;
pub use limits::Limits;
pub use model::{ModelSource, ServingModel};

use std::net::SocketAddr;
use std::sync::Arc;

/// A running server: its address, and a handle that stops it when dropped or `stop`ped.
pub struct Server {
    /// The address it listens on (the real port when 0 was asked).
    pub addr: SocketAddr,
    /// The serving state.
    pub app: Arc<App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Loads everything, binds, and serves on a background thread.
    pub fn start(cfg: ServeConfig) -> fuserec::core::Result<Self> {
        let app = Arc::new(App::start(cfg)?);
        Self::serve(app)
    }

    /// Serves an already started `app` on a background thread.
    pub fn serve(app: Arc<App>) -> fuserec::core::Result<Self> {
        let io = |e: std::io::Error| fuserec::core::Error::Invalid(format!("server on {}: {e}", app.cfg.addr));
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(io)?;
        let listener = rt.block_on(tokio::net::TcpListener::bind(&app.cfg.addr)).map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        if !addr.ip().is_loopback() && app.cfg.token.is_none() {
            return Err(fuserec::core::Error::Config(format!(
                "refusing to listen on {addr} without a write token: set FUSEREC_SERVE_TOKEN or --token-file, or listen on 127.0.0.1"
            )));
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = http::router(app.clone());
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        Ok(Server { addr, app, shutdown: Some(tx), thread: Some(thread) })
    }

    /// Stops accepting, finishes requests in flight, and returns.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Blocks until the server stops (for the binary).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec::core::{Error, Result};
