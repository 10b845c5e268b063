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
from .formatting import UNITS, decimals
from .imports import import_corner

EMCEE_COLOUR = "C0"
DYNESTY_COLOUR = "C3"
# A trace is drawn at most this many points per walker: a figure is about a
# thousand pixels wide, so more points add file size and time, not detail.
MAX_TRACE_POINTS = 2000
# The corner plot: inches per panel and resolution, so that a one-parameter
# plot is about 500 px wide and labels stay readable in the report.
CORNER_PANEL_INCHES = 3.2
CORNER_DPI = 110
QUANTILES = (0.16, 0.5, 0.84)
# The y axes of the Hubble diagrams by kind of data: μ is known up to the
# offset the likelihood marginalises; the residuals are data less a model's fit.
AXIS = {"sn": r"$\mu$ + const [mag]", "hz": r"$H(z)$ [km/s/Mpc]"}
RESIDUAL_AXIS = {"sn": "μ − {model} fit [mag]", "hz": "H − {model} fit [km/s/Mpc]"}
# 2-d contours at 1σ and 2σ of a Gaussian, 1 − exp(−k²/2).
LEVELS = (1.0 - np.exp(-0.5), 1.0 - np.exp(-2.0))


def _labels(names: Sequence[str], labels, units: bool = False) -> list[str]:
    """Labels: a mapping name → label (missing names fall back to the name) or a list.

    With ``units``, a parameter that has one gets it in brackets, as an axis
    label needs ("$H_0$ [km/s/Mpc]"); a title beside a value does not.
    """
    if labels is None:
        text = list(names)
    elif isinstance(labels, Mapping):
        text = [labels.get(n, n) for n in names]
    else:
        text = list(labels)
    if units:
        text = [f"{t} [{UNITS[n][0]}]" if n in UNITS else t for n, t in zip(names, text)]
    return text


def _save(fig: Figure, path) -> None:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=fig.dpi)


def trace_plot(
    chain, names, labels, path, burn_in=None, log_prob=None, tau_history=None, n_over_tau=None, title: str = ""
) -> Figure:
    """One panel per parameter with every walker's trace, one for ln p and one for τ if given.

    ``chain`` is (n_steps, n_walkers, n_params), ``log_prob`` (n_steps,
    n_walkers); a dashed line marks the burn-in. Non-finite ln p (walkers
    started outside the prior) is left out of the panel. Each panel's
    y-range holds the chain after the burn-in (its 0.5–99.5 % range, padded),
    so that walkers starting far out do not squash it. ``tau_history``
    [(N, τ_max), ...] is drawn against N with the line N/``n_over_tau``: the
    chain is long enough once τ_max stays below it.
    """
    chain = np.asarray(chain, dtype=float)
    n_steps, _, n_params = chain.shape
    stride = max(1, -(-n_steps // MAX_TRACE_POINTS))
    steps = np.arange(0, n_steps, stride)
    kept = slice(int(burn_in or 0), None)
    series = [(chain[::stride, :, i], chain[kept, :, i]) for i in range(n_params)]
    ylabels = _labels(names, labels, units=True)
    if log_prob is not None:
        lp = np.asarray(log_prob, dtype=float)
        lp = np.where(np.isfinite(lp), lp, np.nan)
        series.append((lp[::stride], lp[kept]))
        ylabels.append(r"$\ln p$")
    n_panels = len(series) + (tau_history is not None)
    fig = Figure(figsize=(9.0, 1.9 * n_panels + 0.8), dpi=100)
    axes = fig.subplots(n_panels, 1, squeeze=False)[:, 0]
    for ax, (values, after), ylabel in zip(axes, series, ylabels):
        ax.plot(steps, values, color="k", lw=0.4, alpha=0.3)
        ax.set_ylabel(ylabel)
        ax.set_xlim(0, n_steps - 1)
        limits = _central_range(after)
        if limits is not None:
            ax.set_ylim(*limits)
        if burn_in:
            ax.axvline(burn_in, color="C3", ls="--", lw=1.0)
    axes[len(series) - 1].set_xlabel("step")
    if tau_history is not None:
        _tau_panel(axes[-1], tau_history, n_over_tau, n_steps)
    heading = f"{title}: emcee" if title else "emcee"
    if burn_in:
        heading += f"; burn-in {int(burn_in)} steps (dashed), y-ranges from the steps after it"
    fig.suptitle(heading, fontsize="medium")
    fig.tight_layout()
    _save(fig, path)
    return fig


def _central_range(values):
    """(low, high) holding the 0.5–99.5 % range of ``values`` padded by 15 %; None if nothing is finite."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    lo, hi = np.percentile(values, [0.5, 99.5])
    pad = 0.15 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 1e-3
    return lo - pad, hi + pad


def _tau_panel(ax, tau_history, n_over_tau, n_steps) -> None:
    """τ_max at each check of the stopping rule against the number of steps N, with the line N/n_over_tau."""
    if len(tau_history):
        n, tau = np.asarray(tau_history, dtype=float).T
        ax.plot(n, tau, "o-", color="C0", ms=3, label=r"$\tau_{\max}$ at each check")
    grid = np.linspace(0, n_steps, 50)
    if n_over_tau:
        ax.plot(grid, grid / n_over_tau, "--", color="C3", label=f"N/{n_over_tau:g}")
    ax.set_xlim(0, n_steps)
    ax.set_xlabel("step N")
    ax.set_ylabel(r"$\tau$ [steps]")
    ax.legend(loc="upper left", fontsize="small")


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


def corner_plot(
    emcee_samples, dynesty_samples, dynesty_weights, names, labels, path, truths=None, title: str = ""
) -> Figure:
    """emcee's and dynesty's posteriors overlaid on one corner plot.

    ``emcee_samples`` (n, n_params) are equally weighted; ``dynesty_samples``
    carry ``dynesty_weights`` (any normalisation). Either set may be None.
    Histograms are densities, so the two agree when the posteriors do; both
    share one plotting range, the union of the two. ``truths`` is a mapping
    name → value or a list aligned with ``names``. The diagonal marks the
    16, 50 and 84 % quantiles of each set, and is titled with the first set's
    median and 68 % interval; ``title`` (the run) heads the figure, with the
    samplers drawn.
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

    side = CORNER_PANEL_INCHES * ndim + 1.6
    fig = Figure(figsize=(side, side + 0.4), dpi=CORNER_DPI)
    axes = np.array(fig.subplots(ndim, ndim, squeeze=False))
    peaks = np.zeros(ndim)
    corner = import_corner()
    for k, (_, x, w, colour) in enumerate(sets):
        corner.corner(
            x,
            weights=w,
            fig=fig,
            range=span,
            labels=_labels(names, labels, units=True),
            titles=_labels(names, labels),
            color=colour,
            bins=30,
            smooth=1.0,
            levels=LEVELS,
            plot_datapoints=False,
            plot_density=False,
            hist_kwargs={"density": True},
            quantiles=QUANTILES,
            show_titles=False,
        )
        if k == 0:
            _titles(axes, x, w, _labels(names, labels))
        # corner rescales each diagonal panel to the set drawn last.
        peaks = np.maximum(peaks, [ax.get_ylim()[1] for ax in axes.diagonal()])
    for ax, top in zip(axes.diagonal(), peaks):
        ax.set_ylim(0.0, top)
    if truths is not None:
        _mark_truths(axes, truths)
    handles = [Line2D([], [], color=c, label=name) for name, _, _, c in sets]
    if ndim == 1:
        axes[0, 0].legend(handles=handles, loc="best", frameon=False)
    else:
        axes[0, -1].legend(handles=handles, loc="upper right", frameon=False)  # an empty panel
    samplers = " and ".join(name for name, *_ in sets)
    fig.suptitle(f"{title}: {samplers}" if title else samplers, fontsize="large")
    fig.subplots_adjust(top=1.0 - 0.9 / (side + 0.4), bottom=1.0 / side, left=1.1 / side, right=1.0 - 0.3 / side)
    _save(fig, path)
    return fig


def _titles(axes, samples, weights, labels) -> None:
    """Each diagonal panel titled with the first set's median and 68 % interval, to two significant digits of
    that parameter's own half-width (corner's titles take one format for all: H0 got Ωm's eight decimals)."""
    corner = import_corner()
    for ax, x, label in zip(axes.diagonal(), samples.T, labels):
        q16, q50, q84 = corner.quantile(x, [0.16, 0.5, 0.84], weights=weights)
        d = decimals((q84 - q16) / 2)
        ax.set_title(f"{label} = ${{{q50:.{d}f}}}_{{-{q50 - q16:.{d}f}}}^{{+{q84 - q50:.{d}f}}}$", fontsize="medium")


def hubble_diagram_plot(datasets, path) -> None:
    """One panel per dataset: the data with their (diagonal) errors against redshift (light curves: m_B and dm_B)."""
    fig = Figure(figsize=(6.5, 3.2 * len(datasets)))
    FigureCanvasAgg(fig)
    for i, d in enumerate(datasets):
        ax = fig.add_subplot(len(datasets), 1, i + 1)
        err = np.sqrt(np.diag(d.cov)) if d.has_full_cov else d.sigma
        ax.errorbar(d.z, d.values, yerr=err, fmt=".", ms=3, lw=0.6, alpha=0.7)
        ax.set_xscale("log")
        ax.set_xlabel("redshift z")
        if d.light_curves is not None:
            # Standardising needs α and β, which only the fit gives: hubble.png shows the standardised μ.
            ax.set_ylabel(r"$m_B$ [mag] as read ($\alpha$, $\beta$ not applied)")
        else:
            ax.set_ylabel(AXIS[d.kind])
        errors = "full covariance" if d.has_full_cov else "diagonal errors"
        ax.set_title(f"{d.name}: {d.n} points, {errors}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def hubble_fit_plot(curves: Mapping[str, list], limits: Mapping[str, dict | None], path, title: str) -> Figure:
    """The data with each model's best fit and 68 % band, and a residual panel, per dataset of a run.

    ``curves`` maps a model to ``diagnostics.curves.model_curves`` (one entry
    per dataset); residuals are taken from the first model's best fit.
    ``limits`` maps a model to where it stops existing
    (``diagnostics.curves.redshift_limits``): marked on the plot when it lies
    within 1.5 times the data's largest redshift, else stated in the legend.
    """
    models = list(curves)
    reference = models[0]
    n_members = len(curves[reference])
    fig = Figure(figsize=(8.0, 5.2 * n_members), dpi=100)
    # One block per dataset, each its diagram over its residuals; the gap
    # between blocks holds the residual panel's tick labels and the next title.
    outer = fig.add_gridspec(n_members, 1, hspace=0.16)
    for j in range(n_members):
        ref = curves[reference][j]
        pair = outer[j].subgridspec(2, 1, height_ratios=[3, 1.4], hspace=0.08)
        ax = fig.add_subplot(pair[0])
        res = fig.add_subplot(pair[1], sharex=ax)
        ax.errorbar(
            ref["z"],
            ref["values"],
            yerr=ref["errors"],
            fmt=".",
            ms=3,
            lw=0.6,
            color="0.35",
            alpha=0.7,
            label=f"{ref['name']} ({len(ref['z'])} points)",
        )
        res.errorbar(
            ref["z"],
            ref["values"] - ref["best_at_data"],
            yerr=ref["errors"],
            fmt=".",
            ms=3,
            lw=0.6,
            color="0.35",
            alpha=0.7,
        )
        for k, model in enumerate(models):
            c = curves[model][j]
            colour = f"C{k}"
            ax.plot(c["grid"], c["best"], color=colour, lw=1.4, label=f"{model}: best fit and 68 % band")
            ax.fill_between(c["grid"], c["lo"], c["hi"], color=colour, alpha=0.25, lw=0)
            res.plot(c["grid"], c["best"] - ref["best"], color=colour, lw=1.4)
            res.fill_between(c["grid"], c["lo"] - ref["best"], c["hi"] - ref["best"], color=colour, alpha=0.25, lw=0)
        z_top = float(np.max(ref["z"]))
        for k, model in enumerate(models):
            _mark_limit(ax, res, model, limits.get(model), z_top, f"C{k}")
        ax.set_xscale("log")
        ax.set_ylabel(AXIS[ref["kind"]])
        res.set_ylabel(RESIDUAL_AXIS[ref["kind"]].format(model=reference))
        res.axhline(0.0, color=f"C{models.index(reference)}", lw=0.8)
        res.set_xlabel("redshift z")
        ax.tick_params(labelbottom=False)
        # μ and H both rise with z, so the upper left is where no data are.
        ax.legend(loc="upper left", fontsize="small")
        ax.set_title(f"{title}: {ref['name']}" if n_members > 1 else title, fontsize="medium")
    fig.subplots_adjust(left=0.12, right=0.97, top=1.0 - 0.5 / fig.get_figheight(), bottom=0.5 / fig.get_figheight())
    _save(fig, path)
    return fig


def _mark_limit(ax, res, model: str, limit: dict | None, z_top: float, colour: str) -> None:
    """The redshift where ``model`` stops existing: a line (best fit) and shading (2.5 % of draws) if near the data."""
    if limit is None:
        return
    text = f"{model} exists up to {_redshift(limit['best'])} at its best fit"
    if limit["q025"] > 1.5 * z_top:
        ax.plot([], [], " ", label=f"{text},\nfor 97.5 % of its posterior up to {_redshift(limit['q025'])} or more")
        return
    for axis in (ax, res):
        axis.axvspan(limit["q025"], 1.5 * z_top, color=colour, alpha=0.08, lw=0)
        if limit["best"] <= 1.5 * z_top:
            axis.axvline(limit["best"], color=colour, ls=":", lw=1.2)
    ax.plot([], [], ls=":", color=colour, label=f"{text} (dotted;\nshaded: beyond it for 2.5 % of its posterior)")


def _redshift(z: float) -> str:
    """A redshift limit for a legend ("z = 3.2"); beyond 1000 (a model's limit at q0 ≈ 0) only its order matters."""
    return f"z = {z:.3g}" if z < 1000 else "z > 1000"


def memory_plot(record: dict, path, *, title: str, peak_mb: float) -> Figure:
    """A sampling job's resident memory against time (its ``memory.json``), with its estimate and the machine's memory.

    ``peak_mb`` is the job's peak as ``summary.json`` and the report give it: the sampled peak, or the kernel's
    high-water mark where a spike fell between two samples, drawn then as a line of its own.
    """
    series = np.asarray(record["series"], dtype=float).reshape(-1, 2)
    sampled, high_water = record["peak_rss_mb"], record["process_maxrss_mb"]
    estimate, machine = record["estimate_mb"], record["machine_mb"]
    fig = Figure(figsize=(8, 4.5), dpi=120)
    ax = fig.add_subplot()
    ax.plot(
        series[:, 0],
        series[:, 1],
        color="C0",
        label=f"RSS sampled every {record['interval_s']:g} s (highest {sampled:.0f} MB)",
    )
    if round(high_water) > round(sampled):
        ax.axhline(high_water, color="C2", ls="-.", label=f"high-water mark of the job process {high_water:.0f} MB")
    ax.axhline(estimate, color="C1", ls="--", label=f"estimate {estimate:.0f} MB")
    job_mb = max(estimate, peak_mb)
    # A machine far above the job would flatten the curve against zero:
    # then the axis stops above the job and the legend gives the machine's size.
    top = 1.05 * max(machine, job_mb) if machine <= 3 * job_mb else 1.25 * job_mb
    ax.axhline(
        machine,
        color="C3",
        ls=":",
        label=f"machine memory {machine:.0f} MB" + ("" if machine <= top else " (above the plot)"),
    )
    ax.set_xlabel("time since start [s]")
    ax.set_ylabel("resident memory [MB]")
    ax.set_ylim(0, top)
    ax.legend(loc="best")
    ax.set_title(
        f"{title}: peak {peak_mb:.0f} MB of {estimate:.0f} MB estimated, {record['duration_s'] / 60:.1f} min",
        fontsize="medium",
    )
    _save(fig, path)
    return fig
