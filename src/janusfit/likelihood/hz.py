"""The Gaussian likelihood of H(z) measurements (cosmic chronometers)."""

from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..models import Model
from . import kernels
from .covariance import Whitening


class HzLikelihood:
    """Gaussian χ² of H(z) measurements; H0 is a sampled parameter."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.z = np.ascontiguousarray(dataset.z, dtype=float)
        self.H = np.ascontiguousarray(dataset.values, dtype=float)
        self.errors = Whitening(dataset)
        self.norm = self.errors.log_det + self.H.size * np.log(2.0 * np.pi)

    def chi2(self, model: Model, theta: np.ndarray, H0: np.ndarray) -> np.ndarray:
        e = model.E(theta, self.z)
        out = np.empty(len(theta))
        if self.errors.diagonal:
            kernels.hz_chi2_diag(e, np.ascontiguousarray(H0), self.H, self.errors.inv_sigma, out)
        else:
            y = self.errors.whiten(self.H - H0[:, None] * e)
            np.einsum("ij,ij->i", y, y, out=out)
        return out
