"""Type stubs of the native module (the public API is `fuserec`, typed in its own source)."""

from os import PathLike
from typing import Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt
from typing_extensions import final

__all__ = [
    "FuserecError",
    "__version__",
    "set_quiet",
    "cache_dir",
    "run_experiment",
    "encode_texts",
    "encode_images",
    "Dataset",
    "Quantizer",
    "Model",
    "CtrModel",
]

__version__: str

class FuserecError(ValueError): ...

def set_quiet(quiet: bool) -> None: ...
def cache_dir() -> str: ...
def run_experiment(
    text: str,
    format: str,
    origin: str,
    cache: str,
    out: str,
    seeds: Optional[Sequence[int]] = None,
    export_topk: bool = False,
    export_format: str = "tsv",
    log: bool = False,
) -> str: ...
def encode_texts(texts: Sequence[str], backbone: str, cache: str) -> npt.NDArray[np.float32]: ...
def encode_images(images: Sequence[bytes], backbone: str) -> npt.NDArray[np.float32]: ...

@final
class Dataset:
    @staticmethod
    def load(path: str, unknown_items: str = "error", name: Optional[str] = None) -> Dataset: ...
    @staticmethod
    def mmrec(path: str) -> Dataset: ...
    @staticmethod
    def synthetic(cache: str, seed: int = 7, scale: float = 1.0) -> Dataset: ...
    name: str
    root: str
    n_users: int
    n_items: int
    n_interactions: int
    def report_json(self) -> str: ...
    def user_ids(self) -> list[str]: ...
    def item_ids(self) -> list[str]: ...
    def item_columns(self) -> Tuple[list[str], list[str], list[str], list[str]]: ...
    def interaction_arrays(
        self,
    ) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...

@final
class Quantizer:
    @staticmethod
    def fit_kmeans(x: npt.NDArray[np.float32], k: int, seed: int = 0, max_iter: int = 25) -> Quantizer: ...
    @staticmethod
    def fit_tree(x: npt.NDArray[np.float32], branching: int, depth: int, seed: int = 0, max_iter: int = 25) -> Quantizer: ...
    @staticmethod
    def fit_residual(x: npt.NDArray[np.float32], levels: int, k: int, seed: int = 0, max_iter: int = 25) -> Quantizer: ...
    @staticmethod
    def load(path: str) -> Quantizer: ...
    def save(self, path: str) -> None: ...
    def encode(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.uint32]: ...
    def reconstruct(self, codes: npt.NDArray[np.uint32], level: int) -> npt.NDArray[np.float32]: ...
    def kmeans_state(self) -> Tuple[npt.NDArray[np.float32], list[float]]: ...
    name: str
    dim: int
    levels: int
    codes_per_level: list[int]

@final
class Model:
    @staticmethod
    def fit(config: str, dataset: Dataset, seed: int, cache: str, artifact: Optional[str] = None) -> Model: ...
    @staticmethod
    def load(path: str, dataset: Dataset) -> Model: ...
    def save(self, path: str) -> None: ...
    name: str
    seed: int
    split_hash: str
    config_json: str
    def evaluate_json(self) -> str: ...
    def recommend(
        self, users: Sequence[str], k: int, exclude_seen: bool = True
    ) -> Tuple[list[str], list[str], list[int], list[float]]: ...
    def item_vectors(self) -> npt.NDArray[np.float32]: ...
    def user_vectors(self) -> npt.NDArray[np.float32]: ...
    def training_log_json(self) -> Optional[str]: ...

@final
class CtrModel:
    @staticmethod
    def fit(config: str, model: str, dataset: Dataset, seed: int, cache: str) -> CtrModel: ...
    model: str
    seed: int
    split_hash: str
    def scores_json(self) -> str: ...
    def predict_proba(
        self, users: Sequence[str], items: Sequence[str], timestamps: Optional[npt.NDArray[np.int64]] = None
    ) -> npt.NDArray[np.float32]: ...
