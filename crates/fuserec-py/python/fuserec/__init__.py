"""fuserec from Python: multimodal recall with the Rust engine underneath.

Everything here calls the Rust crates (the same loaders, encoders, quantisers, models and
experiment runner as ``cargo xtask``); this module only turns their inputs and outputs into
pandas / numpy. Long calls release the GIL, draw a progress bar on a terminal
(``set_quiet(True)`` hides it) and stop cleanly on Ctrl-C (``KeyboardInterrupt``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _fuserec
from ._fuserec import FuserecError, __version__, cache_dir, set_quiet

__all__ = [
    "FuserecError",
    "Dataset",
    "encode",
    "KMeans",
    "HierarchicalKMeans",
    "ResidualKMeans",
    "Model",
    "TwoTower",
    "Ease",
    "Bpr",
    "Vbpr",
    "ItemKnn",
    "MostPop",
    "ContentKnn",
    "Ctr",
    "Results",
    "run_experiment",
    "ServeClient",
    "cache_dir",
    "set_quiet",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]


# ---------------------------------------------------------------------------------------------
# Datasets


def _frame_errors(err: Exception, tmp: Path) -> Exception:
    """A loader error about the temporary Parquet files, told in terms of the caller's frames."""
    msg = str(err)
    for table in ("items", "interactions"):
        path = re.escape(str(tmp / f"{table}.parquet"))
        msg = re.sub(path + r": row group 0, row (\d+)", rf"{table} frame, row \1", msg)
        msg = re.sub(path, f"{table} frame", msg)
    return type(err)(msg)


def _as_arrow(frame: Any, what: str):
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise TypeError(f"{what}: a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")


class Dataset:
    """Users, items (text, tags, image) and interactions, loaded and checked by fuserec's loaders."""

    def __init__(self, native: "_fuserec.Dataset"):
        self._native = native

    @classmethod
    def load(cls, path: PathLike, unknown_items: str = "error", name: Optional[str] = None) -> "Dataset":
        """A folder in fuserec's layout: ``items`` and ``interactions`` tables as TSV, CSV or
        Parquet (or train/val/test files). ``unknown_items``: ``error`` | ``skip`` | ``add``."""
        return cls(_fuserec.Dataset.load(os.fspath(path), unknown_items, name))

    @classmethod
    def from_frames(
        cls,
        interactions: Any,
        items: Any = None,
        name: str = "frames",
        path: Optional[PathLike] = None,
        unknown_items: str = "error",
    ) -> "Dataset":
        """From pandas DataFrames or pyarrow Tables. ``interactions``: ``user``, ``item``,
        ``timestamp`` and optionally ``label`` (0/1) or ``rating``, ``weight``; ``items``: ``item``
        and optionally ``title``, ``description``, ``tags`` (``|``-separated), ``image`` (a path),
        ``created_at``. The frames are written as Parquet (to ``path`` if given, so an experiment
        config can name the folder; else a temporary folder) and read by the Rust loader: the
        same checks, with errors naming the frame and row."""
        import pyarrow.parquet as pq

        inter = _as_arrow(interactions, "interactions")
        if inter.num_rows == 0:
            raise FuserecError("interactions frame: no rows")
        keep = path is not None
        folder = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="fuserec-frames-"))
        folder.mkdir(parents=True, exist_ok=True)
        try:
            # One row group per table: a loader error's "row group 0, row R" is frame row R.
            pq.write_table(inter, folder / "interactions.parquet", row_group_size=max(inter.num_rows, 1))
            if items is not None:
                it = _as_arrow(items, "items")
                pq.write_table(it, folder / "items.parquet", row_group_size=max(it.num_rows, 1))
            try:
                native = _fuserec.Dataset.load(os.fspath(folder), unknown_items, name)
            except (FuserecError, OSError) as e:
                raise _frame_errors(e, folder) from None
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
        return cls(native)

    @classmethod
    def synthetic(cls, seed: int = 7, scale: float = 1.0) -> "Dataset":
        """The synthetic world (written once under the cache), as ``kind = "synthetic"``."""
        return cls(_fuserec.Dataset.synthetic(os.fspath(cache_dir()), seed, scale))

    @classmethod
    def mmrec(cls, path: PathLike) -> "Dataset":
        """MMRec's layout (``<name>.inter`` with ``x_label``) with its published split."""
        return cls(_fuserec.Dataset.mmrec(os.fspath(path)))

    name = property(lambda self: self._native.name)
    n_users = property(lambda self: self._native.n_users)
    n_items = property(lambda self: self._native.n_items)
    n_interactions = property(lambda self: self._native.n_interactions)

    @property
    def report(self) -> dict:
        """What loading did: rows read and kept, duplicates, unknown ids, items without image."""
        return json.loads(self._native.report_json())

    def user_ids(self) -> list:
        return self._native.user_ids()

    def item_ids(self) -> list:
        return self._native.item_ids()

    @property
    def items(self) -> pd.DataFrame:
        title, desc, tags, image = self._native.item_columns()
        return pd.DataFrame({"item": self.item_ids(), "title": title, "description": desc, "tags": tags, "image": image})

    @property
    def interactions(self) -> pd.DataFrame:
        """Sorted by (timestamp, user, item), with raw ids."""
        u, i, ts, label = self._native.interaction_arrays()
        users = pd.Categorical.from_codes(u.astype(np.int64), categories=self.user_ids())
        items = pd.Categorical.from_codes(i.astype(np.int64), categories=self.item_ids())
        return pd.DataFrame({"user": users, "item": items, "timestamp": ts, "label": label})

    def __repr__(self) -> str:
        return repr(self._native)


# ---------------------------------------------------------------------------------------------
# Encoders and quantisers


def encode(
    texts: Optional[Sequence[str]] = None,
    images: Optional[Sequence[Union[bytes, PathLike]]] = None,
    backbone: Optional[str] = None,
) -> np.ndarray:
    """Rows of a backbone, one per text or image (float32, ``n × dim``). Texts: ``hashed-ngram``
    (default) or ``minilm``; images (bytes or paths): ``color-hist`` (default) or
    ``efficientnet-lite0``."""
    if (texts is None) == (images is None):
        raise TypeError("encode: give texts or images (one of them)")
    if texts is not None:
        if isinstance(texts, str):
            raise TypeError("encode: texts is a list of strings, not one string")
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("encode: every text must be a str")
        return _fuserec.encode_texts(texts, backbone or "hashed-ngram", os.fspath(cache_dir()))
    assert images is not None
    blobs = []
    for k, im in enumerate(images):
        if isinstance(im, (bytes, bytearray)):
            blobs.append(bytes(im))
        elif isinstance(im, (str, os.PathLike)):
            blobs.append(Path(im).read_bytes())
        else:
            raise TypeError(f"encode: image {k} is {type(im).__name__}, not bytes or a path")
    return _fuserec.encode_images(blobs, backbone or "color-hist")


def _matrix(x: Any, what: str = "x") -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2:
        raise FuserecError(f"{what}: a 2-D array (rows × dim) expected, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise FuserecError(f"{what}: empty array {a.shape}")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise FuserecError(f"{what}: numbers expected, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


class _Quantizer:
    _native: Optional["_fuserec.Quantizer"] = None

    def _fitted(self) -> "_fuserec.Quantizer":
        if self._native is None:
            raise FuserecError(f"{type(self).__name__} is not fitted: call fit(x) first")
        return self._native

    def encode(self, x: Any) -> np.ndarray:
        """Codes of each row (uint32, ``n × levels``)."""
        return self._fitted().encode(_matrix(x))

    def reconstruct(self, codes: Any, level: Optional[int] = None) -> np.ndarray:
        q = self._fitted()
        c = np.ascontiguousarray(np.asarray(codes), dtype=np.uint32)
        return q.reconstruct(c, q.levels - 1 if level is None else level)

    def save(self, path: PathLike) -> None:
        self._fitted().save(os.fspath(path))

    @classmethod
    def load(cls, path: PathLike) -> "_Quantizer":
        q = cls.__new__(cls)
        q._native = _fuserec.Quantizer.load(os.fspath(path))
        return q

    name = property(lambda self: self._fitted().name)
    levels = property(lambda self: self._fitted().levels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._native.name if self._native else 'not fitted'})"


class KMeans(_Quantizer):
    """k-means (k-means++ seeding, Lloyd iterations), deterministic by seed."""

    def __init__(self, k: int, seed: int = 0, max_iter: int = 25):
        self.k, self.seed, self.max_iter = k, seed, max_iter

    def fit(self, x: Any) -> "KMeans":
        self._native = _fuserec.Quantizer.fit_kmeans(_matrix(x), self.k, self.seed, self.max_iter)
        return self

    @property
    def centroids(self) -> np.ndarray:
        return self._fitted().kmeans_state()[0]

    @property
    def objective(self) -> list:
        return self._fitted().kmeans_state()[1]


class HierarchicalKMeans(_Quantizer):
    """A tree of k-means: ``depth`` levels of ``branching`` children; one code per level."""

    def __init__(self, branching: int, depth: int, seed: int = 0, max_iter: int = 25):
        self.branching, self.depth, self.seed, self.max_iter = branching, depth, seed, max_iter

    def fit(self, x: Any) -> "HierarchicalKMeans":
        self._native = _fuserec.Quantizer.fit_tree(_matrix(x), self.branching, self.depth, self.seed, self.max_iter)
        return self


class ResidualKMeans(_Quantizer):
    """``levels`` codebooks of ``k`` centroids, each on the previous level's residual."""

    def __init__(self, levels: int, k: int, seed: int = 0, max_iter: int = 25):
        self.n_levels, self.k, self.seed, self.max_iter = levels, k, seed, max_iter

    def fit(self, x: Any) -> "ResidualKMeans":
        self._native = _fuserec.Quantizer.fit_residual(_matrix(x), self.n_levels, self.k, self.seed, self.max_iter)
        return self


# ---------------------------------------------------------------------------------------------
# Models


def _segments_frame(segments: list) -> pd.DataFrame:
    rows = []
    for s in segments:
        for key, est in s["metrics"].items():
            metric, k = key.split("@")
            rows.append(
                {
                    "segment": s["segment"],
                    "users": s["users"],
                    "metric": metric,
                    "k": int(k),
                    "value": est["mean"],
                    "ci_lo": est["lo"],
                    "ci_hi": est["hi"],
                }
            )
    return pd.DataFrame(rows)


class Model:
    """Any recall model of an experiment's ``[[model]]`` table, e.g. ``Model("two-tower",
    fusion="additive")``; ``fit`` trains it on a dataset and split exactly as an experiment does."""

    def __init__(self, kind: str, **params: Any):
        self.params = {"kind": kind, **params}
        self._native: Optional["_fuserec.Model"] = None
        self._dataset: Optional[Dataset] = None

    def fit(
        self,
        dataset: Dataset,
        split: Optional[Mapping[str, Any]] = None,
        features: Optional[Mapping[str, Any]] = None,
        seed: int = 1,
        k: Sequence[int] = (20, 10, 50),
        bootstrap: Optional[int] = None,
        selection: Optional[str] = None,
        artifact: Optional[PathLike] = None,
    ) -> "Model":
        """``split``: a ``[split]`` table (default: the experiment default); ``features``: a
        ``[features]`` table (default: light backbones); ``k`` and ``bootstrap`` (resamples for
        the CIs; default as in experiments) are used by ``evaluate``. ``artifact`` (two-tower
        models): a folder to write the serving artifact into, what ``fuserec-serve --artifact``
        serves."""
        if not isinstance(dataset, Dataset):
            raise TypeError(f"fit: a fuserec.Dataset, got {type(dataset).__name__}")
        cfg: dict = {
            "name": "python",
            "seeds": [seed],
            "k": list(k),
            "dataset": {"kind": "dir", "path": "."},
            "model": [self.params],
        }
        if split is not None:
            cfg["split"] = dict(split)
        if features is not None:
            cfg["features"] = dict(features)
        if selection is not None:
            cfg["selection"] = selection
        if bootstrap is not None:
            cfg["bootstrap"] = bootstrap
        art = None if artifact is None else os.fspath(artifact)
        self._native = _fuserec.Model.fit(json.dumps(cfg), dataset._native, seed, os.fspath(cache_dir()), art)
        self._dataset = dataset
        return self

    def save(self, path: PathLike) -> None:
        """Writes the fitted model into the folder ``path`` (``model.json`` +
        ``state.safetensors``); ``Model.load(path, dataset)`` reads it back without training."""
        self._fitted().save(os.fspath(path))

    @classmethod
    def load(cls, path: PathLike, dataset: Dataset) -> "Model":
        """A model written by ``save``, on the dataset it was fitted on (its ids and split are
        checked). It scores, evaluates and recommends exactly as the saved one did."""
        if not isinstance(dataset, Dataset):
            raise TypeError(f"load: a fuserec.Dataset, got {type(dataset).__name__}")
        native = _fuserec.Model.load(os.fspath(path), dataset._native)
        params = json.loads(native.config_json)["model"][0]
        m = cls(params.pop("kind"), **params)
        m._native, m._dataset = native, dataset
        return m

    def _fitted(self) -> "_fuserec.Model":
        if self._native is None:
            raise FuserecError(f"{self.params['kind']} is not fitted: call fit(dataset) first")
        return self._native

    name = property(lambda self: self._fitted().name)
    split_hash = property(lambda self: self._fitted().split_hash)

    def evaluate(self) -> pd.DataFrame:
        """OVERALL / WARM / COLD metrics on the split's test part: one row per segment × metric × k."""
        return _segments_frame(json.loads(self._fitted().evaluate_json()))

    def recommend(self, users: Union[str, Iterable[str]], k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` items per user (raw ids): columns user, item, rank, score."""
        users = [users] if isinstance(users, str) else [str(u) for u in users]
        u, i, r, s = self._fitted().recommend(users, k, exclude_seen)
        return pd.DataFrame({"user": u, "item": i, "rank": np.asarray(r, dtype=np.uint32), "score": np.asarray(s, dtype=np.float32)})

    def item_vectors(self) -> np.ndarray:
        """Item vectors (row = ``dataset.item_ids()`` order)."""
        return self._fitted().item_vectors()

    def user_vectors(self) -> np.ndarray:
        """User query vectors (row = ``dataset.user_ids()`` order)."""
        return self._fitted().user_vectors()

    @property
    def training_log(self) -> Optional[dict]:
        log = self._fitted().training_log_json()
        return None if log is None else json.loads(log)

    def __repr__(self) -> str:
        return repr(self._native) if self._native is not None else f"Model({self.params}, not fitted)"


def TwoTower(fusion: str = "additive", **params: Any) -> Model:
    """The two-tower recall model; ``fusion``: ``id-only``, ``content-only``, ``multi-view``,
    ``concat`` or ``additive`` (the default model)."""
    return Model("two-tower", fusion=fusion, **params)


def Ease(lambda_: float = 500.0) -> Model:
    return Model("ease", **{"lambda": lambda_})


def Bpr(**params: Any) -> Model:
    return Model("bpr", **params)


def Vbpr(**params: Any) -> Model:
    return Model("vbpr", **params)


def ItemKnn(neighbours: int = 100) -> Model:
    return Model("item-knn", neighbours=neighbours)


def MostPop() -> Model:
    return Model("most-pop")


def ContentKnn(**params: Any) -> Model:
    return Model("content-knn", **params)


# ---------------------------------------------------------------------------------------------
# CTR models


class Ctr:
    """One CTR model of the ``kind = "ctr"`` experiment — ``din``, ``vector``, ``simscore``,
    ``simtier``, ``make``, ``make-frozen`` or ``simtier+make`` — trained on a dataset and seed
    exactly as the experiment trains it; ``ctr`` keys are the ``[ctr]`` table's (``dim``,
    ``history``, ``epochs``, …)."""

    def __init__(self, model: str = "simtier", **ctr: Any):
        self.model, self.ctr = model, dict(ctr)
        self._native: Optional["_fuserec.CtrModel"] = None

    def fit(
        self,
        dataset: Dataset,
        split: Optional[Mapping[str, Any]] = None,
        features: Optional[Mapping[str, Any]] = None,
        multimodal: Optional[Mapping[str, Any]] = None,
        seed: int = 1,
    ) -> "Ctr":
        """``split``: a ``[split]`` table (default: the CTR default, global temporal with the
        last 20% of impressions as test); ``features`` / ``multimodal``: those tables."""
        if not isinstance(dataset, Dataset):
            raise TypeError(f"fit: a fuserec.Dataset, got {type(dataset).__name__}")
        cfg: dict = {"name": "python", "kind": "ctr", "seeds": [seed], "dataset": {"kind": "dir", "path": "."}, "models": [self.model]}
        for key, table in (("ctr", self.ctr), ("split", split), ("features", features), ("multimodal", multimodal)):
            if table:
                cfg[key] = dict(table)
        self._native = _fuserec.CtrModel.fit(json.dumps(cfg), self.model, dataset._native, seed, os.fspath(cache_dir()))
        return self

    def _fitted(self) -> "_fuserec.CtrModel":
        if self._native is None:
            raise FuserecError(f"Ctr({self.model!r}) is not fitted: call fit(dataset) first")
        return self._native

    split_hash = property(lambda self: self._fitted().split_hash)

    def evaluate(self) -> dict:
        """AUC, GAUC, log loss and GAUC per item-frequency bucket on the split's test impressions
        (the CTR experiment's row for this model and seed)."""
        return json.loads(self._fitted().scores_json())

    def predict_proba(self, users: Iterable[str], items: Iterable[str], timestamps: Any = None) -> np.ndarray:
        """Click probability of each impression ``(users[k], items[k])`` (raw ids). The behaviour
        sequence is the user's clicks before ``timestamps[k]`` (integers, as in the dataset);
        default: every click the model knows."""
        users, items = [str(u) for u in users], [str(i) for i in items]
        ts = None
        if timestamps is not None:
            ts = np.asarray(timestamps)
            if ts.ndim != 1 or not np.issubdtype(ts.dtype, np.integer):
                raise FuserecError(f"timestamps: a 1-D array of integers expected, got {ts.dtype} of shape {ts.shape}")
            ts = np.ascontiguousarray(ts, dtype=np.int64)
        return self._fitted().predict_proba(users, items, ts)

    def __repr__(self) -> str:
        return repr(self._native) if self._native is not None else f"Ctr({self.model!r}, not fitted)"


# ---------------------------------------------------------------------------------------------
# Experiments


class Results:
    """An experiment's output folder: ``results.json``, ``report.md``, plots, and for recall
    experiments ``metrics.csv``. ``kind``: ``recall``, ``ctr`` or ``scl``."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.json: dict = json.loads((self.path / "results.json").read_text())
        self.kind: str = self.json["config"].get("kind", "recall")
        if self.kind == "recall":
            self.metrics: pd.DataFrame = pd.read_csv(self.path / "metrics.csv")
        else:
            self.metrics = pd.json_normalize(self.json["rows"])

    def table(self, metric: str = "recall", k: Optional[int] = None) -> pd.DataFrame:
        """Recall: mean over seeds of ``metric@k`` (default: the headline k), models ×
        OVERALL/WARM/COLD. CTR: mean AUC, GAUC and log loss per model. SCL: the mean of every
        number per (source, variant)."""
        if self.kind == "ctr":
            cols = ["scores.auc", "scores.gauc", "scores.logloss"]
            t = self.metrics.groupby("model", sort=False)[cols].mean()
            return t.rename(columns=lambda c: c.removeprefix("scores."))
        if self.kind == "scl":
            return self.metrics.groupby(["source", "variant"], sort=False).mean(numeric_only=True).drop(columns="seed")
        k = k if k is not None else self.json["config"]["k"][0]
        m = self.metrics[(self.metrics.metric == metric) & (self.metrics.k == k)]
        t = m.groupby(["model_index", "model", "segment"], sort=False)["value"].mean().unstack("segment")
        cols = [c for c in ("OVERALL", "WARM", "COLD") if c in t.columns]
        return t[cols].reset_index(level="model_index", drop=True)

    def __repr__(self) -> str:
        return f"Results({self.json['name']!r}, {self.path})"


def run_experiment(
    config: Union[PathLike, Mapping[str, Any]],
    seeds: Optional[Sequence[int]] = None,
    out: Optional[PathLike] = None,
    export_topk: bool = False,
    export_format: str = "tsv",
    log: bool = False,
) -> Results:
    """Runs an experiment — a TOML file or the same table as a dict; recall, ``kind = "ctr"`` or
    ``kind = "scl"`` — as ``cargo xtask experiment`` does, and writes the same files into
    ``out`` (default ``results/<name>/<UTC time>``)."""
    if isinstance(config, Mapping):
        text, fmt, origin, name = json.dumps(config), "json", "<dict>", str(config.get("name", "experiment"))
    else:
        p = Path(config)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such experiment file")
        text, fmt, origin = p.read_text(), "toml", str(p)
        import tomllib

        name = str(tomllib.loads(text).get("name", p.stem))
    if out is None:
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H%M%SZ")
        out = Path("results") / name / stamp
    path = _fuserec.run_experiment(text, fmt, origin, os.fspath(cache_dir()), os.fspath(out), list(seeds) if seeds is not None else None, export_topk, export_format, log)
    return Results(path)


# ---------------------------------------------------------------------------------------------
# Serving


class ServeClient:
    """A small client for ``fuserec-serve``: health, ingest, recall, statistics."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 30.0):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        if self.token:
            req.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise FuserecError(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}") from None

    def health(self) -> dict:
        return self._call("GET", "/health")

    def ingest(self, item_id: str, title: str = "", text: str = "", image: Optional[bytes] = None, **fields: Any) -> dict:
        import base64

        body = {"id": item_id, "title": title, **({"text": text} if text else {}), **fields}
        if image is not None:
            body["image_base64"] = base64.b64encode(image).decode()
        return self._call("POST", "/items", body)

    def recall(self, user: str, k: int = 10, **fields: Any) -> pd.DataFrame:
        r = self._call("POST", "/recall", {"user": user, "k": k, **fields})
        return pd.DataFrame(r.get("items", []))

    def stats(self, item_id: str, exposures: int, clicks: int) -> dict:
        return self._call("POST", "/stats", {"id": item_id, "exposures": exposures, "clicks": clicks})
