"""Models fitted from Python: the experiment's code path, its metrics, recommendations, vectors."""

import numpy as np
import pytest

import fuserec
from fuserec import Dataset, FuserecError

SPLIT = {"kind": "cold-start", "cold_fraction": 0.2, "cold_val_fraction": 0.1}


@pytest.fixture(scope="module")
def world():
    return Dataset.synthetic(scale=0.2)


def test_two_tower_fit_evaluate_recommend_and_vectors(world):
    m = fuserec.TwoTower("additive", epochs=2).fit(world, split=SPLIT, seed=1)
    ev = m.evaluate()
    assert set(ev.segment) == {"OVERALL", "WARM", "COLD"}
    recall = ev[(ev.metric == "recall") & (ev.k == 20)].set_index("segment").value
    assert 0.0 < recall["OVERALL"] <= 1.0 and recall["COLD"] > 0.0
    users = world.user_ids()[:3]
    rec = m.recommend(users, k=10)
    assert list(rec.columns) == ["user", "item", "rank", "score"] and len(rec) == 30
    for u, g in rec.groupby("user"):
        assert list(g["rank"]) == list(range(1, 11))
        assert all(np.diff(g.score.to_numpy()) <= 0), "sorted by score"
    # Scores are inner products of the model's vectors.
    iv, uv = m.item_vectors(), m.user_vectors()
    assert iv.shape[0] == world.n_items and uv.shape[0] == world.n_users and iv.shape[1] == uv.shape[1]
    ids = world.item_ids()
    first = rec.iloc[0]
    dot = float(uv[world.user_ids().index(first.user)] @ iv[ids.index(first["item"])])
    assert abs(dot - float(first.score)) < 1e-4
    # Seen items are left out unless asked.
    seen = world.interactions
    u0 = users[0]
    positives = set(seen[(seen.user == u0) & (seen.label > 0.5)]["item"].astype(str))
    top_all = m.recommend(u0, k=world.n_items, exclude_seen=True)
    kept = set(top_all["item"])
    assert len(kept) < world.n_items
    assert m.training_log is not None and "epochs" in m.training_log
    assert positives, "the user has positives"


def test_bad_calls_raise_clear_errors(world):
    with pytest.raises(FuserecError, match="not fitted"):
        fuserec.MostPop().recommend(["u1"])
    m = fuserec.MostPop().fit(world, split=SPLIT)
    with pytest.raises(FuserecError, match="unknown user id `nobody`"):
        m.recommend(["nobody"])
    with pytest.raises(FuserecError, match="k must be"):
        m.recommend(world.user_ids()[:1], k=0)
    with pytest.raises(FuserecError, match="no item vectors"):
        m.item_vectors()
    with pytest.raises(FuserecError, match="addtive"):
        fuserec.TwoTower("addtive").fit(world)
    with pytest.raises(FuserecError, match="neighbors"):
        fuserec.Model("item-knn", neighbors=3).fit(world)
    with pytest.raises(TypeError, match="fuserec.Dataset"):
        fuserec.MostPop().fit("not a dataset")
