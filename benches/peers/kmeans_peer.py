#!/usr/bin/env python3
"""FAISS peer for fuserec's k-means: time per Lloyd iteration on the same data and initial
centroids, all points used (no subsampling), 2 threads. Run by `cargo xtask peer kmeans`; needs
`pip install faiss-cpu numpy`.

usage: kmeans_peer.py --data F --init F --n N --d D --k K --iters I [--threads 2]
"""
import argparse, json, sys

import fair

fair.configure(fair.threads_arg(sys.argv))

import faiss  # noqa: E402  (after fair.configure: the BLAS reads its environment on load)
import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for a in ("--data", "--init"):
        ap.add_argument(a, required=True)
    for a in ("--n", "--d", "--k", "--iters"):
        ap.add_argument(a, type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    faiss.omp_set_num_threads(a.threads)
    x = np.fromfile(a.data, dtype="<f4").reshape(a.n, a.d)
    init = np.fromfile(a.init, dtype="<f4").reshape(a.k, a.d)
    # Warm-up on a slice, then the timed run on everything.
    warm = faiss.Kmeans(a.d, a.k, niter=1, max_points_per_centroid=10**9, seed=1, verbose=False)
    warm.train(x[: 64 * a.k], init_centroids=init)

    def train(_):
        km = faiss.Kmeans(a.d, a.k, niter=a.iters, max_points_per_centroid=10**9, seed=1, verbose=False)
        km.train(x, init_centroids=init)
        return {"objective": float(km.obj[-1]) if len(km.obj) else None}

    fair.serve({"fair": fair.report(), "faiss": faiss.__version__, "threads": a.threads}, {"train": train})


if __name__ == "__main__":
    main()
