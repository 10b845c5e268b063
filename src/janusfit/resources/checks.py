"""Checks a run makes before its samplers start.

Each failure found here would otherwise surface hours later: a NaN deep in a
chain, a disk that fills at the final write, a kill by the OOM killer. All
checks run (one report lists every problem), each recorded as
``{name, passed, detail}``; ``raise_if_failed`` turns the failures into one
error whose message says what to change.
"""

from __future__ import annotations

import csv
import math
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, atomic_write_json
from ..errors import ConfigError, LikelihoodError, ResourceError
from ..sampling.domain import require_domain_overlap
from ..settings import minimum_walkers

# Segments stay on disk beside the assembled HDF5 chain, so a run needs its
# chain twice, plus checksums, zip and HDF5 headers, and the other outputs.
DISK_COPIES = 2.2
DISK_FIXED_BYTES = 50_000_000
# dynesty keeps two pickled generations and writes a third before deleting the
# oldest. Each pickle holds the posterior (data and Cholesky factor) and the
# run so far: 214 B per point measured with one parameter, plus the samples.
DYNESTY_PICKLES = 3
DYNESTY_POINT_BYTES = 250
# Prior draws the likelihood is checked at, besides the prior's centre. A
# likelihood whose batches last microseconds takes 1024, so that a region of
# the prior where the model gives no number (0.5 % of it: a chance of 99 %)
# stops the run here, not a sampler hours in; one whose rows are heavy (JLA's
# light curves factor a 740 × 740 C(α, β) each, ~10 ms) takes 32.
LIKELIHOOD_DRAWS = {"light": 1024, "heavy": 32}
# E = H/H0 costs microseconds per point, so its check takes far more prior
# draws than the heavy likelihood's, on a grid from today to the deepest datum.
EXPANSION_DRAWS = 1024
EXPANSION_NODES = 256
E0_TOLERANCE = 1e-6  # |E(0) − 1|: the shipped models give 1 to rounding (their densities sum to 1)
# What to do about a prior that reaches where the model gives no number.
NARROW_THE_PRIOR = (
    "narrow it to where the model is defined (a model of your own may declare its domain instead: "
    "README, 'Adding a model')"
)
# What to lower when a sampler's estimate does not fit.
MEMORY_SETTINGS = {"emcee": "emcee.n_walkers, emcee.checkpoint.steps or emcee.max_steps", "dynesty": "dynesty.nlive"}


def chain_disk_bytes(n_walkers: int, n_steps: int, n_params: int) -> int:
    """Disk an emcee run needs: float64 chain and log-probabilities, as segments and as HDF5."""
    return math.ceil(DISK_COPIES * n_walkers * n_steps * (n_params + 1) * 8 + DISK_FIXED_BYTES)


def dynesty_disk_bytes(points: int, n_params: int, posterior_bytes: int) -> int:
    """Disk a dynesty run needs: its checkpoint pickles (``posterior_bytes`` each, plus the points) and samples.h5."""
    per_point = DYNESTY_POINT_BYTES + 3 * n_params * 8
    return math.ceil(
        DYNESTY_PICKLES * (posterior_bytes + points * per_point) + points * (n_params + 3) * 8 + DISK_FIXED_BYTES
    )


def _check(name: str, passed: bool, detail: str, key: str | None = None) -> dict:
    """One check's record; ``key`` is the config key to change when it fails."""
    return {"name": name, "passed": bool(passed), "detail": detail, **({"key": key} if key else {})}


def _point(posterior, theta) -> str:
    return ", ".join(f"{n}={v:.6g}" for n, v in zip(posterior.param_names, theta))


def _log_likelihoods(posterior, theta: np.ndarray) -> tuple[list[str], int, int]:
    """(problems, finite count, count of −inf outside the model's domain) of a batch."""
    try:
        logl = np.asarray(posterior.log_likelihood(theta), dtype=float)
    except Exception as exc:  # a NaN (LikelihoodError) or a model that fails outright
        problems = [f"{type(exc).__name__}: {exc}"]
        # Point by point, to tell a prior that reaches where the model gives
        # no number (some points finite) from data or a model giving none.
        n_finite = sum(_finite_alone(posterior, t) for t in theta) if len(theta) > 1 else 0
        return problems, n_finite, 0
    in_domain = posterior.model.in_domain(theta[:, : len(posterior.model.params)], posterior.z_max)
    problems = []
    for value, ok, t in zip(logl, in_domain, theta):
        if np.isnan(value) or value == np.inf:
            problems.append(f"ln L = {value} at {_point(posterior, t)}")
        elif value == -np.inf and ok:
            problems.append(f"ln L = -inf inside the model's domain at {_point(posterior, t)}")
    n_finite = int(np.sum(np.isfinite(logl)))
    n_outside = int(np.sum((logl == -np.inf) & ~in_domain))
    return problems, n_finite, n_outside


def _finite_alone(posterior, theta: np.ndarray) -> bool:
    try:
        return bool(np.isfinite(posterior.log_likelihood(theta[None, :])[0]))
    except Exception:  # noqa: BLE001 - the batch's error is the one reported
        return False


def _likelihood_checks(posterior, rng_seed: int, n_draws: int) -> list[dict]:
    centre = posterior.prior_centre()[None, :]
    problems, centre_finite, _ = _log_likelihoods(posterior, centre)
    if problems:
        centre_check = _check("log_likelihood_at_prior_centre", False, "; ".join(problems))
    elif centre_finite:
        centre_check = _check("log_likelihood_at_prior_centre", True, f"finite at {_point(posterior, centre[0])}")
    else:
        centre_check = _check(
            "log_likelihood_at_prior_centre",
            True,
            f"-inf at {_point(posterior, centre[0])}, which is outside the model's domain",
        )

    rng = np.random.default_rng(rng_seed)
    lo, hi = posterior.bounds[:, 0], posterior.bounds[:, 1]
    draws = lo + rng.random((n_draws, len(lo))) * (hi - lo)
    problems, n_finite, n_outside = _log_likelihoods(posterior, draws)
    if problems and (n_finite or centre_finite):
        model = posterior.model.name
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        draws_check = _check(
            "log_likelihood_at_prior_draws",
            False,
            f"{shown}. The prior ({prior_text(posterior)}) reaches where model '{model}' gives no number while "
            f"{n_finite + centre_finite} of {n_draws + 1} points give one: {NARROW_THE_PRIOR}",
            key=f"priors.{model}",
        )
    elif problems:
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        draws_check = _check("log_likelihood_at_prior_draws", False, shown)
    elif n_finite == 0 and not centre_finite:
        # No draw landed in the domain: the samplers' own test (corners and
        # 4096 draws) decides whether the prior misses it altogether.
        try:
            require_domain_overlap(posterior)
        except ConfigError as exc:
            draws_check = _check("log_likelihood_at_prior_draws", False, exc.problem, key=exc.key)
        else:
            draws_check = _check(
                "log_likelihood_at_prior_draws",
                True,
                f"all {n_draws} draws outside the model's domain (-inf); the prior "
                f"({prior_text(posterior)}) overlaps the domain only near its edges",
            )
    else:
        draws_check = _check(
            "log_likelihood_at_prior_draws",
            True,
            f"{n_finite} of {n_draws} draws finite, {n_outside} outside the model's domain (-inf)",
        )
    return [centre_check, draws_check, _expansion_check(posterior, rng_seed)]


def _expansion_check(posterior, rng_seed: int) -> dict:
    """E(0) = 1, and E(z) = H/H0 > 0 from today to the deepest datum, wherever the model exists in the prior.

    H0 is today's expansion rate, so E(0) = 1 for every parameter value. A
    model of one's own that is not normalised (E² = Ωm(1 + z)³ + 1, its
    −Ωm forgotten) gives finite, wrong distances and H(z) with no other sign;
    a shipped model loses it only where its terms cancel beyond double
    precision (Ωm = 1e29: Ωm + 1 − Ωm = 0), which the check below read as a
    universe that stops expanding. A model whose E reaches zero is not
    expanding there, yet its likelihood stays finite: the distances integrate
    1/E across the pole and H(z) comes out negative, so no NaN ever stops
    the run (an audit's E = 1 + a z).
    """
    model = posterior.model
    n = len(model.params)
    lo, hi = posterior.bounds[:n, 0], posterior.bounds[:n, 1]
    draws = lo + np.random.default_rng([rng_seed, 1]).random((EXPANSION_DRAWS, n)) * (hi - lo)
    theta = np.vstack([posterior.prior_centre()[None, :n], draws])
    theta = theta[model.in_domain(theta, posterior.z_max)]
    z = np.linspace(0.0, posterior.z_max, EXPANSION_NODES)
    try:
        with np.errstate(all="ignore"):
            e = model.E(theta, z) if len(theta) else np.ones((0, z.size))
    except Exception as exc:  # a model that fails outright, as the likelihood checks report it
        return _check("expansion_rate", False, f"{type(exc).__name__}: {exc}")
    # z[0] = 0. NaN is the likelihood checks' to name.
    unnormalised = np.isfinite(e[:, 0]) & (np.abs(e[:, 0] - 1.0) > E0_TOLERANCE)
    if unnormalised.any():
        row = int(np.argmax(unnormalised))
        return _check(
            "expansion_rate",
            False,
            f"E(0) = H(0)/H0 is {e[row, 0]:.6g}, not 1, for {_point(posterior, theta[row])} "
            f"({int(unnormalised.sum())} of {len(theta)} points of the prior): H0 is today's expansion rate, so "
            f"E(0) = 1 for every parameter value, and model '{model.name}' gives distances and H(z) in error "
            "there. Where the prior reaches values so large that the model's terms cancel beyond double "
            "precision, narrow the prior; a model of your own must give E(0) = 1 (README, 'Adding a model')",
            key=f"priors.{model.name}",
        )
    bad = np.isfinite(e) & (e <= 0)
    if not bad.any():
        return _check(
            "expansion_rate",
            True,
            f"E(z) > 0 for 0 <= z <= {posterior.z_max:g} at {len(theta)} points of the prior in the model's domain",
        )
    row, col = (int(i) for i in np.argwhere(bad)[0])
    return _check(
        "expansion_rate",
        False,
        f"E(z) = H(z)/H0 is {e[row, col]:.3g} at z = {z[col]:.3g} for {_point(posterior, theta[row])} "
        f"({int(bad.any(axis=1).sum())} of {len(theta)} points of the prior): model '{model.name}' stops "
        f"expanding before the deepest datum (z = {posterior.z_max:g}), where its distances integrate 1/E across "
        "a pole and H(z) is negative, with a finite likelihood. Narrow the prior, or declare where the model "
        "exists (in_domain or domain_bounds: README, 'Adding a model')",
        key=f"priors.{model.name}",
    )


def prior_text(posterior) -> str:
    """The prior box as the messages give it: "Om in [0.01, 1]"."""
    return ", ".join(f"{n} in [{lo:g}, {hi:g}]" for n, (lo, hi) in zip(posterior.param_names, posterior.bounds))


@contextmanager
def nan_names_the_prior(posterior, *, during: str):
    """A NaN log-likelihood met after the checks passed (``during``: "sampling"), named as the prior's.

    The checks found the likelihood finite at the prior's centre and its
    draws, and the data passed validation, so the NaN is of a region of the
    prior those points missed (a model of one's own). The job stopped there
    with the point alone: no config key, nothing said what to change.
    """
    try:
        yield
    except LikelihoodError as exc:
        model = posterior.model.name
        raise ConfigError(
            f"priors.{model}",
            f"{exc}, met while {during}. The prior ({prior_text(posterior)}) reaches where model '{model}' gives "
            f"no number, in a region the pre-flight checks missed: {NARROW_THE_PRIOR}",
        ) from None


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _writable(out_dir: Path) -> tuple[bool, str]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".preflight."):
            pass
    except OSError as exc:
        return False, f"cannot write in '{out_dir}': {exc.strerror or exc}"
    return True, f"'{out_dir}' is writable"


def _memory_check(estimates_mb: dict, available_mb: float, source: str) -> dict:
    over = [s for s, mb in estimates_mb.items() if mb > available_mb]
    detail = (
        ", ".join(f"{s} {math.ceil(mb)} MB" for s, mb in estimates_mb.items())
        + f" estimated at the peak; {source} allows {math.floor(available_mb)} MB"
    )
    if over:
        detail += (
            "; lower "
            + ", or ".join(f"{MEMORY_SETTINGS[s]} ({s})" for s in over)
            + ", or allow more memory (Snakemake's --resources mem_mb, or a larger machine)"
        )
    return _check("memory", not over, detail)


def run_checks(
    posterior,
    *,
    n_walkers: int | None,
    estimates_mb: dict,
    available_mb: float,
    disk_needed_bytes: int,
    out_dir,
    n_draws: int,
    memory_source: str = "this machine",
    rng_seed: int = 0,
    data_validated: bool = True,
) -> dict:
    """Run every check; ``n_walkers`` is None when emcee does not run, ``estimates_mb`` is MB per sampler.

    ``n_draws``: the prior draws the likelihood is checked at (:data:`LIKELIHOOD_DRAWS`).
    """
    out_dir = Path(out_dir)
    checks = [
        _check(
            "data_validated",
            data_validated,
            "the datasets passed validation" if data_validated else "the datasets failed validation",
        )
    ]
    checks += _likelihood_checks(posterior, rng_seed, n_draws)
    if n_walkers is not None:
        need = minimum_walkers(posterior.ndim)
        checks.append(
            _check(
                "n_walkers",
                n_walkers >= need,
                f"{n_walkers} walkers for {posterior.ndim} parameters (emcee needs at least {need})",
                key="emcee.n_walkers",
            )
        )
    free = shutil.disk_usage(_existing_ancestor(out_dir)).free
    checks.append(
        _check(
            "disk",
            free >= disk_needed_bytes,
            f"{free / 1e9:.2f} GB free for '{out_dir}', the run needs {disk_needed_bytes / 1e9:.2f} GB"
            + ("" if free >= disk_needed_bytes else "; free space there, or lower emcee.max_steps or emcee.n_walkers"),
        )
    )
    checks.append(_memory_check(estimates_mb, available_mb, memory_source))
    checks.append(_check("out_dir_writable", *_writable(out_dir)))
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def write_preflight(result: dict, json_path, table_path) -> None:
    """The result as JSON, and as a CSV table (check, passed, detail) for the report."""
    atomic_write_json(json_path, result)
    with atomic_path(table_path) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["check", "passed", "detail"])
            for c in result["checks"]:
                writer.writerow([c["name"], "yes" if c["passed"] else "NO", c["detail"]])


def raise_if_failed(result: dict) -> None:
    """One error listing every failed check: a ConfigError naming the first config key to blame, else ResourceError."""
    failed = [c for c in result["checks"] if not c["passed"]]
    if not failed:
        return
    listing = "\n".join(f"  - {c['name']}: {c['detail']}" for c in failed)
    message = f"preflight failed {len(failed)} of {len(result['checks'])} checks:\n{listing}"
    keys = [c["key"] for c in failed if "key" in c]
    if keys:
        raise ConfigError(keys[0], message)
    raise ResourceError(message)
