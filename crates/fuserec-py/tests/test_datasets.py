"""Datasets from DataFrames and folders: the Rust loader's checks, told in the frames' terms."""

import numpy as np
import pandas as pd
import pytest

import fuserec
from fuserec import Dataset, FuserecError


def frames():
    inter = pd.DataFrame(
        {
            "user": ["u1", "u2", "u1", "u3", "u2", "u1"],
            "item": ["a", "b", "b", "c", "a", "c"],
            "timestamp": [10, 11, 12, 13, 14, 15],
            "label": [1, 0, 1, 1, 1, 0],
        }
    )
    items = pd.DataFrame({"item": ["a", "b", "c", "d"], "title": ["red shoe", "blue hat", "", "green bag"], "tags": ["x|y", "y", "", "z"]})
    return inter, items


def test_frames_load_with_the_rust_loader_and_read_back():
    inter, items = frames()
    ds = Dataset.from_frames(inter, items, name="toy")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 4, 6)
    assert ds.name == "toy"
    assert ds.item_ids() == ["a", "b", "c", "d"], "the item table's order"
    back = ds.interactions
    assert list(back.timestamp) == [10, 11, 12, 13, 14, 15]
    assert [str(u) for u in back.user] == list(inter.user) and [str(i) for i in back.item] == list(inter.item)
    assert back.label.dtype == np.float32 and list(back.label) == [1, 0, 1, 1, 1, 0]
    it = ds.items
    assert list(it.title) == ["red shoe", "blue hat", "", "green bag"] and it.tags[0] == "x|y"
    assert ds.report["empty_titles"] == 1
    # A pyarrow table works the same.
    import pyarrow as pa

    ds2 = Dataset.from_frames(pa.Table.from_pandas(inter), items)
    assert ds2.n_interactions == 6


def test_bad_frames_raise_errors_naming_frame_row_and_value():
    inter, items = frames()
    bad = inter.astype({"timestamp": float})
    bad.loc[2, "timestamp"] = np.nan
    with pytest.raises(FuserecError, match=r"interactions frame, row 2: column `timestamp` is null|interactions frame, row 2.*timestamp"):
        Dataset.from_frames(bad, items)
    unknown = inter.copy()
    unknown.loc[4, "item"] = "zz"
    with pytest.raises(FuserecError, match=r"interactions frame, row 4: unknown item id `zz`"):
        Dataset.from_frames(unknown, items)
    # ... unless asked to skip: counted.
    ds = Dataset.from_frames(unknown, items, unknown_items="skip")
    assert ds.report["unknown_item_rows"] == 1 and ds.n_interactions == 5
    with pytest.raises(FuserecError, match="interactions frame: no rows"):
        Dataset.from_frames(inter.iloc[:0], items)
    text_ts = inter.astype({"timestamp": str})
    text_ts.loc[1, "timestamp"] = "yesterday"
    with pytest.raises(FuserecError, match=r"interactions frame.*timestamp"):
        Dataset.from_frames(text_ts, items)
    with pytest.raises(FuserecError, match=r"missing column `user`"):
        Dataset.from_frames(inter.drop(columns=["user"]), items)
    label = inter.copy()
    label.loc[0, "label"] = 7
    with pytest.raises(FuserecError, match=r"row 0: label 7 outside \[0, 1\]"):
        Dataset.from_frames(label, items)
    with pytest.raises(TypeError, match="DataFrame or a pyarrow Table"):
        Dataset.from_frames([1, 2, 3], items)
    # Repeated rows are dropped and counted (the highest label wins).
    dup = pd.concat([inter, inter.iloc[[1]].assign(label=1)], ignore_index=True)
    ds = Dataset.from_frames(dup, items)
    assert ds.report["duplicate_interactions"] == 1 and ds.n_interactions == 6


def test_folders_and_missing_paths(scratch):
    inter, items = frames()
    kept = Dataset.from_frames(inter, items, path=scratch / "toy")
    assert (scratch / "toy" / "interactions.parquet").is_file(), "a given path keeps the Parquet files"
    again = Dataset.load(scratch / "toy")
    assert (again.n_users, again.n_items, again.n_interactions) == (kept.n_users, kept.n_items, kept.n_interactions)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Dataset.load(scratch / "nowhere")
    with pytest.raises(FuserecError, match="unknown_items"):
        Dataset.load(scratch / "toy", unknown_items="maybe")


def test_the_synthetic_world():
    ds = Dataset.synthetic(scale=0.1)
    assert ds.n_items == 300 and ds.n_users == 200 and ds.n_interactions > 1000
    assert "synthetic" in repr(ds)
