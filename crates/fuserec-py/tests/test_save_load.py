"""Fitted models on disk: every kind saved and read back scores exactly as before; a two-tower
model's serving artifact, written from Python, is served by fuserec-serve with its vectors."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

import fuserec
from fuserec import Dataset, FuserecError

SPLIT = {"kind": "cold-start", "cold_fraction": 0.2, "cold_val_fraction": 0.1}


@pytest.fixture(scope="module")
def world():
    return Dataset.synthetic(scale=0.2)


MODELS = [
    ("two-tower", lambda: fuserec.TwoTower("additive", epochs=2)),
    ("ease", lambda: fuserec.Ease(200.0)),
    ("bpr", lambda: fuserec.Bpr(factors=8, epochs=2)),
    ("vbpr", lambda: fuserec.Vbpr(factors=8, epochs=2)),
    ("item-knn", lambda: fuserec.ItemKnn(20)),
    ("content-knn", lambda: fuserec.ContentKnn()),
    ("most-pop", lambda: fuserec.MostPop()),
    ("random", lambda: fuserec.Model("random")),
]


@pytest.mark.parametrize("kind,make", MODELS, ids=[k for k, _ in MODELS])
def test_a_saved_model_scores_exactly_as_the_fitted_one(world, scratch, kind, make):
    m = make().fit(world, split=SPLIT, seed=2, bootstrap=20)
    m.save(scratch / "m")
    manifest = json.loads((scratch / "m" / "model.json").read_text())
    assert manifest["model"]["kind"] == kind and manifest["seed"] == 2 and manifest["split"] == m.split_hash
    back = fuserec.Model.load(scratch / "m", world)
    assert back.name == m.name and back.split_hash == m.split_hash and back.params["kind"] == kind
    # Metrics with their bootstrap CIs, recommendations and vectors: equal to the last bit.
    pd.testing.assert_frame_equal(back.evaluate(), m.evaluate(), check_exact=True)
    users = world.user_ids()[:5]
    pd.testing.assert_frame_equal(back.recommend(users, k=15), m.recommend(users, k=15), check_exact=True)
    if kind in ("two-tower", "bpr", "vbpr"):
        if kind == "two-tower":
            assert np.array_equal(back.item_vectors(), m.item_vectors())
            assert np.array_equal(back.user_vectors(), m.user_vectors())
        assert back.training_log == m.training_log


def test_load_refuses_another_dataset_a_changed_state_and_a_missing_folder(world, scratch):
    m = fuserec.Ease(200.0).fit(world, split=SPLIT, seed=2)
    m.save(scratch / "m")
    other = Dataset.synthetic(seed=8, scale=0.2)
    with pytest.raises(FuserecError, match="fitted on (dataset|split)"):
        fuserec.Model.load(scratch / "m", other)
    state = scratch / "m" / "state.safetensors"
    b = bytearray(state.read_bytes())
    b[-1] ^= 1
    state.write_bytes(bytes(b))
    with pytest.raises(FuserecError, match="does not match the sha256"):
        fuserec.Model.load(scratch / "m", world)
    with pytest.raises(FuserecError, match="not a saved model"):
        fuserec.Model.load(scratch / "nothing", world)
    (scratch / "keep").mkdir()
    (scratch / "keep" / "notes.txt").write_text("mine")
    with pytest.raises(FuserecError, match="is not a saved model"):
        m.save(scratch / "keep")
    assert (scratch / "keep" / "notes.txt").read_text() == "mine"
    with pytest.raises(FuserecError, match="only two-tower models write a serving artifact"):
        fuserec.Ease(200.0).fit(world, split=SPLIT, artifact=scratch / "a")


def test_the_artifact_of_a_python_fit_is_served_with_its_vectors(world, scratch, serve):
    m = fuserec.TwoTower("additive", epochs=2).fit(world, split=SPLIT, seed=3, artifact=scratch / "art")
    manifest = json.loads((scratch / "art" / "manifest.json").read_text())
    assert manifest["source"]["split"] == m.split_hash and len(manifest["users"]) == world.n_users
    p = subprocess.Popen(
        [serve, "--artifact", str(scratch / "art"), "--store", str(scratch / "items.redb"), "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = p.stdout.readline().strip()
        assert line.startswith("listening on "), (line, p.stderr.read() if p.poll() is not None else "")
        client = fuserec.ServeClient("http://" + line.removeprefix("listening on "))
        assert client.health()["items"] == world.n_items
        uv, iv = m.user_vectors(), m.item_vectors()
        uid, iid = world.user_ids(), {s: k for k, s in enumerate(world.item_ids())}
        for u in uid[:3]:
            served = client.recall(u, k=10)
            assert len(served) == 10
            # Every served score is the fitted model's inner product for that user and item (the
            # server ranks with the unit query: the user's vector over its length).
            q = uv[uid.index(u)] / np.linalg.norm(uv[uid.index(u)])
            want = np.array([q @ iv[iid[i]] for i in served["id"]])
            assert np.allclose(served["score"].to_numpy(), want, atol=1e-4), (served, want)
    finally:
        p.terminate()
        p.wait(timeout=30)
