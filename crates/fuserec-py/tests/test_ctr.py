"""CTR from Python: experiments of kind "ctr" run as the CLI runs them, and one model fitted
alone is that run's model (the same scores), giving click probabilities for impressions."""

import json

import numpy as np
import pytest

import fuserec
from fuserec import Dataset, FuserecError

CTR = {"dim": 8, "attention_hidden": 16, "hidden": [32, 16], "history": 20, "make_epochs": 1, "make_dim": 8, "buckets": 4}
CONFIG = {
    "name": "py-ctr",
    "kind": "ctr",
    "seeds": [1],
    "models": ["din", "simtier", "make"],
    "make_epoch_curve": [],
    "id_epoch_curve": 1,
    "dataset": {"kind": "synthetic", "scale": 0.3},
    "multimodal": {"dim": 32},
    "ctr": CTR,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fuserec.run_experiment(CONFIG, out=tmp_path_factory.mktemp("ctr") / "run")


def test_a_ctr_experiment_writes_what_the_cli_writes(run, scratch, cli):
    import subprocess

    assert run.kind == "ctr"
    t = run.table()
    assert list(t.index) == ["din", "simtier", "make-alone (1 epochs)", "make"] and list(t.columns) == ["auc", "gauc", "logloss"]
    assert t.loc["simtier", "gauc"] > t.loc["din", "gauc"], "the world's clicks follow content"
    for f in ["report.md", "ctr_gain_by_bucket.svg", "ctr_epochs.svg"]:
        assert (run.path / f).is_file()
    # The CLI on the same table: the same rows.
    cfg = scratch / "ctr.toml"
    cfg.write_text(_toml(CONFIG))
    subprocess.run([cli, "experiment", str(cfg), "--out", str(scratch / "cli")], check=True, capture_output=True)
    (rust_dir,) = [p for p in (scratch / "cli").rglob("results.json")]
    rows = lambda j: [(r["model"], r["seed"], r["scores"]) for r in j["rows"]]  # noqa: E731
    assert rows(json.loads(rust_dir.read_text())) == rows(run.json)


def _toml(d: dict, prefix: str = "") -> str:
    """A minimal TOML writer for the flat config above (tables one level deep)."""
    out, tables = [], []
    for k, v in d.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            out.append(f"{k} = {json.dumps(v)}")
    for k, v in tables:
        out.append(f"[{k}]")
        out.extend(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("model", ["simtier", "make"])
def test_a_model_fitted_alone_is_the_runs_model(run, model):
    ds = Dataset.synthetic(scale=0.3)
    m = fuserec.Ctr(model, **CTR).fit(ds, multimodal={"dim": 32}, seed=1)
    row = next(r for r in run.json["rows"] if r["model"] == model)
    s = m.evaluate()
    assert (s["auc"], s["gauc"], s["logloss"]) == (row["scores"]["auc"], row["scores"]["gauc"], row["scores"]["logloss"])
    # Probabilities: one per impression, in (0, 1); a later time sees a longer history.
    inter = ds.interactions
    users, items = inter.user.astype(str)[:50].tolist(), inter["item"].astype(str)[:50].tolist()
    p = m.predict_proba(users, items)
    assert p.dtype == np.float32 and p.shape == (50,) and ((p > 0) & (p < 1)).all()
    early = m.predict_proba(users, items, timestamps=np.full(50, -(2**62), dtype=np.int64))
    assert not np.array_equal(p, early), "no history before the dawn of time changes the scores"
    # Empty histories for every impression: the score depends on the item alone.
    same_item = m.predict_proba(users[:5], [items[0]] * 5, timestamps=np.full(5, -(2**62)))
    assert np.allclose(same_item, same_item[0])


def test_ctr_bad_input_raises_clear_errors():
    ds = Dataset.synthetic(scale=0.3)
    with pytest.raises(FuserecError, match="not fitted"):
        fuserec.Ctr("din").predict_proba(["u1"], ["i1"])
    with pytest.raises(FuserecError, match="unknown CTR model `dien`"):
        fuserec.Ctr("dien", **CTR).fit(ds)
    m = fuserec.Ctr("din", **CTR).fit(ds, multimodal={"dim": 32})
    u, i = ds.user_ids()[0], ds.item_ids()[0]
    with pytest.raises(FuserecError, match=r"unknown user id `nobody` \(impression 1\)"):
        m.predict_proba([u, "nobody"], [i, i])
    with pytest.raises(FuserecError, match=r"unknown item id `nothing` \(impression 0\)"):
        m.predict_proba([u], ["nothing"])
    with pytest.raises(FuserecError, match="2 users for 1 items"):
        m.predict_proba([u, u], [i])
    with pytest.raises(FuserecError, match="integers expected, got float64"):
        m.predict_proba([u], [i], timestamps=[np.nan])
    with pytest.raises(FuserecError, match="1 timestamps for 2 impressions"):
        m.predict_proba([u, u], [i, i], timestamps=[5])
    with pytest.raises(FuserecError, match="history"):
        fuserec.Ctr("din", **{**CTR, "history": 0}).fit(ds)
    with pytest.raises(FuserecError, match="export_topk applies to recall"):
        fuserec.run_experiment(CONFIG, out="unused", export_topk=True)
