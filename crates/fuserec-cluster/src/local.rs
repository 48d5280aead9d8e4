//! A cluster of child processes on loopback: one scheduler and executors of the
//! `fuserec-cluster` binary, on free ports, logs in a folder, killed on drop. For tests,
//! benchmarks and trying the cluster path on one machine.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(0, |a| a.port())
}

/// `GET path` on 127.0.0.1:`port`, the whole reply (headers and body).
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A scheduler and executors as child processes (see the module documentation).
pub struct LocalCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    scheduler: Child,
    /// The executors, in start order (a test may kill one).
    pub executors: Vec<Child>,
    /// Tasks each executor runs at once.
    pub concurrent_tasks: usize,
}

impl LocalCluster {
    /// Starts a scheduler and `executors` executors of `bin` (the `fuserec-cluster` binary),
    /// logs in `dir`, and waits until every executor registered (an error after 60 s).
    pub fn start(bin: &Path, dir: &Path, executors: usize, concurrent_tasks: usize) -> std::io::Result<LocalCluster> {
        std::fs::create_dir_all(dir)?;
        let port = free_port();
        let scheduler = Command::new(bin)
            .args(["scheduler", "--port", &port.to_string(), "--executor-timeout-secs", "4"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("scheduler.log"))?)
            .spawn()?;
        let mut c =
            LocalCluster { bin: bin.to_path_buf(), dir: dir.to_path_buf(), port, scheduler, executors: Vec::new(), concurrent_tasks };
        for _ in 0..executors {
            c.add_executor()?;
        }
        c.wait_for(executors)?;
        Ok(c)
    }

    /// Starts one more executor.
    pub fn add_executor(&mut self) -> std::io::Result<()> {
        let i = self.executors.len();
        let work = self.dir.join(format!("executor{i}"));
        std::fs::create_dir_all(&work)?;
        let child = Command::new(&self.bin)
            .args(["executor", "--scheduler", &format!("127.0.0.1:{}", self.port)])
            .args(["--port", &free_port().to_string(), "--grpc-port", &free_port().to_string()])
            .args(["--concurrent-tasks", &self.concurrent_tasks.to_string()])
            .args(["--work-dir", &work.display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join(format!("executor{i}.log")))?)
            .spawn()?;
        self.executors.push(child);
        Ok(())
    }

    /// Waits until the scheduler lists `n` executors.
    pub fn wait_for(&self, n: usize) -> std::io::Result<()> {
        let t0 = Instant::now();
        loop {
            let listed = http_get(self.port, "/api/executors").map_or(0, |b| b.matches("\"id\"").count());
            if listed >= n {
                return Ok(());
            }
            if t0.elapsed() > Duration::from_secs(60) {
                return Err(std::io::Error::other(format!(
                    "{listed} of {n} executors registered within 60 s (logs in {})",
                    self.dir.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The scheduler's `df://127.0.0.1:PORT`, what `--cluster` takes.
    pub fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for c in self.executors.iter_mut().chain(std::iter::once(&mut self.scheduler)) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
