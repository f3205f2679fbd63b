"""Datasets for sweeplab studies, split, scaled and fingerprinted.

:func:`load_dataset` turns a dataset name (see :data:`DATASETS`), a csv/parquet
file or a ``package.module:function`` into a :class:`Dataset` of float32
feature and int64 label tensors with stratified train/val/test splits.
"""

from sweeplab.data._dataset import Dataset
from sweeplab.data._load import load_dataset
from sweeplab.data._registry import DATASETS
from sweeplab.data._split import fold_indices

__all__ = ["DATASETS", "Dataset", "fold_indices", "load_dataset"]
