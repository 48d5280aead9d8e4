"""Encoders and quantisers on numpy arrays."""

import numpy as np
import pytest

from fuserec import Dataset, FuserecError, HierarchicalKMeans, KMeans, ResidualKMeans, encode


def test_text_rows_are_deterministic_and_empty_text_is_zero():
    x = encode(texts=["red leather shoe", "blue hat", "red leather shoe", ""])
    assert x.shape == (4, 1024) and x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable
    assert np.array_equal(x[0], x[2]) and not np.array_equal(x[0], x[1])
    assert not x[3].any(), "no tokens: a zero row"
    # The rows are the ones the Rust encoder gives the catalogue (Dataset features use the same).
    with pytest.raises(TypeError, match="list of strings"):
        encode(texts="one string")
    with pytest.raises(FuserecError, match="bert-huge"):
        encode(texts=["x"], backbone="bert-huge")
    with pytest.raises(TypeError, match="one of them"):
        encode()


def test_images_by_path_or_bytes_and_a_corrupt_one_named():
    ds = Dataset.synthetic(scale=0.1)
    paths = [p for p in ds.items.image[:3]]
    by_path = encode(images=paths)
    by_bytes = encode(images=[open(p, "rb").read() for p in paths])
    assert by_path.shape == (3, 96) and np.array_equal(by_path, by_bytes)
    with pytest.raises(FuserecError, match=r"image 1: cannot decode"):
        encode(images=[open(paths[0], "rb").read(), b"not a png at all"])


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]], dtype=np.float32)
    labels = np.arange(n) % 3
    return (centres[labels] + rng.normal(scale=0.5, size=(n, 2))).astype(np.float32), labels


def test_kmeans_finds_planted_clusters_and_round_trips(tmp_path):
    x, labels = blobs()
    km = KMeans(3, seed=1).fit(x)
    codes = km.encode(x)
    assert codes.shape == (60, 1) and codes.dtype == np.uint32
    # Same cluster ⇔ same code.
    for c in range(3):
        assert len(set(codes[labels == c, 0])) == 1
    assert len(set(codes[:, 0])) == 3
    obj = km.objective
    assert all(b <= a + 1e-6 for a, b in zip(obj, obj[1:])), "the objective never increases"
    assert km.centroids.shape == (3, 2)
    km.save(tmp_path / "km.safetensors")
    again = KMeans.load(tmp_path / "km.safetensors")
    assert np.array_equal(again.encode(x), codes)
    # Non-contiguous and float64 input is accepted (converted once).
    assert np.array_equal(km.encode(np.asfortranarray(x.astype(np.float64))), codes)


def test_quantiser_inputs_are_checked():
    x, _ = blobs()
    with pytest.raises(FuserecError, match="not fitted"):
        KMeans(3).encode(x)
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(FuserecError, match=r"row 5, column 1: NaN is not a finite number"):
        KMeans(3).fit(bad)
    with pytest.raises(FuserecError, match="2-D array"):
        KMeans(3).fit(x[:, 0])
    with pytest.raises(FuserecError, match="empty"):
        KMeans(3).fit(x[:0])
    km = KMeans(3).fit(x)
    with pytest.raises(FuserecError, match="rows have 3 values, the quantiser was fitted on 2"):
        km.encode(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(FuserecError, match="numbers expected"):
        KMeans(3).fit(np.array([["a", "b"]]))


def test_tree_and_residual_codes():
    x, labels = blobs(90)
    tree = HierarchicalKMeans(branching=3, depth=2, seed=2).fit(x)
    c = tree.encode(x)
    assert c.shape == (90, 2) and tree.levels == 2
    for k in range(3):
        assert len(set(c[labels == k, 0])) == 1, "the first level separates the planted clusters"
    res = ResidualKMeans(levels=3, k=4, seed=0).fit(x)
    codes = res.encode(x)
    errs = [float(np.mean((res.reconstruct(codes, level) - x) ** 2)) for level in range(3)]
    assert errs[0] >= errs[1] >= errs[2] and errs[2] < errs[0], errs
