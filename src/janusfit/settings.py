"""The samplers' settings, their defaults, and the rules on them: the one place each is written.

The config (:mod:`janusfit.config`), the runners (:mod:`janusfit.sampling`)
and the estimators (:mod:`janusfit.resources`) all import from here, and
``tests/test_settings.py`` checks that the JSON schema's defaults
(``workflow/schemas/config.schema.yaml``) are these. This module imports
nothing beyond the standard library, so parsing and checking a workflow's
config loads neither emcee, dynesty, h5py nor numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

# The stopping rule is checked every CHECK_EVERY steps by default; the τ sums
# commit blocks of that many steps, and the runner also cuts segments there.
CHECK_EVERY = 500
TAU_MAX_LAG = 2048  # lags of the stopping rule's τ sums: τ up to TAU_MAX_LAG / 5 ≈ 409 steps is resolved
# convergence.max_walker_deficit: the convergence job's threshold and the
# sampler's stuck-walker warning (here, so that a sampler need not import the diagnostics to know it).
MAX_WALKER_DEFICIT = 6.0


def default_walkers(ndim: int) -> int:
    """emcee's walkers when the config sets none: 32, or four per parameter when there are more than eight."""
    return max(32, 4 * ndim)


def minimum_walkers(ndim: int) -> int:
    """The fewest walkers emcee's moves work with.

    Its red-blue moves need at least twice as many walkers as parameters (fewer
    make the initial ensemble degenerate), and the differential-evolution move
    draws two walkers from the other half of the ensemble, so each half needs
    two: 2 walkers on a 1-parameter model fail inside emcee.
    """
    return max(4, 2 * ndim)


# ``bound: auto`` draws within one ellipsoid up to this many parameters and
# within several (dynesty's default) above. One ellipsoid costs half the CPU
# time for the same ln Z on these runs: 20 seeds each of ΛCDM, JANUS (one
# parameter) and wCDM (two) on JLA binned cover the exact ln Z as well with
# either (tests/test_evidence.py). Above two parameters a single ellipsoid
# around a curved posterior would waste most of its draws.
SINGLE_BOUND_MAX_PARAMS = 2


def resolve_bound(bound: str, ndim: int) -> str:
    """dynesty's ``bound`` for ``ndim`` parameters: ``auto`` is ``single`` up to SINGLE_BOUND_MAX_PARAMS, else ``multi``."""
    if bound != "auto":
        return bound
    return "single" if ndim <= SINGLE_BOUND_MAX_PARAMS else "multi"


def dynesty_auto_sample(ndim: int) -> str:
    """The method dynesty's ``sample="auto"`` runs for ``ndim`` parameters (``dynesty.dynesty._get_internal_sampler``)."""
    return "unif" if ndim < 10 else "rwalk" if ndim <= 20 else "rslice"


def canonical_sample(sample: str, ndim: int) -> str:
    """``auto`` for the method dynesty's ``auto`` picks at ``ndim``, which draws the same points (its default walks
    and slices): written out, it changes no setting a rerun or a checkpoint compares."""
    return "auto" if sample == dynesty_auto_sample(ndim) else sample


def minimum_nlive(ndim: int) -> int:
    """The fewest live points dynesty works with: more than twice the parameters, and 4.

    dynesty itself warns that ``nlive <= 2 * ndim`` is "extremely risky"; with
    fewer than ndim + 1 points its bounding ellipsoids are degenerate and it
    fails (2 live points on a 1-parameter model do). With 3 (1 parameter), its
    bootstrap of the ellipsoid's expansion (``bounding._bootstrap_points``)
    leaves no point out when every draw is the third point, 1 time in 27, and
    the run stops on a ValueError: 12 of 40 seeds did, none with 4.
    """
    return max(2 * ndim + 1, 4)


def require_static_for_maxiter(settings: DynestySettings, key: str = "dynesty.maxiter") -> None:
    """Refuse ``maxiter`` with the dynamic sampler (ConfigError naming ``key``).

    janusfit counts a limit on iterations over resumes only in its own loop of
    the static sampler; the dynamic sampler runs inside dynesty's
    ``run_nested``, where janusfit cannot make a resumed run stop at the
    iteration an uninterrupted one stops at.
    """
    if settings.maxiter is not None and settings.method != "static":
        raise ConfigError(
            key,
            f"a limit on iterations ({settings.maxiter}) works only with the static sampler, not with "
            f"method: {settings.method}; remove maxiter or set 'dynesty.method: static'",
        )


@dataclass(frozen=True)
class EmceeSettings:
    n_walkers: int
    max_steps: int
    seed: int = 42
    moves: str = "de"
    checkpoint_steps: int = 1000
    checkpoint_seconds: float = 300.0
    check_every: int = CHECK_EVERY
    n_over_tau: float = 50.0
    tau_rel_change: float = 0.01
    stop_on_convergence: bool = True
    tau_max_lag: int = TAU_MAX_LAG
    progress_figure: bool = True
    progress_figure_seconds: float = 60.0
    max_walker_deficit: float = MAX_WALKER_DEFICIT

    def chain_settings(self) -> dict:
        """The settings that change the draws, for the fingerprint.

        ``max_steps``, the checkpoint interval and the stopping rule only decide
        where the chain is cut or saved, so a run may be extended or saved more
        often without invalidating its checkpoint.
        """
        return {"n_walkers": self.n_walkers, "seed": self.seed, "moves": self.moves}

    def stop_rule(self) -> dict:
        """The settings of the stopping rule: with ``max_steps``, where the chain ends (not its draws)."""
        return {
            "enabled": self.stop_on_convergence,
            "check_every": self.check_every,
            "n_over_tau": self.n_over_tau,
            "tau_rel_change": self.tau_rel_change,
            "tau_max_lag": self.tau_max_lag,
        }


@dataclass(frozen=True)
class DynestySettings:
    nlive: int = 500
    dlogz: float = 0.1
    method: str = "static"
    bound: str = "multi"
    sample: str = "auto"
    seed: int = 42
    checkpoint_seconds: float = 60.0
    # A limit on the static sampler's iterations, counted over resumes; a run
    # it stops before dlogz is reached is an incomplete evidence (``complete``).
    maxiter: int | None = None
    repeats: int = 1

    def chain_settings(self) -> dict:
        """Settings that change the draws, for the fingerprint.

        The static sampler's ``dlogz`` and ``maxiter`` only decide where it
        stops. The dynamic sampler's ``dlogz`` is dynesty's ``dlogz_init``:
        where its initial run stops, which decides where its batches go, so it
        is among them. ``repeats`` is not: each repeat is its own run, with
        its own seed and checkpoint.
        """
        chain = {
            "nlive": self.nlive,
            "method": self.method,
            "bound": self.bound,
            "sample": self.sample,
            "seed": self.seed,
        }
        if self.method == "dynamic":
            chain["dlogz"] = self.dlogz
        return chain

    def stop_settings(self) -> dict:
        """Where a run stops (``dlogz``, ``maxiter``): a change reruns it, and the static sampler resumes its checkpoint."""
        return {"dlogz": self.dlogz, "maxiter": self.maxiter}
