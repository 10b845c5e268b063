"""The live progress figure of an emcee run (imported only when a figure is drawn).

Four panels: every walker's trace of each parameter and of ln p (from the
bounded thinned copy), the stopping rule's τ_max against the number of steps
N with the line N/50 (the chain is long enough once τ_max falls below it, as in
emcee's documentation), and the acceptance fraction of each checkpoint
segment. Built on the Agg canvas directly, so the process's pyplot state is
not touched.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_WALKERS_DRAWN = 64  # more lines than this only darken the panel
MAX_POINTS = 300  # per walker and panel: a trace needs no more to show mixing and drift
MIN_ROWS_FOR_LIMITS = 20


def _robust_limits(values: np.ndarray):
    """y-limits holding the later half of the run (its 0.5–99.5 % range, padded), so the first steps
    far from the posterior do not squash the panel; None when there is too little to go by."""
    later = values[len(values) // 2 :]
    later = later[np.isfinite(later)]
    if len(values) < MIN_ROWS_FOR_LIMITS or later.size == 0:
        return None
    lo, hi = np.percentile(later, [0.5, 99.5])
    pad = 0.15 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 1e-3
    return lo - pad, hi + pad


def progress_figure(steps, chain, log_prob, labels, tau_history, acceptance, n_over_tau: float, title: str) -> Figure:
    """``steps`` (n,), ``chain`` (n, walkers, params), ``log_prob`` (n, walkers); histories as (step, value) pairs."""
    n_params = chain.shape[2]
    walkers = slice(None, MAX_WALKERS_DRAWN)
    fig = Figure(figsize=(9.0, 2.0 * (n_params + 3)), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_params + 3, 1, squeeze=False)[:, 0]
    finite_lp = np.where(np.isfinite(log_prob), log_prob, np.nan)
    series = [chain[:, walkers, i] for i in range(n_params)] + [finite_lp[:, walkers]]
    for ax, values, label in zip(axes, series, [*labels, r"$\ln p$"]):
        ax.plot(*_one_path(steps, values), color="k", lw=0.4, alpha=0.3, antialiased=False)
        ax.set_ylabel(label)
        ax.set_xlabel("step")
        limits = _robust_limits(values)
        if limits is not None:
            ax.set_ylim(*limits)
    ax_tau, ax_acc = axes[-2], axes[-1]
    if tau_history:
        n, tau = np.asarray(tau_history, dtype=float).T
        ax_tau.plot(n, tau, "o-", color="C0", ms=3, label=r"$\tau_{\max}$")
        ax_tau.plot(n, n / n_over_tau, "--", color="C3", label=f"N/{n_over_tau:g}")
        ax_tau.legend(loc="upper left", fontsize="small")
    else:
        ax_tau.text(0.5, 0.5, "no τ estimate yet", transform=ax_tau.transAxes, ha="center", va="center")
    ax_tau.set_xlabel("step N")
    ax_tau.set_ylabel(r"$\tau$ [steps]")
    if acceptance:
        at, frac = np.asarray(acceptance, dtype=float).T
        ax_acc.plot(at, frac, "o-", color="C2", ms=3)
    ax_acc.set_ylim(0.0, 1.0)
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("acceptance")
    fig.suptitle(title, fontsize="medium")
    # Fixed margins: tight_layout measures every label and costs more than the drawing.
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.5 / height, top=1.0 - 0.45 / height, hspace=0.55)
    return fig


def _one_path(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every walker's trace as one line broken by NaN: one path to draw instead of one per walker."""
    stride = max(1, -(-len(steps) // MAX_POINTS))
    steps, values = steps[::stride], values[::stride]
    n, walkers = values.shape
    x = np.empty((walkers, n + 1))
    y = np.empty((walkers, n + 1))
    x[:, :n], y[:, :n] = steps, values.T
    x[:, n] = y[:, n] = np.nan
    return x.ravel(), y.ravel()
