"""The report's pages built from the results (the Overview and the Provenance) and its Hubble diagram."""

from __future__ import annotations

from ..atomic import atomic_write_bytes
from ..reporting.overview import landing_html, overview_html
from ..reporting.provenance import provenance_html
from ..result_files import read_result


def overview_page(*, summary_paths, convergence_paths, comparison_paths: dict, meta, out_html, out_landing) -> str:
    """The Overview page (``overview.html``) and its summary for the landing page, from the workflow's files.

    ``convergence_paths`` are aligned with ``summary_paths`` (or empty, without
    emcee); ``comparison_paths`` maps a dataset to its ``comparison.json``.
    """
    summaries = [read_result(p) for p in summary_paths]
    convergences = {(s["dataset"], s["model"]): read_result(p) for s, p in zip(summaries, convergence_paths)}
    comparisons = {dataset: read_result(p) for dataset, p in comparison_paths.items()}
    page = overview_html(summaries, comparisons, convergences, meta)
    atomic_write_bytes(out_html, page.encode())
    atomic_write_bytes(out_landing, landing_html(summaries, comparisons).encode())
    return page


def provenance_page(*, config: dict, summary_paths, data_paths, package_versions: dict, out_html) -> str:
    """The Provenance page (``provenance.html``): config as run, fingerprints, data files, versions."""
    page = provenance_html(
        config, [read_result(p) for p in summary_paths], [read_result(p) for p in data_paths], package_versions
    )
    atomic_write_bytes(out_html, page.encode())
    return page


# The files of one model's run the Hubble diagram reads: its summary, and emcee's or dynesty's draws.
HUBBLE_FILES = ("summary", "chain", "convergence", "samples")


def hubble_figure(*, config: dict, dataset: str, runs: dict, out_png) -> None:
    """The Hubble diagram (or H(z)) of ``dataset`` with each model's best fit, 68 % band and residuals.

    ``runs`` maps each model to its ``summary`` file and its draws: emcee's
    ``chain`` and ``convergence`` (the draws after the burn-in), or, without
    emcee, dynesty's ``samples``, drawn in proportion to their weights. The
    band is drawn from those draws, the curve at summary.json's best fit.
    """
    # The model, its likelihood and matplotlib only in the job that draws: the
    # overview job, which imports this module for its pages, reads JSON only.
    from ..diagnostics.curves import model_curves, redshift_limits
    from ..plots import hubble_fit_plot
    from ..run import load_run
    from ..sampling.dynesty_samples import equal_weight_draws
    from .diagnose import posterior_samples

    curves, limits = {}, {}
    for model, files in runs.items():
        _, posterior = load_run(config, dataset, model)
        if "chain" in files:
            draws = posterior_samples(files["chain"], files["convergence"])
        else:
            draws = equal_weight_draws(files["samples"])
        best = read_result(files["summary"])["best_fit"]
        curves[model] = model_curves(posterior, best, draws)
        limits[model] = redshift_limits(posterior, best, draws)
    hubble_fit_plot(curves, limits, out_png, title=f"{dataset}: each model's best fit and 68 % band")
