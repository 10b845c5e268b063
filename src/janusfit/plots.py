"""Trace and corner plots of a run, written atomically as PNG.

Figures are built on matplotlib's Agg canvas directly rather than through
pyplot, so plotting neither depends on nor changes the process's backend and
leaves no figure open behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .atomic import atomic_path
from .imports import import_corner

EMCEE_COLOUR = "C0"
DYNESTY_COLOUR = "C3"
# A trace is drawn at most this many points per walker: a figure is about a
# thousand pixels wide, so more points add file size and time, not detail.
MAX_TRACE_POINTS = 2000
# 2-d contours at 1σ and 2σ of a Gaussian, 1 − exp(−k²/2).
LEVELS = (1.0 - np.exp(-0.5), 1.0 - np.exp(-2.0))


def _labels(names: Sequence[str], labels) -> list[str]:
    """Axis labels: a mapping name → label (missing names fall back to the name) or a list."""
    if labels is None:
        return list(names)
    if isinstance(labels, Mapping):
        return [labels.get(n, n) for n in names]
    return list(labels)


def _save(fig: Figure, path) -> None:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=fig.dpi)


def trace_plot(chain, names, labels, path, burn_in=None, log_prob=None) -> None:
    """One panel per parameter with every walker's trace, and one for ln p if given.

    ``chain`` is (n_steps, n_walkers, n_params), ``log_prob`` (n_steps,
    n_walkers); a dashed line marks the burn-in. Non-finite ln p (walkers
    started outside the prior) is left out of the panel.
    """
    chain = np.asarray(chain, dtype=float)
    n_steps, _, n_params = chain.shape
    stride = max(1, -(-n_steps // MAX_TRACE_POINTS))
    steps = np.arange(0, n_steps, stride)
    series = [chain[::stride, :, i] for i in range(n_params)]
    ylabels = _labels(names, labels)
    if log_prob is not None:
        lp = np.asarray(log_prob, dtype=float)[::stride]
        series.append(np.where(np.isfinite(lp), lp, np.nan))
        ylabels.append(r"$\ln p$")

    fig = Figure(figsize=(8.0, 1.8 * len(series) + 0.6))
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    for ax, values, ylabel in zip(axes, series, ylabels):
        ax.plot(steps, values, color="k", lw=0.4, alpha=0.3)
        ax.set_ylabel(ylabel)
        if burn_in:
            ax.axvline(burn_in, color="C3", ls="--", lw=1.0)
    axes[-1].set_xlabel("step")
    axes[-1].set_xlim(0, n_steps - 1)
    if burn_in:
        axes[0].set_title(f"burn-in: {int(burn_in)} steps (dashed)", fontsize="small")
    fig.tight_layout()
    _save(fig, path)


def _range(samples, weights) -> np.ndarray:
    """Per-parameter (low, high) holding all but 0.1% of each tail of the posterior."""
    return np.array([import_corner().quantile(x, [0.001, 0.999], weights=weights) for x in samples.T])


def _mark_truths(axes: np.ndarray, truths) -> None:
    """Lines at the true values on the lower triangle (corner's own fails for one parameter)."""
    for row in range(len(axes)):
        for col in range(row + 1):
            if truths[col] is not None:
                axes[row, col].axvline(truths[col], color="k", lw=1.0)
            if col < row and truths[row] is not None:
                axes[row, col].axhline(truths[row], color="k", lw=1.0)


def corner_plot(emcee_samples, dynesty_samples, dynesty_weights, names, labels, path, truths=None) -> None:
    """emcee's and dynesty's posteriors overlaid on one corner plot.

    ``emcee_samples`` (n, n_params) are equally weighted; ``dynesty_samples``
    carry ``dynesty_weights`` (any normalisation). Either set may be None.
    Histograms are densities, so the two agree when the posteriors do; both
    share one plotting range, the union of the two. ``truths`` is a mapping
    name → value or a list aligned with ``names``.
    """
    sets = []
    if emcee_samples is not None:
        sets.append(("emcee", np.asarray(emcee_samples, dtype=float), None, EMCEE_COLOUR))
    if dynesty_samples is not None:
        weights = None if dynesty_weights is None else np.asarray(dynesty_weights, dtype=float)
        sets.append(("dynesty", np.asarray(dynesty_samples, dtype=float), weights, DYNESTY_COLOUR))
    if not sets:
        raise ValueError("corner_plot needs emcee samples, dynesty samples, or both")
    sets = [(name, x.reshape(len(x), -1), w, c) for name, x, w, c in sets]
    ndim = len(names)
    if isinstance(truths, Mapping):
        truths = [truths.get(n) for n in names]

    ranges = np.array([_range(x, w) for _, x, w, _ in sets])
    lo, hi = ranges[:, :, 0].min(axis=0), ranges[:, :, 1].max(axis=0)
    pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
    span = list(zip(lo - pad, hi + pad))

    fig = Figure(figsize=(2.2 * ndim + 1.0, 2.2 * ndim + 1.0))
    axes = np.array(fig.subplots(ndim, ndim, squeeze=False))
    peaks = np.zeros(ndim)
    corner = import_corner()
    for _, x, w, colour in sets:
        corner.corner(
            x,
            weights=w,
            fig=fig,
            range=span,
            labels=_labels(names, labels),
            color=colour,
            bins=30,
            smooth=1.0,
            levels=LEVELS,
            plot_datapoints=False,
            plot_density=False,
            hist_kwargs={"density": True},
        )
        # corner rescales each diagonal panel to the set drawn last.
        peaks = np.maximum(peaks, [ax.get_ylim()[1] for ax in axes.diagonal()])
    for ax, top in zip(axes.diagonal(), peaks):
        ax.set_ylim(0.0, top)
    if truths is not None:
        _mark_truths(axes, truths)
    handles = [Line2D([], [], color=c, label=name) for name, _, _, c in sets]
    if ndim == 1:
        axes[0, 0].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    else:
        axes[0, -1].legend(handles=handles, loc="upper right", frameon=False)  # an empty panel
    _save(fig, path)


def hubble_diagram_plot(datasets, path) -> None:
    """One panel per dataset: the data with their (diagonal) errors against redshift."""
    fig = Figure(figsize=(6.5, 3.2 * len(datasets)))
    FigureCanvasAgg(fig)
    for i, d in enumerate(datasets):
        ax = fig.add_subplot(len(datasets), 1, i + 1)
        err = np.sqrt(np.diag(d.cov)) if d.has_full_cov else d.sigma
        ax.errorbar(d.z, d.values, yerr=err, fmt=".", ms=3, lw=0.6, alpha=0.7)
        ax.set_xscale("log")
        ax.set_xlabel("redshift z")
        ax.set_ylabel(r"$\mu$ (+ const)" if d.kind == "sn" else r"$H(z)$ [km/s/Mpc]")
        errors = "full covariance" if d.has_full_cov else "diagonal errors"
        ax.set_title(f"{d.name}: {d.n} points, {errors}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
