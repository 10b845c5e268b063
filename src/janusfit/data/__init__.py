"""Datasets: reading the supported releases, checking them, simulating and downloading them."""

from .dataset import Dataset
from .download import download, download_dataset
from .loaders import FORMATS, load_dataset
from .simulate import simulate_hubble_diagram, write_simulated

__all__ = [
    "FORMATS",
    "Dataset",
    "download",
    "download_dataset",
    "load_dataset",
    "simulate_hubble_diagram",
    "write_simulated",
]
