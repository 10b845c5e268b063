"""The evidence and posterior moments of a run by adaptive quadrature, exact to quadrature accuracy.

For a run of at most two sampled parameters, ln Z = ln ∫ L(θ) π(θ) dθ with
the same flat prior π = 1/V on the same box, and L = 0 outside the model's
domain, is cheap to compute exactly: this checks dynesty's ln Z and emcee's
posterior mean and sd against it, rather than trusting them.

The likelihood of these data is a narrow peak in a wide prior box, which an
adaptive rule started on the whole box may step over. So the box (its part
inside the domain) is first scanned on a grid; the peak is polished with an
optimiser; the integral is taken over the region where L is within e^-40 of
its peak (grown by two grid cells), split at the peak, with
``scipy.integrate.cubature`` (tensor-product Gauss–Kronrod 21, adaptive) on the
vector [L, L·(θ − θ̂), L·(θ − θ̂)(θ − θ̂)ᵀ], so the moments come from the
same subdivision. What lies outside that region weighs less than e^-40 of the
peak over the rest of the box, which is added to the error.

``prior_sensitivity`` recomputes ln Z with each model's prior width halved and
doubled: the edge of each interval nearer the posterior mean stays (it is
usually the physical limit: Ωm ≥ 0, JANUS's q0 ≤ 0), the other moves.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LikelihoodError

MAX_PARAMS = 2
GRID = {1: 4001, 2: 201}  # scan nodes per parameter
DEPTH = 40.0  # ln L below the peak beyond which the integrand is neglected
RTOL = 1e-8  # the likelihood itself is noisy at ~1e-9 (a marginalised χ² cancels ~1e6 to ~20)
MAX_SUBDIVISIONS = 2000
SENSITIVITY_FACTORS = {"halved": 0.5, "doubled": 2.0}
CHUNK = 2048  # points per likelihood call


def exact_evidence(posterior, bounds=None) -> dict | None:
    """ln Z and posterior mean and sd by quadrature; None for more than ``MAX_PARAMS`` parameters.

    ``bounds`` (n_params × 2) replaces the run's prior box. Keys: logz,
    logz_err, parameters ({name: {mean, sd}}), bounds (the prior box),
    integrated_bounds (the part inside the domain that was integrated),
    n_evaluations, method.
    """
    if posterior.ndim > MAX_PARAMS:
        return None
    from scipy.integrate import cubature  # only where quadrature runs: ~0.3 s of start-up

    prior = np.array(posterior.bounds if bounds is None else bounds, dtype=float)
    box, log_fraction = posterior.inside_domain(prior)
    if not math.isfinite(log_fraction):
        return None
    counter = _Counted(posterior.log_likelihood)
    peak, peak_logl, core, outside, mean_weight = _core_region(counter, box)
    lo, width = core[:, 0], core[:, 1] - core[:, 0]

    def integrand(u):
        w = np.exp(counter(lo + u * width) - peak_logl)
        d = u - (peak - lo) / width
        second = (d[:, :, None] * d[:, None, :]).reshape(len(u), -1)
        return np.concatenate([w[:, None], w[:, None] * d, w[:, None] * second], axis=1)

    # On the unit box every component is at most of the order of the first (the mass), and an
    # absolute tolerance of RTOL times the mass lets a moment near 0 converge: relative to itself,
    # the cross moment of uncorrelated parameters, or one of a prior narrower than the posterior,
    # never did (7.9 million evaluations and "not_converged" for an Ωm prior 1e-10 wide beside H0).
    unit = np.zeros(len(core)), np.ones(len(core))
    peak_u = (peak - lo) / width
    points = [peak_u] if np.all((peak_u > 0) & (peak_u < 1)) else None
    res = cubature(
        integrand,
        *unit,
        rule="gk21",
        rtol=RTOL,
        atol=RTOL * mean_weight,
        points=points,
        max_subdivisions=MAX_SUBDIVISIONS,
    )
    n = posterior.ndim
    mass_u, first, second = res.estimate[0], res.estimate[1 : 1 + n], res.estimate[1 + n :].reshape(n, n)
    mass = mass_u * float(np.prod(width))
    mean_offset = first / mass_u * width
    variance = (np.diag(second) / mass_u - (first / mass_u) ** 2) * width**2
    log_volume = float(np.sum(np.log(prior[:, 1] - prior[:, 0])))
    relative_err = abs(res.error[0]) / mass_u + outside / mass
    return {
        "logz": float(peak_logl + math.log(mass) - log_volume),
        "logz_err": float(relative_err),
        "parameters": {
            p: {"mean": float(peak[i] + mean_offset[i]), "sd": float(math.sqrt(max(variance[i], 0.0)))}
            for i, p in enumerate(posterior.param_names)
        },
        "bounds": dict(zip(posterior.param_names, prior.tolist())),
        "integrated_bounds": dict(zip(posterior.param_names, core.tolist())),
        "n_evaluations": counter.n,
        "method": f"scipy.integrate.cubature, Gauss-Kronrod 21, adaptive, rtol {RTOL:g}",
        "status": res.status,
    }


class _Counted:
    """ln L of a batch, counting the points evaluated.

    The scan and the cubature ask for tens of thousands of points at once;
    they are evaluated ``CHUNK`` at a time, so that a likelihood's batch ×
    data temporaries stay small on large datasets.
    """

    def __init__(self, log_likelihood):
        self.log_likelihood = log_likelihood
        self.n = 0

    def __call__(self, theta):
        theta = np.atleast_2d(theta)
        self.n += len(theta)
        return np.concatenate([self.log_likelihood(theta[i : i + CHUNK]) for i in range(0, len(theta), CHUNK)])


def _core_region(log_likelihood, box):
    """Peak, its ln L, the box around the region within DEPTH of it, the neglected mass bound outside, and
    the scan's mean of L / L(peak) inside that box (the integral's scale on the unit box).

    The bound is the volume outside the region times e^-DEPTH, relative to the
    peak's integrand scale: an upper bound on the neglected integral when the
    scan saw every part of the likelihood above that level.
    """
    from scipy.optimize import minimize

    n = len(box)
    axes = [np.linspace(lo, hi, GRID[n]) for lo, hi in box]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, n)
    logl = log_likelihood(mesh)
    best = int(np.argmax(logl))
    fit = minimize(
        lambda t: -log_likelihood(np.clip(t, box[:, 0], box[:, 1]))[0],
        mesh[best],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000},
    )
    peak = np.clip(fit.x, box[:, 0], box[:, 1])
    peak_logl = float(log_likelihood(peak)[0])
    if not peak_logl >= logl[best]:
        peak, peak_logl = mesh[best], float(logl[best])
    near = mesh[logl > peak_logl - DEPTH]
    step = (box[:, 1] - box[:, 0]) / (GRID[n] - 1)
    core = np.column_stack(
        [np.maximum(near.min(axis=0) - 2 * step, box[:, 0]), np.minimum(near.max(axis=0) + 2 * step, box[:, 1])]
    )
    outside = (np.prod(box[:, 1] - box[:, 0]) - np.prod(core[:, 1] - core[:, 0])) * math.exp(-DEPTH)
    inside = np.all((mesh >= core[:, 0]) & (mesh <= core[:, 1]), axis=1)
    mean_weight = float(np.mean(np.exp(logl[inside] - peak_logl)))
    return peak, peak_logl, core, outside, mean_weight


def scaled_prior(bounds: np.ndarray, means, factor: float) -> np.ndarray:
    """Each interval's width times ``factor``, its edge nearer the posterior mean fixed."""
    out = np.array(bounds, dtype=float)
    for row, mean in zip(out, means):
        lo, hi = row
        width = (hi - lo) * factor
        row[:] = (lo, lo + width) if mean - lo <= hi - mean else (hi - width, hi)
    return out


def prior_sensitivity(posterior, exact: dict | None) -> dict | None:
    """ln Z with the prior width halved and doubled (see ``scaled_prior``), exactly; None without quadrature."""
    if exact is None:
        return None
    means = [exact["parameters"][p]["mean"] for p in posterior.param_names]
    out = {}
    for name, factor in SENSITIVITY_FACTORS.items():
        bounds = scaled_prior(posterior.bounds, means, factor)
        out[name] = {"factor": factor, "priors": dict(zip(posterior.param_names, bounds.tolist()))}
        try:
            result = exact_evidence(posterior, bounds)
        except LikelihoodError as exc:
            # A wider box may reach where the model does not exist (wCDM with w > 0 and Ωm > 1: E² < 0).
            # The run's own result stands; this variation has no ln Z.
            out[name].update(logz=None, logz_err=None, note=f"not computed: {exc}")
            continue
        out[name].update(
            logz=None if result is None else result["logz"],
            logz_err=None if result is None else result["logz_err"],
        )
    return out


def n_sigma(value: float, error: float, exact: float, exact_error: float) -> float:
    """|value − exact| in units of their combined error."""
    combined = math.hypot(error, exact_error)
    return abs(value - exact) / combined if combined > 0 else math.inf


DYNESTY_CHECK = "dynesty ln Z"  # the cross-check of dynesty's evidence, among those of the moments


def cross_check(
    exact: dict | None,
    dynesty: dict | None = None,
    parameters: dict | None = None,
    ess: dict | None = None,
    max_n_sigma: float = 3.0,
    sd_errors: dict | None = None,
    mean_errors: dict | None = None,
    estimates_from: str = "emcee",
) -> dict | None:
    """dynesty's ln Z and the posterior mean and sd of ``parameters`` against the exact values; None without quadrature.

    Each check's error combines the sampler's with the quadrature's; a
    difference above ``max_n_sigma`` of it fails. The sampler's: dynesty's ln Z
    error; for a mean, ``mean_errors`` by parameter, else sd/√ESS with emcee's
    bulk ``ess``; for an sd, ``sd_errors`` by parameter (emcee's
    ``convergence.sd_error``, dynesty's ``run_errors``), else the Gaussian
    sd/√(2 ESS). A parameter with neither is not checked. ``estimates_from``
    names the sampler of ``parameters`` in each check.
    """
    if exact is None:
        return None
    checks = []

    def check(what, value, error, exact_value, exact_error):
        sigmas = n_sigma(value, error, exact_value, exact_error)
        checks.append(
            {
                "what": what,
                "value": value,
                "error": error,
                "exact": exact_value,
                "n_sigma": sigmas,
                "agrees": bool(sigmas <= max_n_sigma),
            }
        )

    if dynesty is not None:
        check(DYNESTY_CHECK, dynesty["logz"], dynesty["logz_err"], exact["logz"], exact["logz_err"])
    for name, st in (parameters or {}).items():
        n_eff = (ess or {}).get(name)
        mean_err = (mean_errors or {}).get(name) or (st["sd"] / math.sqrt(n_eff) if n_eff else None)
        sd_err = (sd_errors or {}).get(name) or (st["sd"] / math.sqrt(2.0 * n_eff) if n_eff else None)
        if mean_err is None or sd_err is None:
            continue
        truth = exact["parameters"][name]
        check(f"{estimates_from} mean of {name}", st["mean"], mean_err, truth["mean"], 0.0)
        check(f"{estimates_from} sd of {name}", st["sd"], sd_err, truth["sd"], 0.0)
    failures = [
        f"{c['what']} {c['value']:.5g} ± {c['error']:.2g} is {c['n_sigma']:.1f} combined sigma from "
        f"the exact {c['exact']:.5g}"
        for c in checks
        if not c["agrees"]
    ]
    if exact.get("status") != "converged":
        failures.append(f"the quadrature did not reach its tolerance (status {exact.get('status')})")
    return {"max_n_sigma": max_n_sigma, "checks": checks, "passed": not failures, "failures": failures}
