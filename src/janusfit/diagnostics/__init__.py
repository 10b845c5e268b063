"""Checks on finished runs: sampler convergence and Bayes-factor model comparison."""

from .compare import compare_models, kass_raftery_label, write_comparison
from .convergence import autocorr_time, diagnose, ess_bulk, ess_tail, group_walkers, split_rhat

__all__ = [
    "autocorr_time",
    "compare_models",
    "diagnose",
    "ess_bulk",
    "ess_tail",
    "group_walkers",
    "kass_raftery_label",
    "split_rhat",
    "write_comparison",
]
