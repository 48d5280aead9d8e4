//! What a cluster job is doing, from the Ballista scheduler's REST API (same port as its gRPC):
//! the newest job's stages, tasks and rows, printed to stderr whenever they change.

use crate::context::{OfflineError, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn address(url: &str) -> Result<SocketAddr> {
    let hp = url.trim_start_matches("df://").trim_end_matches('/');
    hp.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| OfflineError::Invalid(format!("--cluster {url}: not a HOST:PORT that resolves")))
}

/// A clear error when no scheduler listens at `url` (instead of the client's retry loop).
pub(crate) fn reachable(url: &str) -> Result<()> {
    let addr = address(url)?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map(|_| ())
        .map_err(|e| OfflineError::Invalid(format!("no Ballista scheduler at {url} ({e}); start one with `cargo xtask cluster up`")))
}

/// `GET path` over HTTP/1.1, the body as JSON.
fn get_json(addr: SocketAddr, path: &str) -> Option<serde_json::Value> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    serde_json::from_slice(&buf[at..]).ok()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// One line: `job <id> <status>: stage <done>/<n>, tasks <done>/<n>, rows <in> in → <out> out`.
fn line(addr: SocketAddr, since_ms: u64) -> Option<String> {
    let jobs = get_json(addr, "/api/jobs")?;
    let job =
        jobs.as_array()?.iter().filter(|j| j["start_time"].as_u64().unwrap_or(0) >= since_ms).max_by_key(|j| j["start_time"].as_u64())?;
    let id = job["job_id"].as_str()?;
    let (mut tasks, mut done, mut rows_in, mut rows_out) = (0, 0, 0u64, 0u64);
    if let Some(st) = get_json(addr, &format!("/api/job/{id}/stages")) {
        for stage in st["stages"].as_array().into_iter().flatten() {
            rows_in += stage["input_rows"].as_u64().unwrap_or(0);
            rows_out += stage["output_rows"].as_u64().unwrap_or(0);
            for t in stage["tasks"].as_array().into_iter().flatten().filter(|t| !t.is_null()) {
                tasks += 1;
                done += (t["status"].as_str() == Some("Successful")) as usize;
            }
        }
    }
    Some(format!(
        "cluster job {id} {}: stages {}/{}, tasks {done}/{tasks}, rows {rows_in} in → {rows_out} out",
        job["status"].as_str().or(job["job_status"].as_str()).unwrap_or("?"),
        job["completed_stages"],
        job["num_stages"],
    ))
}

/// Prints the newest job's progress every half second while alive.
pub(crate) struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// When the reported state last changed.
    changed: Arc<std::sync::Mutex<std::time::Instant>>,
}

impl Watch {
    pub(crate) fn start(url: &str) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let changed = Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
        let Ok(addr) = address(url) else { return Watch { stop, thread: None, changed } };
        let since = now_ms();
        let (flag, seen) = (stop.clone(), changed.clone());
        let thread = std::thread::spawn(move || {
            let mut last = String::new();
            let report = |last: &mut String| {
                if let Some(l) = line(addr, since).filter(|l| l != last) {
                    eprintln!("{l}");
                    *last = l;
                    *seen.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
                }
            };
            while !flag.load(Ordering::Relaxed) {
                report(&mut last);
                for _ in 0..5 {
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            // The final state (the last stage's rows).
            report(&mut last);
        });
        Watch { stop, thread: Some(thread), changed }
    }

    /// Resolves once the reported state has not changed for `stall`.
    pub(crate) async fn stalled(&self, stall: Duration) {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if self.changed.lock().unwrap_or_else(|p| p.into_inner()).elapsed() > stall {
                return;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
