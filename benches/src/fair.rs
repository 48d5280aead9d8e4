//! Peers in their best configuration, checked rather than assumed: the CPU model, our sgemm rate
//! and the peer's (its BLAS library, kernel and rate, reported by `benches/peers/fair.py`), and
//! no ratio when the peer's BLAS runs far below ours — a ratio against a crippled peer is not a
//! ratio (a generic OpenBLAS kernel on an AVX-512 Xeon: 39 instead of 186 GFLOP/s).

use rayon::prelude::*;
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
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
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
