"""FAISS HNSW on the same vectors as `benches/examples/hnsw_peer.rs` (PyPI faiss-cpu, numpy).

Builds IndexHNSWFlat (inner product) with the given M / efConstruction on --build-threads threads,
then for each efSearch answers all queries in one `search` call on one OpenMP thread (FAISS then
walks them one after another in C++, with no Python in between; best of three passes) and reports
recall@10 against the exact top-10 the Rust side computed. Prints JSON.
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
rows = []
for ef in [int(e) for e in a.efs.split(",")]:
    index.hnsw.efSearch = ef
    best = float("inf")
    found = None
    for _ in range(3):
        t = time.perf_counter()
        out = index.search(q, 10)[1]
        best = min(best, time.perf_counter() - t)
        found = out
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth))
    rows.append({"ef": ef, "recall_at_10": hits / (10 * len(q)), "qps": len(q) / best})
del index


def hnswlib_rows():
    """The same sweep with hnswlib (PyPI), if installed: same M / efConstruction, the same
    build threads, all queries in one knn_query call on one thread."""
    try:
        import hnswlib
    except ImportError:
        return None
    index = hnswlib.Index(space="ip", dim=a.d)
    index.init_index(max_elements=len(x), ef_construction=a.ef_construction, M=a.m, random_seed=1)
    index.set_num_threads(a.build_threads)
    t = time.perf_counter()
    index.add_items(x)
    build = time.perf_counter() - t
    index.set_num_threads(1)
    out = []
    for ef in [int(e) for e in a.efs.split(",")]:
        index.set_ef(max(ef, 10))
        best, found = float("inf"), None
        for _ in range(3):
            t = time.perf_counter()
            found = index.knn_query(q, k=10)[0]
            best = min(best, time.perf_counter() - t)
        hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth))
        out.append({"ef": ef, "recall_at_10": hits / (10 * len(q)), "qps": len(q) / best})
    from importlib.metadata import version

    return {"version": version("hnswlib"), "build_seconds": build, "rows": out}


print(json.dumps({"fair": fair.report(), "faiss": faiss.__version__, "build_seconds": build, "build_threads": a.build_threads, "rows": rows, "hnswlib": hnswlib_rows()}))
