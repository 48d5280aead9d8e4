//! Peers in their best configuration, checked rather than assumed: the CPU model, our sgemm rate
//! and the peer's (its BLAS library, kernel and rate, reported by `benches/peers/fair.py`), and
//! no ratio when the peer's BLAS runs far below ours — a ratio against a crippled peer is not a
//! ratio (a generic OpenBLAS kernel on an AVX-512 Xeon: 39 instead of 186 GFLOP/s).

use rayon::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

/// Below this fraction of our sgemm rate the peer is taken as misconfigured.
pub const MIN_PEER_SGEMM_FRACTION: f64 = 0.5;

/// The CPU's model name (`/proc/cpuinfo`), or `unknown`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, m)| m.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// GFLOP/s of an `n³` f32 matrix product as fuserec runs them (fuserec-gemm: faer's run-time dispatched kernel, rows
/// split over the rayon threads); best of five after a warm-up.
pub fn sgemm_gflops(n: usize) -> f64 {
    let a: Vec<f32> = (0..n * n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
    let b: Vec<f32> = (0..n * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
    let mut c = vec![0f32; n * n];
    let threads = rayon::current_num_threads().max(1);
    let rows = n.div_ceil(threads);
    let run = |c: &mut [f32]| {
        c.par_chunks_mut(rows * n).enumerate().for_each(|(k, block)| {
            let m = block.len() / n;
            // SAFETY: `a` holds rows k·rows .. k·rows + m of n values, `b` is n × n and `block`
            // is m × n, all row-major with the strides given.
            unsafe {
                fuserec_gemm::sgemm(
                    m,
                    n,
                    n,
                    1.0,
                    a[k * rows * n..].as_ptr(),
                    n as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    block.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
        })
    };
    run(&mut c);
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            run(&mut c);
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    2.0 * (n as f64).powi(3) / best / 1e9
}

/// Median wall time of `f()` over `rounds` calls after one warm-up call: a shared machine's
/// slow and fast moments both fall outside it (the Python peers use the same rule,
/// `fair.median_seconds`).
pub fn median_seconds(rounds: usize, mut f: impl FnMut()) -> f64 {
    f();
    median((0..rounds.max(1)).map(|_| time(&mut f)).collect())
}

/// A Python peer that answers timing requests (`fair.serve` in `benches/peers/fair.py`): started
/// once, it sets itself up (loads weights, builds its index) and says so in its first line, then
/// runs one timed unit of work per request. [`interleaved`] alternates our rounds with its.
pub struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The peer's first line: what it runs (its `fair` report, versions, set-up figures).
    pub ready: serde_json::Value,
}

impl Peer {
    /// Starts `cmd` (a peer script calling `fair.serve`) and waits for its first line; `hint`
    /// says what to install when it fails.
    pub fn start(mut cmd: Command, hint: &str) -> Peer {
        let mut child =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot start the peer: {e} ({hint})"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut peer = Peer { child, stdin, stdout, ready: serde_json::Value::Null };
        peer.ready = peer.read_line().unwrap_or_else(|| {
            let status = peer.child.wait().map(|s| s.to_string()).unwrap_or_default();
            eprintln!("the peer stopped before it was ready ({status}); {hint}");
            std::process::exit(1)
        });
        peer
    }

    fn read_line(&mut self) -> Option<serde_json::Value> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(n) if n > 0 => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("the peer printed `{}`: {e}", line.trim()))),
            _ => None,
        }
    }

    /// Runs one request (`{"op": …, …}`) and returns the peer's answer (`seconds` and the rest).
    pub fn request(&mut self, req: serde_json::Value) -> serde_json::Value {
        writeln!(self.stdin, "{req}").and_then(|_| self.stdin.flush()).expect("write to the peer");
        self.read_line().unwrap_or_else(|| panic!("the peer stopped while answering {req}"))
    }

    /// The wall time of one request, as the peer measured it.
    pub fn seconds(&mut self, req: serde_json::Value) -> f64 {
        self.request(req)["seconds"].as_f64().expect("the peer answers with seconds")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", serde_json::json!({ "op": "quit" }));
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Medians of `rounds` timed rounds per side, the sides taking turns, after one warm-up round
/// each; each closure runs one round and returns its seconds. Taking turns puts a shared
/// machine's slow and fast moments on every side alike.
pub fn interleaved(rounds: usize, sides: &mut [&mut dyn FnMut() -> f64]) -> Vec<f64> {
    sides.iter_mut().for_each(|f| {
        f();
    });
    let mut times = vec![Vec::new(); sides.len()];
    for _ in 0..rounds.max(1) {
        for (f, t) in sides.iter_mut().zip(&mut times) {
            t.push(f());
        }
    }
    times.into_iter().map(median).collect()
}

/// Seconds one call of `f` takes.
pub fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Prints both sides' configuration (CPU, threads, BLAS kernels, sgemm rates) from the peer's
/// `fair` report; returns false — after saying why — when no ratio may be reported.
pub fn report(ours_gflops: f64, peer: &serde_json::Value) -> bool {
    let fair = &peer["fair"];
    println!("cpu: {}", cpu_model());
    println!("fuserec: fuserec-gemm (faer) sgemm 1024³ {ours_gflops:.1} GFLOP/s on {} threads", rayon::current_num_threads());
    let blas: Vec<String> = fair["blas"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|b| format!("{} {} kernel {} ({} threads)", b["internal_api"], b["version"], b["architecture"], b["num_threads"]))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "peer: OPENBLAS_CORETYPE={} OMP_WAIT_POLICY={} threads {}; BLAS: {}",
        fair["openblas_coretype"],
        fair["omp_wait_policy"],
        fair["threads"],
        if blas.is_empty() { "not reported (threadpoolctl missing)".into() } else { blas.join("; ") }
    );
    let rates: Vec<(String, f64)> =
        ["numpy", "torch"].iter().filter_map(|k| fair["sgemm_gflops"][k].as_f64().map(|g| (k.to_string(), g))).collect();
    rates.iter().for_each(|(k, g)| println!("peer: {k} sgemm 1024³ {g:.1} GFLOP/s"));
    match rates.iter().map(|r| r.1).fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.min(g)))) {
        None => {
            println!("no ratio: the peer reported no sgemm rate (run it through benches/peers/fair.py)");
            false
        }
        Some(g) if g < MIN_PEER_SGEMM_FRACTION * ours_gflops => {
            println!(
                "no ratio: the peer's BLAS runs at {g:.1} GFLOP/s, below {MIN_PEER_SGEMM_FRACTION} × ours ({ours_gflops:.1}): \
                 it is misconfigured (a generic kernel? set OPENBLAS_CORETYPE for this CPU), so any ratio would flatter us"
            );
            false
        }
        Some(_) => {
            let generic: Vec<&str> = fair["blas"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["architecture"].as_str())
                .filter(|a| GENERIC_KERNELS.contains(&a.to_ascii_lowercase().as_str()))
                .collect();
            if generic.is_empty() {
                true
            } else {
                println!(
                    "no ratio: a BLAS the peer loaded runs a generic kernel ({}); set OPENBLAS_CORETYPE for this CPU",
                    generic.join(", ")
                );
                false
            }
        }
    }
}

/// OpenBLAS kernel names that mean "no SIMD beyond SSE3": what a build falls back to on a CPU it
/// does not know.
const GENERIC_KERNELS: [&str; 5] = ["prescott", "generic", "core2", "katmai", "nehalem"];
