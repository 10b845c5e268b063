"""The exports of one finished run, from the files the workflow left in its directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import atomic_write_json
from ..errors import JanusfitError
from ..layout import CONVERGENCE, DYNESTY_SAMPLES, EMCEE_CHAIN, EXPORT, SUMMARY
from ..result_files import read_result
from ..sampling.dynesty_samples import read_weighted
from .draws import in_chain_order, read_emcee
from .getdist_text import write_root
from .inference_data import write_posterior_nc

MANIFEST = "export.json"
# The files an export writes (GetDist roots' files, posterior.nc, the manifest), and only those.
OWN_FILE = re.compile(rf"(emcee|dynesty)\.(\d+\.txt|paramnames|ranges)|posterior\.nc|{re.escape(MANIFEST)}")
CONVERGENCE_VALUES = ("tau", "n_over_tau", "rhat", "ess_bulk", "ess_tail")


class ExportError(JanusfitError):
    """A run's files cannot be exported; the message names the file."""


def read_json(path) -> dict:
    """A run's JSON file; a missing one means the run is not finished, a damaged one is named by read_result."""
    try:
        return read_result(path)
    except FileNotFoundError:
        raise ExportError(f"'{path}' is missing: the run is not finished (rerun the workflow first)") from None


def export_run(run_dir, out_dir=None) -> list[Path]:
    """Write GetDist roots ``emcee`` and ``dynesty``, ``posterior.nc`` and ``export.json`` for the run in ``run_dir``.

    Reads ``summary.json`` (parameter names, LaTeX labels, priors, which
    samplers ran), ``convergence.json`` (burn-in, walker groups), the emcee
    chain and dynesty's samples. ``out_dir`` defaults to ``run_dir/export``.
    Returns the files written.
    """
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / EXPORT
    summary = read_json(run_dir / SUMMARY)
    if "priors" not in summary:
        raise ExportError(
            f"'{run_dir / SUMMARY}' has no 'priors' (it was written by an older janusfit); "
            "remake it with 'snakemake --forcerun summary', then export again"
        )
    names = list(summary["param_names"])
    labels, priors = summary.get("labels", {}), summary["priors"]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    manifest = {
        "dataset": summary["dataset"],
        "model": summary["model"],
        "fingerprint": summary.get("fingerprint"),
        "janusfit_version": __version__,
        "parameters": names,
    }
    if "emcee" in summary:
        conv = read_json(run_dir / CONVERGENCE)
        draws = read_emcee(run_dir / EMCEE_CHAIN, int(conv["burn_in"]), int(conv["n_groups"]))
        chains = [
            (np.ones(draws.chain.shape[0] * len(g)), -in_chain_order(draws.log_prob, g), in_chain_order(draws.chain, g))
            for g in draws.groups
        ]
        written += write_root(out / "emcee", chains, names, labels, priors)
        nc = out / "posterior.nc"
        n_chains = write_posterior_nc(nc, draws, names, _nc_attrs(summary, conv, draws))
        written.append(nc)
        manifest["emcee"] = {
            "getdist_root": "emcee",
            "chains": len(chains),
            "posterior_nc": nc.name,
            "posterior_nc_chains": n_chains,
            "burn_in": draws.burn_in,
            "thin": draws.thin,
            "draws": int(draws.log_prob.size),
            "converged": bool(summary["emcee"]["converged"]),
        }
    if "dynesty" in summary:
        samples, weights, logl = read_weighted(run_dir / DYNESTY_SAMPLES)
        written += write_root(out / "dynesty", [(weights, -logl, samples)], names, labels, priors)
        manifest["dynesty"] = {
            "getdist_root": "dynesty",
            "samples": int(len(weights)),
            "complete": bool(summary["dynesty"].get("complete", True)),
        }
    atomic_write_json(out / MANIFEST, manifest)
    written.append(out / MANIFEST)
    # An earlier export into the same directory may have written more chain
    # files (more walker groups) or a sampler's root this run no longer has:
    # GetDist reads every <root>.<i>.txt as a chain of the root.
    for stale in {p for p in out.iterdir() if OWN_FILE.fullmatch(p.name)} - set(written):
        stale.unlink()
    return written


def _nc_attrs(summary: dict, conv: dict, draws) -> dict:
    """The run, its fingerprint and its convergence results, as InferenceData attributes.

    Fields are read with ``get``: a field another version adds or drops
    changes what is listed, never whether the export works.
    """
    emcee = summary.get("emcee", {})
    attrs = {
        "dataset": summary["dataset"],
        "model": summary["model"],
        "fingerprint": summary.get("fingerprint"),
        "janusfit_version": summary.get("janusfit_version"),
        "n_walkers": emcee.get("n_walkers"),
        "n_steps": emcee.get("n_steps"),
        "burn_in": draws.burn_in,
        "burn_in_rule": conv.get("burn_in_rule"),
        "thin": draws.thin,
        "n_groups": conv.get("n_groups"),
        "converged": emcee.get("converged"),
        "convergence_passed": conv.get("passed"),
        "convergence_failures": "; ".join(conv.get("failures") or []),
        "acceptance_mean": (conv.get("acceptance") or {}).get("mean"),
        "convergence_json": json.dumps(conv),
    }
    for name, values in (conv.get("parameters") or {}).items():
        for key in CONVERGENCE_VALUES:
            if key in values:
                attrs[f"{key}_{name}"] = values[key]
    return {k: v for k, v in attrs.items() if v is not None}
