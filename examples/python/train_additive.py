"""Train fuserec's default fused recall model on a pandas DataFrame and print OVERALL / WARM /
COLD recall — the README's ten-line example, runnable:

    pip install ./crates/fuserec-py     # once: builds the Rust engine into the package
    python examples/python/train_additive.py
"""

import pandas as pd

import fuserec

# Any interactions frame (user, item, timestamp[, label]) and items frame (item, title, tags,
# image) will do; here the synthetic world's own tables, as a user would have them in pandas.
world = fuserec.Dataset.synthetic(scale=0.3)
interactions = world.interactions.astype({"user": str, "item": str})
items = world.items

ds = fuserec.Dataset.from_frames(interactions, items, name="my-catalogue")
model = fuserec.TwoTower("additive").fit(ds, split={"kind": "cold-start", "cold_fraction": 0.2, "cold_val_fraction": 0.1})
metrics = model.evaluate()
print(metrics[(metrics.metric == "recall") & (metrics.k == 20)][["segment", "users", "value", "ci_lo", "ci_hi"]].to_string(index=False))
print(model.recommend(ds.user_ids()[:2], k=5).to_string(index=False))
