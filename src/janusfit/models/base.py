"""The model interface and the registry of models by name.

A model is one subclass of :class:`Model` with a ``name``: defining it registers
it, so adding a cosmology to janusfit is one new class in one new module of this
package and nothing else. Every method takes a batch of parameter vectors of
shape ``(n_batch, n_params)`` and returns ``(n_batch, n_redshifts)`` arrays, so
a sampler evaluates all its walkers in one call.

Distances are dimensionless (in units of the Hubble distance c/H0): the
distance modulus is defined up to the additive constant 5 log10(c/H0) + 25 + M,
which the supernova likelihood marginalises.
"""

from __future__ import annotations

import sys
from typing import ClassVar

import numpy as np

from .quadrature import RedshiftGrid

# H(z) = H0 E(z): H0 is sampled beside a model's parameters where H(z) data constrain it.
H0_LABEL = r"$H_0$"

MODELS: dict[str, type[Model]] = {}


class Model:
    """A cosmological model: parameters, default priors, E(z) = H(z)/H0, distances."""

    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]]
    labels: ClassVar[dict[str, str]]
    default_priors: ClassVar[dict[str, tuple[float, float]]]
    reference: ClassVar[str] = ""
    latex_name: ClassVar[str] = ""  # the model in a LaTeX table; the name when empty

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if cls.name in MODELS:
                raise ValueError(
                    f"model class {_where(cls)} has the name '{cls.name}' of {_where(MODELS[cls.name])}: "
                    "give it a name of its own (its `name`, which config.yaml's models: lists)"
                )
            missing = set(cls.params) ^ set(cls.default_priors)
            if missing:
                raise ValueError(
                    f"model '{cls.name}' ({_where(cls)}): params and default_priors differ in {sorted(missing)}"
                )
            MODELS[cls.name] = cls

    def domain_bounds(self, z_max: float) -> dict[str, tuple[float, float]]:
        """The model's domain up to ``z_max`` as open intervals of its parameters; {} where it exists everywhere.

        A model declared this way is nested-sampled only inside its domain,
        and the log of the prior's fraction inside is added to ln Z
        analytically. A domain that is not such a box is declared by
        overriding :meth:`in_domain` alone: it is then sampled over the whole
        prior, with a floor likelihood outside.
        """
        return {}

    def redshift_limit(self, theta: np.ndarray) -> np.ndarray:
        """The redshift up to which the model exists, for each parameter vector (inf where it has no limit)."""
        return np.full(len(theta), np.inf)

    def in_domain(self, theta: np.ndarray, z_max: float) -> np.ndarray:
        """True for parameter vectors where the model exists up to ``z_max`` (inside :meth:`domain_bounds`)."""
        ok = np.ones(len(theta), dtype=bool)
        for name, (lo, hi) in self.domain_bounds(z_max).items():
            column = theta[:, self.params.index(name)]
            ok &= (column > lo) & (column < hi)
        return ok

    def E(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        """H(z)/H0 for each parameter vector (rows) and redshift (columns)."""
        raise NotImplementedError

    def inverse_E(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        """1/E, the integrand of the comoving distance; a model may fuse it into one kernel."""
        return 1.0 / self.E(theta, z)

    def transverse_distance(self, theta: np.ndarray, grid: RedshiftGrid) -> np.ndarray:
        """Transverse comoving distance D_M H0/c; flat models integrate 1/E."""
        return grid.integrate(self.inverse_E(theta, grid.nodes))

    def distance_modulus(self, theta, z, zhel=None, grid: RedshiftGrid | None = None):
        """μ(z) up to the additive constant: 5 log10[(1 + z_hel) D_M H0/c].

        ``z`` is the redshift that enters the distance (z_cmb or z_HD) and
        ``zhel`` the heliocentric redshift of the (1 + z) factor, when known.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        z = np.asarray(z, dtype=float)
        grid = grid if grid is not None else RedshiftGrid(z)
        factor = 1.0 + (z if zhel is None else np.asarray(zhel, dtype=float))
        return 5.0 * np.log10(factor * self.transverse_distance(theta, grid))

    def hubble(self, theta, z, H0):
        """H(z) in the units of ``H0`` (one value per parameter vector)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        return np.asarray(H0, dtype=float)[:, None] * self.E(theta, np.asarray(z, dtype=float))


def get_model(name: str) -> Model:
    """An instance of the registered model ``name``."""
    try:
        return MODELS[name]()
    except KeyError:
        raise KeyError(f"unknown model '{name}'; known models: {', '.join(sorted(MODELS))}") from None


def _where(cls: type) -> str:
    """A model class as a message names it: its class name, module and file ("Mine in janusfit.models.mine (…/mine.py)")."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    return f"{cls.__name__} in {cls.__module__}" + (f" ({path})" if path else "")
