"""PyTorch peer for fuserec's id-only two-tower training step (benches/src/lib.rs, `two_tower`).

Same model and batch shapes: history of up to 20 item ids mean-pooled (EmbeddingBag, sparse),
query MLP 64→128→64, item id rows (Embedding, sparse), both L2-normalised, logits against the
batch's 1024 positives plus 256 uniform negatives, τ = 0.2, log-Q correction, duplicate-item mask,
cross-entropy. SparseAdam on both tables, Adam on the MLP. Answers timing requests (`fair.serve`):
{"op": "steps", "n": N} runs N steps.
"""
import argparse, json, sys

import fair

fair.configure(fair.threads_arg(sys.argv))

import numpy as np  # noqa: E402  (after fair.configure: the BLAS reads its environment on load)
import torch  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--rows", type=int, default=100_000)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
B, D, L, M, TAU = 1024, 64, 20, 256, 0.2
rng = np.random.default_rng(1)


ACTIVE = min(10_000, a.rows)
STRIDE = a.rows // ACTIVE


def skewed(n, size):
    # Same stream as the Rust side: a skewed draw among ACTIVE ids spread evenly over the table.
    return (rng.random(size) ** 3 * ACTIVE).astype(np.int64) * STRIDE


def batch():
    lens = rng.integers(1, L + 1, size=B)
    hist = skewed(a.rows, int(lens.sum()))
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    items = np.concatenate([skewed(a.rows, B), rng.integers(0, ACTIVE, size=M) * STRIDE])
    return torch.from_numpy(hist), torch.from_numpy(offsets), torch.from_numpy(items)


hist_emb = torch.nn.EmbeddingBag(a.rows, D, mode="mean", sparse=True)
item_emb = torch.nn.Embedding(a.rows, D, sparse=True)
for e in (hist_emb, item_emb):
    torch.nn.init.normal_(e.weight, std=0.05)
mlp = torch.nn.Sequential(torch.nn.Linear(D, 128), torch.nn.ReLU(), torch.nn.Linear(128, D))
sparse_opt = torch.optim.SparseAdam(list(hist_emb.parameters()) + list(item_emb.parameters()), lr=0.01)
dense_opt = torch.optim.Adam(mlp.parameters(), lr=0.003)
log_q = torch.full((B + M,), -float(np.log(ACTIVE)))
labels = torch.arange(B)


def step(h, o, items):
    q = torch.nn.functional.normalize(mlp(hist_emb(h, o)), dim=1)
    v = torch.nn.functional.normalize(item_emb(items), dim=1)
    logits = q @ v.T / TAU - log_q
    same = (items[:B, None] == items[None, :]) & ~torch.eye(B, B + M, dtype=torch.bool)
    logits = logits.masked_fill(same, -1e9)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    sparse_opt.zero_grad()
    dense_opt.zero_grad()
    loss.backward()
    sparse_opt.step()
    dense_opt.step()
    return loss.item()


batches = [batch() for _ in range(8)]
_k = [0]


def steps(req):
    for _ in range(req["n"]):
        step(*batches[_k[0] % 8])
        _k[0] += 1


steps({"n": 3})
fair.serve({"fair": fair.report(), "torch": torch.__version__, "threads": torch.get_num_threads(), "rows": a.rows}, {"steps": steps})
