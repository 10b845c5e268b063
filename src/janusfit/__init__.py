"""janusfit: crash-safe Bayesian comparison of cosmological models.

The library behind the janusfit Snakemake workflow: models (``janusfit.models``),
datasets (``janusfit.data``), likelihoods (``janusfit.likelihood``), checkpointed
samplers (``janusfit.sampling``), diagnostics and resource estimates.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("janusfit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
