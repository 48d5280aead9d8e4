"""A Python peer in its best configuration, set before numpy / torch / faiss load their BLAS.

OpenBLAS builds shipped by Debian and inside wheels pick their kernel at load time; on a CPU newer
than the build they fall back to a generic one (seen: an AVX-512 Xeon running the Prescott kernel,
39 instead of 186 GFLOP/s). So: OPENBLAS_CORETYPE from the CPU's flags, OMP_WAIT_POLICY=PASSIVE
(no spinning threads stealing the other core), BLAS / OpenMP threads = the peer's threads. After
the imports, `report()` says what the process really runs (threadpoolctl) and its sgemm rate, and
the Rust side refuses a ratio when that rate is far below its own.

Usage, first thing in a peer script:  import fair; fair.configure(threads)

`serve` then answers the Rust side's timing requests one at a time, so that it can interleave its
own rounds with the peer's (see `benches/src/fair.rs`, `Peer`).
"""
import json
import os
import sys
import time


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def coretype(flags):
    """OpenBLAS's name for the best kernel family these CPU flags run."""
    if "avx512f" in flags and "avx512bw" in flags:
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    if "avx" in flags:
        return "Sandybridge"
    return None


_state = {}


def configure(threads):
    """Sets the environment a peer's BLAS reads when it loads; call before importing it."""
    ct = coretype(_cpu_flags())
    if ct and os.environ.get("FUSEREC_PEER_KEEP_BLAS_ENV") != "1":
        os.environ["OPENBLAS_CORETYPE"] = ct
        # A machine-wide L2 override is meant for old OpenBLAS builds; it slows a current one.
        os.environ.pop("OPENBLAS_L2_SIZE", None)
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(threads)
    _state.update(threads=threads, openblas_coretype=os.environ.get("OPENBLAS_CORETYPE"), omp_wait_policy="PASSIVE")


def _best(f, runs=5):
    f()
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def median_seconds(f, rounds=7):
    """Median wall time of `f()` over `rounds` calls after one warm-up call: a shared machine's
    slow and fast moments both fall outside it, as they do for the Rust side (`fair::median_seconds`)."""
    f()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def report():
    """What the process runs: BLAS libraries and kernels (threadpoolctl), sgemm 1024³ GFLOP/s
    through numpy and, if loaded, torch."""
    import sys

    import numpy as np

    n = 1024
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    rates = {"numpy": 2 * n**3 / _best(lambda: a @ b) / 1e9}
    if "torch" in sys.modules:
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        rates["torch"] = 2 * n**3 / _best(lambda: ta @ tb) / 1e9
    blas = []
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        ]
    except ImportError:
        pass
    return {**_state, "blas": blas, "sgemm_gflops": rates}


def threads_arg(argv, default=2, flag="--threads"):
    """The peer's thread count from its command line, read before argparse (and numpy) load."""
    for k, a in enumerate(argv):
        if a == flag and k + 1 < len(argv):
            return int(argv[k + 1])
        if a.startswith(flag + "="):
            return int(a.split("=", 1)[1])
    return default


def serve(ready, ops):
    """Prints `ready` (what the peer runs) as one JSON line, then answers requests from stdin, one
    JSON line each way: {"op": name, ...} runs `ops[name](request)` once and answers {"seconds":
    its wall time, ...what it returned}; {"op": "quit"} (or end of input) stops. The Rust side
    alternates its own timed rounds with these, so a shared machine's slow and fast moments fall
    on both sides alike instead of on whichever ran second."""
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") == "quit":
            break
        t0 = time.perf_counter()
        extra = ops[req["op"]](req) or {}
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, **extra}), flush=True)
