"""FAISS HNSW on the same vectors as `benches/examples/hnsw_peer.rs` (PyPI faiss-cpu, numpy).

Builds IndexHNSWFlat (inner product) with the given M / efConstruction on --build-threads threads
(and hnswlib's index, if installed), reports recall@10 per efSearch against the exact top-10 the
Rust side computed, then answers timing requests (`fair.serve`): {"op": "faiss" | "hnswlib",
"ef": N} answers all queries in one call on one thread (the library then walks them one after
another in C++, with no Python in between).
"""
import argparse
import json
import sys
import time

import fair

fair.configure(fair.threads_arg(sys.argv, flag="--build-threads"))

import faiss  # noqa: E402  (after fair.configure: the BLAS reads its environment on load)
import numpy as np  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--items", required=True)
p.add_argument("--queries", required=True)
p.add_argument("--truth", required=True)
p.add_argument("--d", type=int, required=True)
p.add_argument("--m", type=int, default=16)
p.add_argument("--ef-construction", type=int, default=128)
p.add_argument("--efs", default="16,32,64,128")
p.add_argument("--build-threads", type=int, default=2)
a = p.parse_args()

x = np.fromfile(a.items, dtype="<f4").reshape(-1, a.d)
q = np.fromfile(a.queries, dtype="<f4").reshape(-1, a.d)
truth = np.fromfile(a.truth, dtype="<u4").reshape(len(q), -1)[:, :10]

faiss.omp_set_num_threads(a.build_threads)
index = faiss.IndexHNSWFlat(a.d, a.m, faiss.METRIC_INNER_PRODUCT)
index.hnsw.efConstruction = a.ef_construction
t = time.perf_counter()
index.add(x)
build = time.perf_counter() - t

faiss.omp_set_num_threads(1)
EFS = [int(e) for e in a.efs.split(",")]


def recall(found):
    return sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth)) / (10 * len(q))


def faiss_search(req):
    index.hnsw.efSearch = req["ef"]
    index.search(q, 10)


faiss_recall = {}
for ef in EFS:
    index.hnsw.efSearch = ef
    faiss_recall[ef] = recall(index.search(q, 10)[1])


def hnswlib_index():
    """The same index with hnswlib (PyPI), if installed: same M / efConstruction, the same build
    threads; searched with all queries in one knn_query call on one thread."""
    try:
        import hnswlib
    except ImportError:
        return None, None
    from importlib.metadata import version

    h = hnswlib.Index(space="ip", dim=a.d)
    h.init_index(max_elements=len(x), ef_construction=a.ef_construction, M=a.m, random_seed=1)
    h.set_num_threads(a.build_threads)
    t = time.perf_counter()
    h.add_items(x)
    info = {"version": version("hnswlib"), "build_seconds": time.perf_counter() - t, "recall": {}}
    h.set_num_threads(1)
    for ef in EFS:
        h.set_ef(max(ef, 10))
        info["recall"][str(ef)] = recall(h.knn_query(q, k=10)[0])
    return h, info


hnsw_lib, hnswlib_info = hnswlib_index()


def hnswlib_search(req):
    hnsw_lib.set_ef(max(req["ef"], 10))
    hnsw_lib.knn_query(q, k=10)


ops = {"faiss": faiss_search}
if hnsw_lib is not None:
    ops["hnswlib"] = hnswlib_search
fair.serve(
    {
        "fair": fair.report(),
        "faiss": faiss.__version__,
        "build_seconds": build,
        "build_threads": a.build_threads,
        "recall": {str(ef): r for ef, r in faiss_recall.items()},
        "hnswlib": hnswlib_info,
    },
    ops,
)
