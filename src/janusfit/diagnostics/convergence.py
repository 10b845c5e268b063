"""Convergence diagnostics of an emcee ensemble: τ, rank-normalised R̂ and ESS.

The integrated autocorrelation time τ is emcee's own estimate. R̂ and the bulk
and tail effective sample sizes follow Vehtari, Gelman, Simpson, Carpenter &
Bürkner (2021, Bayesian Analysis 16, 667).

Those diagnostics compare independent chains, and the walkers of an
affine-invariant ensemble are not independent: every move of one walker uses
the positions of the others. The walkers are therefore cut into G contiguous
*groups* (default 4), and each group plays the part of one chain:

* for R̂, a group's draws are all its walkers' values, split in halves along
  the steps, so that 2G chains are compared;
* for ESS, a split group's autocovariance at lag t is the mean of its walkers'
  autocovariances (as emcee averages the walkers' autocorrelation functions),
  and the between-chain variance is that of the split groups' means. The ESS
  counts every draw of every walker.

With one walker per group, every function here reproduces the chain-based
definitions of the paper exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..imports import import_emcee
from ..settings import MAX_WALKER_DEFICIT

DEFAULT_THRESHOLDS = {
    "min_n_over_tau": 50.0,
    "max_rhat": 1.01,
    "min_ess_bulk": 400.0,
    "max_walker_deficit": MAX_WALKER_DEFICIT,
    "acceptance": [0.2, 0.5],
}
TAIL_QUANTILES = (0.05, 0.95)
MIN_STEPS = 4
# Burn-in in units of τ_max. Walkers start spread over the prior (a few tens of
# posterior widths), and after 2 τ their spread was still inflated: on JLA binned
# and Union3 flat ΛCDM (1000 steps, 300 seeds) a 2 τ burn-in inflated the
# posterior sd by +0.95 ± 0.07 % and +1.15 ± 0.08 %, a 10 τ one by −0.01 ± 0.05 %
# and −0.06 ± 0.06 %. At most half the chain is dropped.
BURN_IN_TAU = 10


def autocorr_time(chain: np.ndarray) -> np.ndarray:
    """τ of each parameter of a chain of shape (n_steps, n_walkers, n_params).

    ``tol=0`` makes emcee return its estimate however short the chain is: how
    many τ the chain spans is judged by :func:`diagnose`, not here.
    """
    return import_emcee().autocorr.integrated_time(np.asarray(chain, dtype=float), tol=0, quiet=True)


def group_walkers(values: np.ndarray, n_groups: int = 4) -> list[np.ndarray]:
    """Cut (n_steps, n_walkers) values of one parameter into contiguous walker groups.

    When the walkers do not divide evenly, group sizes differ by one; with
    fewer walkers than groups, every walker is its own group.
    """
    values = np.asarray(values, dtype=float)
    n_groups = min(n_groups, values.shape[1])
    return np.array_split(values, n_groups, axis=1)


def _as_groups(groups) -> list[np.ndarray]:
    """Groups as 2-D arrays (n_steps, n_walkers_in_group); a 1-D group is one walker."""
    out = [np.asarray(g, dtype=float) for g in groups]
    return [g[:, None] if g.ndim == 1 else g for g in out]


def _split(groups: list[np.ndarray]) -> list[np.ndarray]:
    """Each group's first and last halves of its steps (an odd middle step is dropped)."""
    halves = []
    for g in groups:
        half = len(g) // 2
        halves += [g[:half], g[len(g) - half :]]
    return halves


def _pooled(chains: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([c.ravel() for c in chains])


def _like(flat: np.ndarray, chains: list[np.ndarray]) -> list[np.ndarray]:
    """Cut pooled values back into arrays shaped like ``chains``."""
    bounds = np.cumsum([c.size for c in chains])[:-1]
    return [part.reshape(c.shape) for part, c in zip(np.split(flat, bounds), chains)]


def rank_normalise(chains: list[np.ndarray]) -> list[np.ndarray]:
    """z = Φ⁻¹((r − 3/8) / (S + 1/4)) of the pooled fractional ranks r of S draws.

    Ties get their average rank; the offsets are Blom's (1958), which make the
    smallest and largest draws map to symmetric z.
    """
    from scipy.special import ndtri  # 0.5–2 s: only the convergence job ranks, not every job reading this package

    flat = _pooled(chains)
    ranks = average_ranks(flat)
    return _like(ndtri((ranks - 0.375) / (flat.size + 0.25)), chains)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties given their average: ``scipy.stats.rankdata(x, method="average")``.

    Written out because importing ``scipy.stats`` costs every convergence job 1–2 s.
    """
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[first, x.size])
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def _rhat(chains: list[np.ndarray]) -> float:
    """Classic R̂ = sqrt(((N−1)/N W + B/N) / W) of chains with N draws each.

    Groups of unequal size (walkers not divisible by G) use the mean N.
    """
    means = np.array([c.mean() for c in chains])
    within = np.mean([c.var(ddof=1) for c in chains])
    n = np.mean([c.size for c in chains])
    return float(np.sqrt(((n - 1.0) / n * within + means.var(ddof=1)) / within))


def split_rhat(groups) -> float:
    """Rank-normalised split R̂: the larger of the bulk and the folded (tail) R̂.

    ``groups`` is a sequence of (n_steps, n_walkers_in_group) arrays of one
    parameter, as :func:`group_walkers` makes; NaN with fewer than 4 steps.
    """
    groups = _as_groups(groups)
    if len(groups[0]) < MIN_STEPS:
        return math.nan
    halves = _split(groups)
    bulk = _rhat(rank_normalise(halves))
    median = np.median(_pooled(halves))
    tail = _rhat(rank_normalise([np.abs(h - median) for h in halves]))
    return max(bulk, tail)


def walker_deficits(log_prob: np.ndarray) -> np.ndarray:
    """How far each walker sits below the others in ln p, in standard errors; negative above them.

    ``log_prob`` is (n_steps, n_walkers), burn-in dropped. Pooling walkers into
    groups hides one stuck walker (on a 2-d Gaussian with one of 32 walkers
    held in a narrow local mode, the grouped R̂ of ln p stayed below 1.01), so
    each walker is tested on its own: the ln p draws are rank-normalised over
    all walkers, a walker's deficit is how far the mean of its scores lies
    below the median walker's, divided by the standard error sqrt(τ/n), τ
    being the scores' integrated autocorrelation time (emcee's estimate, the
    walkers' autocorrelation functions averaged). Ranks make the null
    distribution close to a standard normal whatever the shape of ln p
    (−χ²/2 is skewed); a walker stuck in a poorer region has every draw among
    the lowest scores, and one stuck on a narrow peak above the others among
    the highest. The median walker, not zero, is the reference: a walker
    holding the highest ranks pushes every other walker's scores down, and
    measured from zero, an audit's case named 21 of 31 mixing walkers stuck beside it. NaN
    with fewer than 4 steps; zero where ln p is constant.
    """
    log_prob = np.asarray(log_prob, dtype=float)
    if len(log_prob) < MIN_STEPS:
        return np.full(log_prob.shape[1], math.nan)
    if np.ptp(log_prob) == 0.0:
        return np.zeros(log_prob.shape[1])
    (scores,) = rank_normalise([log_prob])
    # A walker that never moves has no autocorrelation (0/0), which made every deficit NaN: τ is the others'.
    moving = np.ptp(scores, axis=0) > 0.0
    tau = import_emcee().autocorr.integrated_time(scores[:, moving, None], tol=0, quiet=True)[0]
    means = scores.mean(axis=0)
    # An anticorrelated estimate (τ < 1) would shrink the error and raise false alarms.
    return -(means - np.median(means)) / np.sqrt(max(tau, 1.0) / len(scores))


def frozen_walkers(log_prob: np.ndarray) -> list[int]:
    """The walkers whose ln p never changes over ``log_prob`` (n_steps, n_walkers) while another's does.

    A walker that accepts no move is stuck wherever it sits, but its deficit
    only says how far its one value lies from the median walker's: near the
    middle of the others' ln p it would pass. No walker with fewer than 4 steps.
    """
    log_prob = np.asarray(log_prob, dtype=float)
    if len(log_prob) < MIN_STEPS:
        return []
    still = np.ptp(log_prob, axis=0) == 0.0
    return [int(w) for w in np.flatnonzero(still)] if not still.all() else []


def stuck_walkers(log_prob: np.ndarray, max_deficit: float) -> tuple[np.ndarray, list[int], list[int]]:
    """(deficits, frozen walkers, stuck walkers) of ``log_prob`` (n_steps, n_walkers).

    Stuck: a deficit of ``max_deficit`` or more either way, or frozen. The
    convergence job and the live watch both ask this, so they name the same walkers.
    """
    deficits = walker_deficits(log_prob)
    frozen = frozen_walkers(log_prob)
    stuck = sorted({int(w) for w in np.flatnonzero(np.abs(deficits) >= max_deficit)} | set(frozen))
    return deficits, frozen, stuck


def late_arrival(log_prob: np.ndarray, window: int, threshold: float, until: int) -> dict | None:
    """The last window before ``until`` in which a walker's ln p sits ``threshold`` standard errors or more below.

    Windows of ``window`` steps overlap by half. A walker that starts far out
    in a wide prior can take longer than the burn-in of ``BURN_IN_TAU`` τ to
    arrive (τ is the settled chain's): its early draws then stay in the kept
    chain, where the whole-chain tests average them away while they widen the
    posterior (an audit's wCDM run: one walker arrived at step 694 of a
    burn-in of 354, every check passed, and w's sd came out 13 % too wide).
    ``{"walker", "deficit", "start", "end"}`` of that window, or None.
    """
    n_steps = len(log_prob)
    last = None
    for start in range(0, max(until, 1), max(window // 2, 1)):
        end = min(start + window, n_steps)
        deficits = walker_deficits(log_prob[start:end])
        if np.isfinite(deficits).any() and np.nanmax(deficits) >= threshold:
            walker = int(np.nanargmax(deficits))
            last = {"walker": walker, "deficit": float(deficits[walker]), "start": start, "end": end}
    return last


def _autocov(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance of each column of (n_steps, n_walkers) about the mean of them all, by FFT.

    The walkers of a group are one chain: about each walker's own mean, the
    spread of the walkers' means would be lost, and with it most of what a
    short chain says about its autocorrelation (32 AR(1) walkers of τ 50 in
    4 groups gave 1.67 times the ESS of their draws at 10 τ, 1.17 at 50 τ;
    about the group's mean 1.10 and 1.04, ArviZ's on the same chains).
    """
    n = len(x)
    x = x - x.mean()
    f = np.fft.rfft(x, n=2 * n, axis=0)
    return np.fft.irfft(f * np.conjugate(f), n=2 * n, axis=0)[:n] / n


def _ess(chains: list[np.ndarray]) -> float:
    """Multi-chain ESS with Geyer's initial monotone sequence (Vehtari et al. 2021, §3.2).

    Each chain is (n_steps, n_walkers); its autocovariance is the walkers' mean,
    each about the chain's mean.
    """
    total = sum(c.size for c in chains)
    flat = _pooled(chains)
    if flat.max() - flat.min() < np.finfo(float).resolution:
        return float(total)
    n = len(chains[0])
    acov = np.array([_autocov(c).mean(axis=1) for c in chains]).mean(axis=0)
    mean_var = acov[0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if len(chains) > 1:
        var_plus += np.var([c.mean() for c in chains], ddof=1)
    rho = 1.0 - (mean_var - acov) / var_plus
    rho[0] = 1.0

    # Sums of adjacent pairs (ρ_2k + ρ_2k+1) are positive and decreasing for a
    # reversible chain: truncate at the first non-positive pair (or the last
    # pair available), make the earlier ones monotone, and count the even term
    # of the cut pair once if positive, as Stan and ArviZ do.
    n_pairs = (n - 1) // 2
    pairs = rho[: 2 * n_pairs].reshape(n_pairs, 2).sum(axis=1)
    nonpositive = np.flatnonzero(pairs <= 0.0)
    cut = int(nonpositive[0]) if nonpositive.size else max(n_pairs - 1, 0)
    kept = np.minimum.accumulate(pairs[:cut])
    tau = -1.0 + 2.0 * kept.sum() + max(rho[2 * cut], 0.0)
    tau = max(tau, 1.0 / np.log10(total))
    return float(total / tau) if np.all(np.isfinite(rho)) else math.nan


def ess_bulk(groups) -> float:
    """Bulk ESS: the ESS of the rank-normalised split groups; NaN with fewer than 4 steps."""
    groups = _as_groups(groups)
    if len(groups[0]) < MIN_STEPS:
        return math.nan
    return _ess(rank_normalise(_split(groups)))


def sd_error(values: np.ndarray, n_groups: int = 4) -> float:
    """The standard error of the sd of (n_steps, n_walkers) draws: sd √((κ − 1) / (4 n)).

    κ is the draws' kurtosis and n the ESS of their squared deviations (x − x̄)²,
    the quantity whose mean the variance is. For a Gaussian (κ = 3, the squared
    deviations as correlated as the draws) it is sd/√(2 ESS); a heavy-tailed
    posterior's sd is less certain than that (an audit's wCDM w, κ = 4.6: ten
    converged runs gave an rms pull of 2.0 with sd/√(2 ESS_bulk), 1.1 with this).
    NaN with fewer than 4 steps.
    """
    values = np.asarray(values, dtype=float)
    if len(values) < MIN_STEPS:
        return math.nan
    squared = (values - values.mean()) ** 2
    m2 = squared.mean()
    if m2 == 0.0:
        return 0.0
    kurtosis = (squared**2).mean() / m2**2
    n = _ess(_split(group_walkers(squared, n_groups)))
    return math.sqrt(m2 * max(kurtosis - 1.0, 0.0) / (4.0 * n))


def ess_tail(groups) -> float:
    """Tail ESS: the smaller ESS of the indicators of the 5% and 95% quantiles."""
    groups = _as_groups(groups)
    if len(groups[0]) < MIN_STEPS:
        return math.nan
    quantiles = np.quantile(_pooled(groups), TAIL_QUANTILES)
    return min(_ess(_split([(g <= q).astype(float) for g in groups])) for q in quantiles)


def _thresholds(given: dict | None) -> dict:
    out = {**DEFAULT_THRESHOLDS, **(given or {})}
    unknown = set(out) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise ConfigError(
            f"thresholds.{sorted(unknown)[0]}", f"unknown threshold; known: {', '.join(DEFAULT_THRESHOLDS)}"
        )
    lo, hi = (float(v) for v in out["acceptance"])
    if not 0.0 <= lo < hi <= 1.0:
        raise ConfigError("thresholds.acceptance", f"needs 0 <= low < high <= 1, got [{lo}, {hi}]")
    return {
        "min_n_over_tau": float(out["min_n_over_tau"]),
        "max_rhat": float(out["max_rhat"]),
        "min_ess_bulk": float(out["min_ess_bulk"]),
        "max_walker_deficit": float(out["max_walker_deficit"]),
        "acceptance": [lo, hi],
    }


def _num(x) -> float | None:
    """A JSON-safe float: None for NaN or infinity."""
    x = float(x)
    return x if math.isfinite(x) else None


def _check(check: str, parameter: str | None, value: float, rule: str, ok) -> dict:
    value = _num(value)
    return {
        "check": check,
        "parameter": parameter,
        "value": value,
        "threshold": rule,
        "passed": bool(value is not None and ok(value)),
    }


FAILURE_NAMES = {
    "n_over_tau": "N/tau",
    "rhat": "R-hat",
    "ess_bulk": "bulk ESS",
    "walker_deficit": "ln p deficit in standard errors",
    "walker_moves": "moves in the kept steps",
    "acceptance": "mean acceptance fraction",
}


def _failure(c: dict) -> str:
    """E.g. 'R-hat of Om is 1.034 (threshold < 1.01)'."""
    what = FAILURE_NAMES[c["check"]]
    subject = f"{what} of {c['parameter']}" if c["parameter"] else what
    value = "undefined" if c["value"] is None else f"{c['value']:.4g}"
    return f"{subject} is {value} (threshold {c['threshold']})"


def diagnose(
    chain: np.ndarray,
    log_prob: np.ndarray,
    accepted: np.ndarray,
    names: Sequence[str],
    burn_in: int | None = None,
    thresholds: dict | None = None,
    n_groups: int = 4,
) -> dict:
    """Convergence report of an emcee run, as a JSON-serialisable dict.

    ``chain`` is (n_steps, n_walkers, n_params) as ``get_chain()`` returns,
    ``log_prob`` (n_steps, n_walkers) and ``accepted`` the accepted moves per
    walker over all steps. τ and N/τ are those of the whole chain, as the
    stopping rule sees it (emcee's estimate, c = 5); the burn-in (by default
    ``BURN_IN_TAU`` τ_max rounded up, at most half the chain) is then dropped
    and the estimates, R̂ and the ESS use the rest. R̂ is also
    checked on the log-probability, as Stan does for lp__: walkers stuck in a
    poorer region show there first. Each walker is also tested alone
    (:func:`walker_deficits`): one stuck walker among many moves a group's
    R̂ too little to be seen.

    Keys: n_steps, n_walkers, n_groups, tau_method, burn_in, burn_in_rule, n_kept_steps,
    n_kept_draws, thresholds, parameters ({name: tau, n_over_tau, rhat,
    ess_bulk, ess_tail}), log_prob (rhat, ess_bulk, max_walker_deficit and
    stuck_walkers and frozen_walkers, the walkers' indices in the chain), acceptance (mean, min,
    max), checks ([{check, parameter, value, threshold, passed}]), passed,
    failures (one sentence per failed check). Undefined values are None.
    """
    chain = np.asarray(chain, dtype=float)
    log_prob = np.asarray(log_prob, dtype=float)
    n_steps, n_walkers, n_params = chain.shape
    if len(names) != n_params:
        raise ValueError(f"{len(names)} parameter names for a chain of {n_params} parameters")
    if log_prob.shape != (n_steps, n_walkers):
        raise ValueError(f"log_prob has shape {log_prob.shape}, expected {(n_steps, n_walkers)}")
    if np.shape(accepted) != (n_walkers,):
        raise ValueError(f"accepted has shape {np.shape(accepted)}, expected {(n_walkers,)}")
    limits = _thresholds(thresholds)
    max_rhat, min_ess, min_n_tau = limits["max_rhat"], limits["min_ess_bulk"], limits["min_n_over_tau"]

    tau = autocorr_time(chain)
    if burn_in is None:
        finite = tau[np.isfinite(tau)]
        burn_in = min(math.ceil(BURN_IN_TAU * finite.max()) if finite.size else 0, n_steps // 2)
        rule = (
            f"{BURN_IN_TAU} x max tau (rounded up), at most half the chain: walkers start spread over the "
            "prior, and a shorter burn-in (2 tau) inflated the posterior sd by about 1 %"
        )
        # At most about 100 windows over the first half, whatever the chain's length.
        window = max(burn_in, MIN_STEPS * 5, n_steps // 100)
        late = late_arrival(log_prob, window, limits["max_walker_deficit"], until=n_steps // 2)
        # A walker still far below at half the chain may be stuck, not late: the walker test of the kept chain decides.
        if late is not None and burn_in < late["end"] < n_steps // 2:
            burn_in = late["end"]
            rule += (
                f"; extended to step {burn_in}: walker {late['walker']} was {late['deficit']:.1f} standard errors "
                f"below the others in ln p over steps {late['start']}-{late['end']}, still arriving"
            )
    else:
        rule = "given"
    burn_in = int(burn_in)
    kept = chain[burn_in:]

    parameters, checks = {}, []
    for i, name in enumerate(names):
        groups = group_walkers(kept[:, :, i], n_groups)
        raw = {
            "tau": tau[i],
            "n_over_tau": n_steps / tau[i],
            "rhat": split_rhat(groups),
            "ess_bulk": ess_bulk(groups),
            "ess_tail": ess_tail(groups),
        }
        parameters[name] = {key: _num(value) for key, value in raw.items()}
        checks += [
            _check("n_over_tau", name, raw["n_over_tau"], f"> {min_n_tau:g}", lambda v: v > min_n_tau),
            _check("rhat", name, raw["rhat"], f"< {max_rhat:g}", lambda v: v < max_rhat),
            _check("ess_bulk", name, raw["ess_bulk"], f">= {min_ess:g}", lambda v: v >= min_ess),
        ]

    lp_groups = group_walkers(log_prob[burn_in:], n_groups)
    lp_rhat = split_rhat(lp_groups)
    checks.append(_check("rhat", "log_prob", lp_rhat, f"< {max_rhat:g}", lambda v: v < max_rhat))
    max_deficit = limits["max_walker_deficit"]
    deficits, frozen, stuck = stuck_walkers(log_prob[burn_in:], max_deficit)
    # Either way: a walker stuck above the others (on a narrow peak it cannot leave) biases the draws as one below does.
    worst = int(np.nanargmax(np.abs(deficits))) if np.isfinite(deficits).any() else 0
    checks.append(
        _check(
            "walker_deficit",
            f"walker {worst}",
            deficits[worst],
            f"-{max_deficit:g} to {max_deficit:g}; below the others is positive",
            lambda v: abs(v) < max_deficit,
        )
    )
    if frozen:
        checks.append(_check("walker_moves", f"walker {frozen[0]}", 0, "> 0; its ln p never changed", lambda v: v > 0))

    fraction = np.asarray(accepted, dtype=float) / n_steps
    lo, hi = limits["acceptance"]
    checks.append(_check("acceptance", None, fraction.mean(), f"{lo:g} to {hi:g}", lambda v: lo <= v <= hi))
    failures = [_failure(c) for c in checks if not c["passed"]]
    return {
        "n_steps": n_steps,
        "n_walkers": n_walkers,
        "n_groups": min(n_groups, n_walkers),
        "tau_method": "emcee.autocorr.integrated_time of the whole chain (c = 5)",
        "burn_in": burn_in,
        "burn_in_rule": rule,
        "n_kept_steps": len(kept),
        "n_kept_draws": len(kept) * n_walkers,
        "thresholds": limits,
        "parameters": parameters,
        "log_prob": {
            "rhat": _num(lp_rhat),
            "ess_bulk": _num(ess_bulk(lp_groups)),
            "max_walker_deficit": _num(deficits[worst]),
            "stuck_walkers": stuck,
            "frozen_walkers": frozen,
        },
        "acceptance": {
            "mean": float(fraction.mean()),
            "min": float(fraction.min()),
            "max": float(fraction.max()),
        },
        "checks": checks,
        "passed": not failures,
        "failures": failures,
    }
