"""Data sets, mini-batch loading, preprocessing and the IDX file format."""

from chainrule.data.datasets import DataSplit, available_datasets, load_dataset, register_dataset
from chainrule.data.idx import read_idx, write_idx
from chainrule.data.loader import DataLoader, Dataset, Subset, TensorDataset, balanced_indices, random_split
from chainrule.data.preprocess import Standardizer

__all__ = [
    "DataLoader",
    "DataSplit",
    "Dataset",
    "Standardizer",
    "Subset",
    "TensorDataset",
    "balanced_indices",
    "available_datasets",
    "load_dataset",
    "random_split",
    "register_dataset",
    "read_idx",
    "write_idx",
]
