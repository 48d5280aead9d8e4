"""Experiments from Python write what `fuserec experiment` writes, with the same numbers."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import fuserec
from fuserec import FuserecError

CONFIG = """
name = "py-parity"
seeds = [1, 2]
k = [20, 10]
bootstrap = 20
[dataset]
kind = "synthetic"
scale = 0.2
[split]
kind = "cold-start"
cold_fraction = 0.2
cold_val_fraction = 0.1
[[model]]
kind = "most-pop"
[[model]]
kind = "content-knn"
[[model]]
kind = "two-tower"
fusion = "additive"
epochs = 2
"""

def strip(v):
    """results.json without what differs between any two runs of one config: when it started,
    how long steps took (and so throughputs), how many feature rows the store already held (the
    first run encodes, the second reuses), and the run folder in artifact paths."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("started_at", "seconds", "cache") or k.endswith("_seconds") or k.endswith("_per_second"):
                continue
            out[k] = Path(x).name if k == "artifact" and isinstance(x, str) else strip(x)
        return out
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def test_python_and_cli_give_identical_results(scratch, cli):
    cfg = scratch / "py-parity.toml"
    cfg.write_text(CONFIG)
    py = fuserec.run_experiment(cfg, out=scratch / "py")
    env = dict(os.environ)
    subprocess.run([cli, "experiment", str(cfg), "--out", str(scratch / "cli")], check=True, env=env, capture_output=True)
    (rust_dir,) = list((scratch / "cli" / "py-parity").iterdir())
    a = pd.read_csv(scratch / "py" / "metrics.csv")
    b = pd.read_csv(rust_dir / "metrics.csv")
    assert len(a) > 100
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ja = strip(json.loads((scratch / "py" / "results.json").read_text()))
    jb = strip(json.loads((rust_dir / "results.json").read_text()))
    assert ja == jb
    for f in ["report.md", "recall.svg"]:
        assert (scratch / "py" / f).is_file()
    t = py.table()
    assert list(t.columns) == ["OVERALL", "WARM", "COLD"] and len(t) == 3
    # The same table as a dict gives the same metrics.
    import tomllib

    d = fuserec.run_experiment(tomllib.loads(CONFIG), out=scratch / "dict")
    pd.testing.assert_frame_equal(d.metrics, a, check_exact=True)


def test_bad_configs_name_the_problem(scratch):
    with pytest.raises(FuserecError, match=r"<dict>.*neighbors"):
        fuserec.run_experiment({"name": "x", "dataset": {"kind": "synthetic"}, "model": [{"kind": "item-knn", "neighbors": 3}]}, out=scratch / "x")
    with pytest.raises(FileNotFoundError):
        fuserec.run_experiment(scratch / "missing.toml")
    with pytest.raises(FuserecError, match="None values"):
        fuserec.run_experiment({"name": "x", "description": None, "dataset": {"kind": "synthetic"}, "model": [{"kind": "most-pop"}]}, out=scratch / "x")


def test_ctrl_c_stops_a_long_fit_cleanly(scratch):
    """SIGINT during training: the fit stops at its next batch, Python gets KeyboardInterrupt,
    and the interpreter is alive to handle it."""
    script = scratch / "long.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, fuserec
            fuserec.set_quiet(True)
            ds = fuserec.Dataset.synthetic(scale=0.5)
            print("ready", flush=True)
            try:
                fuserec.TwoTower("additive", epochs=500, patience=500).fit(ds)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                sys.exit(3)
            print("finished", flush=True)
            """
        )
    )
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    import time

    time.sleep(3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 3, (out, err)
    assert "interrupted" in out
