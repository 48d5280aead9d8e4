//! `cargo xtask cluster up|down|status`: a Ballista scheduler and executors (the
//! `fuserec-cluster` binary) and a Redis Cluster (scripts/redis-cluster), all on 127.0.0.1,
//! with their logs and process ids under `target/cluster/`.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HELP: &str = "\
cargo xtask cluster up [--executors 2] [--port 50050] [--store-nodes 6] [--store-port 7000]
        a Ballista scheduler on 127.0.0.1:PORT with EXECUTORS executors (fuserec's functions
        registered), and a Redis Cluster of STORE-NODES nodes (half primaries, one replica each)
        on STORE-PORT…; prints the addresses the offline jobs (--cluster) and the server
        (--store) take. --store-nodes 0 leaves the store out, --executors 0 Ballista
cargo xtask cluster down      stops everything `up` started
cargo xtask cluster status    what runs
";

fn state() -> PathBuf {
    crate::root().join("target").join("cluster")
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The pid files of what `up` started, sorted (none when nothing was started).
fn pid_files() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(state())
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pid")).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn alive(pid: &str) -> bool {
    Command::new("kill").args(["-0", pid]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Starts `bin args` in the background, its output in `log`, its pid in `pidfile`.
fn spawn(bin: &PathBuf, args: &[String], name: &str) -> Result<()> {
    let dir = state();
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    std::fs::write(dir.join(format!("{name}.pid")), child.id().to_string())?;
    Ok(())
}

pub fn run(args: &[&str]) -> Result<()> {
    match args.first().copied() {
        Some("up") => up(&args[1..]),
        Some("down") => down(),
        Some("status") => status(),
        _ => {
            print!("{HELP}");
            Ok(())
        }
    }
}

fn flag(args: &[&str], name: &str, default: u16) -> Result<u16> {
    match args.iter().position(|a| *a == name) {
        None => Ok(default),
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).with_context(|| format!("{name} needs a number")),
    }
}

fn up(args: &[&str]) -> Result<()> {
    if let Some(a) = args.iter().find(|a| a.starts_with("--") && !["--executors", "--port", "--store-nodes", "--store-port"].contains(a)) {
        bail!("unknown option {a}\n\n{HELP}");
    }
    let (executors, port) = (flag(args, "--executors", 2)?, flag(args, "--port", 50050)?);
    let (store_nodes, store_port) = (flag(args, "--store-nodes", 6)?, flag(args, "--store-port", 7000)?);
    if !pid_files().is_empty() || state().join("store.url").exists() {
        bail!("a cluster is already up (target/cluster); `cargo xtask cluster down` first");
    }
    std::fs::create_dir_all(state())?;
    if executors > 0 {
        let bin = crate::engine_binary("fuserec-cluster")?;
        let s = |x: &str| x.to_string();
        spawn(&bin, &[s("scheduler"), s("--port"), port.to_string()], "scheduler")?;
        for i in 0..executors {
            // Flight and gRPC ports of executor i: PORT+1+2i and PORT+2+2i.
            let (fp, gp) = (port + 1 + 2 * i, port + 2 + 2 * i);
            let work = state().join(format!("executor{i}"));
            std::fs::create_dir_all(&work)?;
            let a = [
                s("executor"),
                s("--scheduler"),
                format!("127.0.0.1:{port}"),
                s("--port"),
                fp.to_string(),
                s("--grpc-port"),
                gp.to_string(),
                s("--work-dir"),
                work.display().to_string(),
            ];
            spawn(&bin, &a, &format!("executor{i}"))?;
        }
        let t0 = Instant::now();
        loop {
            let listed = http_get(port, "/api/executors").map_or(0, |b| b.matches("\"id\"").count());
            if listed >= executors as usize {
                break;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("{listed} of {executors} executors registered within 60 s (logs in target/cluster/)");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        println!("ballista: df://127.0.0.1:{port} ({executors} executors)");
    }
    if store_nodes > 0 {
        let script = crate::root().join("scripts").join("redis-cluster");
        let out = Command::new("bash")
            .arg(&script)
            .args(["up", &state().join("redis").display().to_string(), &store_port.to_string(), &store_nodes.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .context("running scripts/redis-cluster")?;
        if !out.status.success() {
            bail!("scripts/redis-cluster up failed");
        }
        std::fs::write(state().join("store.url"), &out.stdout)?;
        println!("store: {}", String::from_utf8_lossy(&out.stdout).trim());
    }
    Ok(())
}

fn down() -> Result<()> {
    let dir = state();
    let pids = pid_files();
    if pids.is_empty() && !dir.join("store.url").exists() {
        println!("nothing is up");
        return Ok(());
    }
    for p in pids {
        let pid = std::fs::read_to_string(&p)?.trim().to_string();
        let _ = Command::new("kill").arg(&pid).status();
        std::fs::remove_file(&p)?;
    }
    if dir.join("store.url").exists() {
        let script = crate::root().join("scripts").join("redis-cluster");
        Command::new("bash").arg(script).args(["down", &dir.join("redis").display().to_string()]).status()?;
        std::fs::remove_file(dir.join("store.url"))?;
    }
    println!("down");
    Ok(())
}

fn status() -> Result<()> {
    let dir = state();
    let names = pid_files();
    if names.is_empty() && !dir.join("store.url").exists() {
        println!("nothing is up");
    }
    for p in names {
        let pid = std::fs::read_to_string(&p)?.trim().to_string();
        let name = p.file_stem().unwrap_or_default().to_string_lossy().to_string();
        println!("{name}: pid {pid} {}", if alive(&pid) { "running" } else { "gone" });
    }
    if let Ok(url) = std::fs::read_to_string(dir.join("store.url")) {
        println!("store: {}", url.trim());
    }
    Ok(())
}
