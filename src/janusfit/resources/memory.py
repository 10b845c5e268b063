"""Peak resident memory of one sampling job, from what the process really holds.

The estimate is a sum of named components, so a job's log shows where the
memory goes and which setting to change. Sizes are in MB of 10⁶ bytes (what
Snakemake's ``mem_mb`` means; it also errs high against SLURM's MiB).

Every constant below was measured on Linux x86-64, Python 3.11, numpy 2,
emcee 3.1.6, dynesty 3.1.0, with the peak RSS (``ru_maxrss``) of a subprocess
running janusfit's own runners (``run_emcee``, ``run_dynesty``) and loader on
cheap Gaussian likelihoods and simulated data. Where repeated runs differed,
the constant is the largest value seen. The components are:

- ``baseline``: the interpreter with everything a job imports; ``monitor``:
  the job's memory record and its plot.
- ``data_loading``: reading a text covariance splits the whole file into one
  Python string per value (~108 B per value, 432 MB for N = 2000) before
  converting it. This is over before sampling starts, so the peak is that of
  the loading phase (baseline, monitor, loading) or of the sampling phase
  (everything else), whichever is larger; ``loading_residue`` is the part of
  the freed loading memory the allocator keeps for the rest of the job.
- ``covariance``, ``cholesky``: the matrix, and its factor with the copies
  made while factorising (scipy factorises a copy, and the likelihood keeps
  a Fortran-ordered one for LAPACK).
- ``systematic_matrices``, ``systematics_packed``, ``covariance_buffers``: a
  light-curve release's N × N systematic matrices (JLA's six C_η blocks, each
  parsed from text as a covariance is), held as read; their lower triangles
  packed side by side for the kernel; and the N × N matrix C(α, β) that each
  thread evaluating rows at once assembles and factorises in place.
- ``numba_kernels``: the first likelihood call compiles the likelihood's
  numba kernels, or loads them from numba's cache, which starts LLVM.
- ``likelihood_temporaries``: one vectorised call on a batch (the whole
  ensemble for emcee's first call, one point for dynesty): a few arrays
  of batch × quadrature nodes and, for rows evaluated through μ at every
  supernova, batch × N.
- emcee: ``segment_buffer`` (the in-memory backend of one checkpoint segment
  plus its npz bytes), ``autocorr_sums`` (what the stopping rule keeps of the
  chain for τ: lag products, first and last steps, each max_lag × walkers ×
  parameters in double precision), ``tau_temporaries`` (the steps since the
  last committed block, one parameter's carry and lag products, and the FFTs of
  a chunk of walkers), ``final_assembly`` (one segment read back while the
  HDF5 chain is written), ``progress_figure`` (importing matplotlib and drawing the live progress
  figure, when it is on), ``stuck_watch`` (the copy of ln p the stuck-walker
  test reads while sampling).
- dynesty: ``live_points``, ``dead_points`` (the per-iteration Python objects
  of ``saved_run``), ``checkpoint_pickling`` (pickling the sampler memoises
  a bytes object and a tuple per array, and the pickle is read back to be
  checksummed), ``bounds`` (one set of ellipsoids per bound update).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass

import psutil

from ..errors import ResourceError
from ..sampling.autocorr import BLOCK as AUTOCORR_BLOCK
from ..sampling.autocorr import WALKER_CHUNK
from ..sampling.progress import WATCH_ROWS
from ..settings import CHECK_EVERY, TAU_MAX_LAG

MB = 1_000_000
F8 = 8
# The releases the constants were measured with (major.minor); pyproject.toml
# pins the samplers to these, and tests/test_memory.py fails on any other.
MEASURED_WITH = {"emcee": "3.1", "dynesty": "3.1"}

# What a sampling job imports; jobs run as Snakemake ``script:`` and so also
# import snakemake.script. measure_baseline_mb() starts an interpreter that
# imports these and reports its RSS: 183.5 MB on Linux x86-64 (212 MB while
# the job drew its memory figure with matplotlib, 246 MB while janusfit.data
# imported pandas). Kept with a 6 % allowance for other platforms' page
# accounting (macOS arm64 has 16 KB pages) and small additions to the import
# list; importing corner (and with it arviz) in a sampling job would add
# about 110 MB.
BASELINE_MODULES = (
    "numpy",
    "scipy.linalg",
    "scipy.integrate",
    "scipy.stats",
    "emcee",
    "dynesty",
    "h5py",
    "numba",
    "psutil",
    "yaml",
    "snakemake.script",
    "janusfit.data",
    "janusfit.likelihood",
    "janusfit.sampling.emcee_runner",
    "janusfit.sampling.dynesty_runner",
    "janusfit.diagnostics.convergence",
    "janusfit.resources.monitor",
    "janusfit.stages.sample",
)
BASELINE_MB = 195.0

# MemoryMonitor's thread and series (≤ 10000 points of two floats: about 1 MB); its figure
# is drawn by the summary job.
MONITOR_MB = 2.0
COV_TEXT_BYTES_PER_VALUE = 110  # measured 108.6 (N = 1000) and 108.0 (N = 2000)
LOADING_RESIDUE = 0.3  # resident after loading, beyond the covariance: measured 10–30 % of the transient
TABLE_BYTES_PER_ROW = 4000  # every cell is read as a Python str: 47 columns × ~80 B for Pantheon+
CHOLESKY_COPIES = 2.5  # measured 2.42 N²×8 B at the peak of building the likelihood
NUMBA_MB = 75.0  # measured 43–47 MB with numba's on-disk cache, 56–72 MB without
# RedshiftGrid: 12 nodes on each panel of 0.2 in ln(1 + z), plus ≤ 6 graded
# panels towards z = 0 (down to z = 1e-4); the reduced χ² adds 24 nodes.
NODES_PER_PANEL, PANEL_WIDTH, GRADED_PANELS, KNOTS = 12, 0.2, 6, 24
NODE_TEMPORARIES = 4  # batch × nodes arrays alive at once in a model evaluation
SOLVE_TEMPORARIES = 2.5  # batch × N: residuals solved in place; measured 2.0
PACKING_COPIES = 2  # the packed triangles, and the six slices they are stacked from

EMCEE_FIXED_MB = 6.0  # sampler, HDF5 and zip machinery; peak rise of a 32-walker, 1000-step run
SEGMENT_COPIES = 2.5  # backend arrays + the npz bytes (+ growth slack); measured 2.4
AUTOCORR_ARRAYS = 3  # AutocorrTime: lag sums, first steps, last steps (float64)
# Measured rise beyond the three arrays: 4.5–10.7 walkers × lags × 8 B, of which
# a fixed part is the FFTs of one chunk of walkers (the small-walker end).
BLOCK_COPIES = 3  # the held steps, their concatenation and the shifted, transposed piece
SERIES_TEMPORARIES = 4  # walkers × lags: the carry, carry + block, the products, a copy in tau()
FFT_TEMPORARIES = 4  # chunk × FFT length: two spectra, the inverse transform, the padded input
# Drawing progress.png in a process that has drawn a figure before: RSS rose
# by 20 MB (1 parameter) and 40 MB (5 parameters), 32 walkers; before its
# first figure the job imports matplotlib (measured 27.0–27.3 MB over the
# baseline's libraries).
PROGRESS_FIGURE_MB, PROGRESS_FIGURE_MB_PER_PARAM = 15.0, 5.0
FIGURE_LIBRARIES_MB = 27.5
# The stuck-walker watch: its float32 copy of ln p and the test's temporaries
# (a float64 copy; the sort, the ranks and their scores over the later half);
# tracemalloc peak over 4000 steps, 1000 kept: 44-47 B per kept step and
# walker at 32, 64 and 256 walkers (tests/test_memory.py).
STUCK_WATCH_BYTES = 52

DYNESTY_FIXED_MB = 5.0  # sampler object, first bound, pools of small objects
DEAD_POINT_BYTES = 1200  # saved_run entries of one iteration; measured 1.0–1.2 KB after sampling
CHECKPOINT_BYTES_PER_POINT = 4600  # pickling transient + the pickle bytes; measured up to 4.5 KB
# H of janusfit's fits measured 0.8–2.7 nats (1–2 parameters, 20–2000
# simulated supernovae); 5 leaves room for tighter data and a third parameter
# without doubling the estimate of a large-nlive run.
DEFAULT_INFORMATION = 5.0
# dynesty's dynamic sampler (3.1) stops adding batches once the posterior's
# effective sample size (Kish) reaches max(n_params², 10000), its default
# n_effective. Whole runs gave 0.71–0.86 effective samples per iteration,
# the last batch overshooting the target (JLA binned: ΛCDM at nlive 50, 100
# and 500, wCDM and JANUS; a static run alone, 0.61): 0.65 counts them
# 1.1–1.4 × over.
DYNAMIC_TARGET_ESS = 10_000
DYNAMIC_ESS_PER_ITERATION = 0.65
ELLIPSOID_BYTES = 2000  # Python object, centre, axes; plus 3 n_params² × 8 B of matrices
ELLIPSOIDS_PER_BOUND = 16
BOUND_UPDATES_PER_NLIVE_ITERATIONS = 2.0  # measured 0.75–1.35 with the default update interval

# Peak of the two phases → total. The constants are already the largest
# measured values; the margin covers run-to-run spread at the same settings
# (up to 15 % for dynesty's dead points) and the baseline's platform dependence.
SAFETY_MARGIN = 0.10
LOADING_PHASE = ("baseline", "monitor", "data_loading")

SEED_OVERHEAD = 2.0  # an in-memory emcee backend plus one copy (get_chain, autocorrelation)


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak RSS of one job as named components (MB), plus the safety margin."""

    sampler: str
    components: dict[str, float]
    upper_bound_mb: int | None = None

    @property
    def loading_mb(self) -> float:
        return sum(self.components[name] for name in LOADING_PHASE)

    @property
    def sampling_mb(self) -> float:
        return sum(mb for name, mb in self.components.items() if name != "data_loading")

    @property
    def peak_mb(self) -> float:
        return max(self.loading_mb, self.sampling_mb)

    @property
    def margin_mb(self) -> float:
        return SAFETY_MARGIN * self.peak_mb

    @property
    def total_mb(self) -> int:
        return math.ceil(self.peak_mb + self.margin_mb)


def memory_table(estimates) -> str:
    """One table of the components of one or more estimates, a column per sampler, for a job's log.

    A component one sampler does not have shows as '-'.
    """
    estimates = list(estimates)
    names = list(dict.fromkeys(name for est in estimates for name in est.components))
    rows = [
        (name, [f"{est.components[name]:.1f}" if name in est.components else "-" for est in estimates])
        for name in names
    ]
    rows += [
        ("peak phase", [f"{est.peak_mb:.1f}" for est in estimates]),
        (f"safety margin ({SAFETY_MARGIN:.0%})", [f"{est.margin_mb:.1f}" for est in estimates]),
        ("total", [str(est.total_mb) for est in estimates]),
    ]
    if any(est.upper_bound_mb is not None for est in estimates):
        rows.append(("whole chain in memory", [str(est.upper_bound_mb or "-") for est in estimates]))
    width = max(len(name) for name, _ in rows)
    cols = [max(10, len(est.sampler)) for est in estimates]
    lines = [
        "memory estimate (MB = 1e6 bytes; peak phase = the larger of loading and sampling):",
        f"  {'':<{width}}" + "".join(f"  {est.sampler:>{c}}" for est, c in zip(estimates, cols)),
    ]
    lines += [f"  {name:<{width}}" + "".join(f"  {v:>{c}}" for v, c in zip(values, cols)) for name, values in rows]
    return "\n".join(lines)


def quadrature_nodes(z_max: float) -> int:
    """An upper bound on the quadrature and interpolation nodes of one dataset."""
    panels = math.ceil(math.log1p(z_max) / PANEL_WIDTH) + GRADED_PANELS
    return NODES_PER_PANEL * panels + KNOTS


def _common_components(
    n_data: int, full_cov: bool, batch: int, cov_from_text: bool, z_max: float, systematics=(), threads: int = 1
) -> dict:
    """The data's and the likelihood's components; ``systematics``: (how many, N) of each light-curve
    release's N × N systematic matrices, which ``min(threads, batch)`` threads evaluate at once."""
    n = n_data
    matrix = n * n * F8
    held = sum(count * size * size for count, size in systematics) * F8
    largest = max((size for _, size in systematics), default=0)
    # The text matrices are read one after another: the last one's strings beside those already held.
    parsing = largest * largest * COV_TEXT_BYTES_PER_VALUE + held
    loading = (
        n * TABLE_BYTES_PER_ROW + (n * n * COV_TEXT_BYTES_PER_VALUE if full_cov and cov_from_text else 0) + parsing
    )
    temporaries = batch * F8 * (NODE_TEMPORARIES * quadrature_nodes(z_max) + SOLVE_TEMPORARIES * n)
    components = {
        "baseline": BASELINE_MB,
        "monitor": MONITOR_MB,
        "data_loading": loading / MB,
        "loading_residue": LOADING_RESIDUE * loading / MB,
        "covariance": (matrix if full_cov else 4 * n * F8) / MB,
        "cholesky": CHOLESKY_COPIES * matrix / MB if full_cov else 0.0,
        "numba_kernels": NUMBA_MB,
        "likelihood_temporaries": temporaries / MB,
    }
    if systematics:
        packed = sum(count * size * (size + 1) // 2 for count, size in systematics) * F8
        buffers = min(threads, batch) * sum(size * size for _, size in systematics) * F8
        components.update(
            {
                "systematic_matrices": held / MB,
                "systematics_packed": PACKING_COPIES * packed / MB,
                "covariance_buffers": buffers / MB,
            }
        )
    return components


def estimate_emcee(
    n_walkers: int,
    n_steps: int,
    n_params: int,
    n_data: int,
    full_cov: bool,
    checkpoint_steps: int,
    *,
    check_every: int = CHECK_EVERY,
    tau_max_lag: int = TAU_MAX_LAG,
    cov_from_text: bool = True,
    z_max: float = 2.5,
    progress_figure: bool = True,
    systematics=(),
    threads: int = 1,
) -> MemoryEstimate:
    """Peak RSS of ``run_emcee`` for up to ``n_steps`` steps, on ``threads`` threads.

    A segment holds at most ``min(checkpoint_steps, check_every)`` steps, since
    the runner also commits one at every convergence check. The stopping
    rule's sums cover ``min(n_steps, tau_max_lag)`` lags, whatever the chain's
    length. ``n_data`` counts the rows read, before any cut. ``progress_figure``:
    the live progress figure may be drawn (a run cannot know beforehand whether
    it will last long enough to draw it). ``systematics``: as :func:`_common_components`.
    """
    walker_bytes = n_walkers * (n_params + 1) * F8
    segment = min(checkpoint_steps, check_every, n_steps)
    lags = min(n_steps, tau_max_lag)
    fft_length = tau_max_lag + 2 * AUTOCORR_BLOCK
    temporaries = (
        BLOCK_COPIES * AUTOCORR_BLOCK * n_params * n_walkers
        + SERIES_TEMPORARIES * lags * n_walkers
        + FFT_TEMPORARIES * min(n_walkers, WALKER_CHUNK) * fft_length
    ) * F8
    components = _common_components(n_data, full_cov, n_walkers, cov_from_text, z_max, systematics, threads)
    components.update(
        {
            "sampler": EMCEE_FIXED_MB,
            "segment_buffer": SEGMENT_COPIES * segment * walker_bytes / MB,
            "autocorr_sums": AUTOCORR_ARRAYS * lags * n_walkers * n_params * F8 / MB,
            "tau_temporaries": temporaries / MB,
            "final_assembly": segment * walker_bytes / MB,
            "progress_figure": (FIGURE_LIBRARIES_MB + PROGRESS_FIGURE_MB + PROGRESS_FIGURE_MB_PER_PARAM * n_params)
            if progress_figure
            else 0.0,
            "stuck_watch": STUCK_WATCH_BYTES * min(n_steps, WATCH_ROWS) * n_walkers / MB,
        }
    )
    return MemoryEstimate("emcee", components, seed_upper_bound(n_walkers, n_steps, n_params))


def dynesty_iterations(
    nlive: int, n_params: int, expected_information: float, dlogz: float, *, method: str = "static"
) -> int:
    """Samples a run ends with: dead points plus the final live points.

    Nested sampling shrinks the prior volume by e^(−1/nlive) per iteration; the
    bulk of the posterior lies ``H`` nats in, and stopping at ``dlogz`` takes
    about ln(1/dlogz) + n_params/2 nats more. This fits measured runs to 2 %
    on Gaussians and to 11 % on janusfit's fits of simulated supernovae.

    The dynamic sampler makes such a run first (``nlive``, ``dlogz``), then
    adds batches until its posterior's effective sample size reaches dynesty's
    default target: 11,800–14,100 iterations on JLA binned at ``nlive`` 50–500,
    where the static run alone is 500–2,500 (nlive 100–500).
    """
    nats = expected_information + math.log(1.0 / dlogz) + n_params / 2.0
    static = math.ceil(nlive * (max(nats, 0.0) + 1.0))
    if method == "dynamic":
        return static + math.ceil(max(n_params**2, DYNAMIC_TARGET_ESS) / DYNAMIC_ESS_PER_ITERATION)
    return static


def emcee_run_estimate(
    e, n_params: int, n_data: int, full_cov: bool, z_max: float, *, systematics=(), threads: int = 1
) -> MemoryEstimate:
    """:func:`estimate_emcee` for a run's ``EmceeSettings`` ``e`` (the registry's ``memory`` of emcee)."""
    return estimate_emcee(
        e.n_walkers,
        e.max_steps,
        n_params,
        n_data,
        full_cov,
        e.checkpoint_steps,
        check_every=e.check_every,
        tau_max_lag=e.tau_max_lag,
        z_max=z_max,
        progress_figure=e.progress_figure,
        systematics=systematics,
        threads=threads,
    )


def dynesty_run_estimate(
    d, n_params: int, n_data: int, full_cov: bool, z_max: float, *, systematics=(), threads: int = 1
) -> MemoryEstimate:
    """:func:`estimate_dynesty` for a run's ``DynestySettings`` ``d`` (the registry's ``memory`` of dynesty).

    ``threads`` does not change it: dynesty evaluates one point at a time.
    """
    return estimate_dynesty(
        d.nlive, n_params, n_data, full_cov, dlogz=d.dlogz, method=d.method, z_max=z_max, systematics=systematics
    )


def estimate_dynesty(
    nlive: int,
    n_params: int,
    n_data: int,
    full_cov: bool,
    expected_information: float = DEFAULT_INFORMATION,
    *,
    dlogz: float = 0.1,
    method: str = "static",
    cov_from_text: bool = True,
    z_max: float = 2.5,
    systematics=(),
) -> MemoryEstimate:
    """Peak RSS of ``run_dynesty``, which samples in one process, one point per likelihood call.

    ``expected_information`` is the KL divergence H (nats) from prior to
    posterior; a run's actual H is in its result. ``n_data`` counts the rows
    read, before any cut: the whole covariance file is parsed. ``systematics``:
    as :func:`_common_components`.
    """
    points = dynesty_iterations(nlive, n_params, expected_information, dlogz, method=method)
    updates = math.ceil(BOUND_UPDATES_PER_NLIVE_ITERATIONS * points / nlive)
    ellipsoid = ELLIPSOID_BYTES + 3 * n_params * n_params * F8
    components = _common_components(n_data, full_cov, 1, cov_from_text, z_max, systematics)
    components.update(
        {
            "sampler": DYNESTY_FIXED_MB,
            "live_points": nlive * (2 * n_params + 4) * F8 / MB,
            "dead_points": points * (DEAD_POINT_BYTES + 2 * n_params * F8) / MB,
            "checkpoint_pickling": points * (CHECKPOINT_BYTES_PER_POINT + 4 * n_params * F8) / MB,
            "bounds": updates * ELLIPSOIDS_PER_BOUND * ellipsoid / MB,
        }
    )
    return MemoryEstimate("dynesty", components)


def seed_upper_bound(n_walkers: int, n_steps: int, n_params: int, overhead: float = SEED_OVERHEAD) -> int:
    """MB for an emcee chain held whole in memory: walkers × steps × params × 8 B × overhead + baseline."""
    return math.ceil(n_walkers * n_steps * n_params * F8 * overhead / MB + BASELINE_MB)


def mem_mb_for_attempt(estimate_mb: float, attempt: int) -> int:
    """Snakemake's ``mem_mb`` for a (re)try: the estimate times the attempt number."""
    return math.ceil(estimate_mb * max(int(attempt), 1))


def machine_memory_mb() -> int:
    return psutil.virtual_memory().total // MB


def memory_budget(requested_mb: float, granted_mb: float | None, machine_mb: float | None = None) -> tuple[float, str]:
    """(MB a job may use, whose limit that is) from the ``mem_mb`` it asked for and the one Snakemake gave it.

    Snakemake lowers a job's ``mem_mb`` to the ``--resources mem_mb`` total
    without a word, so a grant below the request is that limit; otherwise the
    limit is the machine's memory. ``granted_mb`` is None outside Snakemake.
    """
    machine_mb = machine_memory_mb() if machine_mb is None else machine_mb
    if granted_mb is not None and granted_mb < requested_mb and granted_mb < machine_mb:
        return float(granted_mb), "Snakemake's --resources mem_mb"
    return float(machine_mb), "this machine"


def check_fits(estimate_mb: float, available_mb: float, source: str) -> None:
    """Raise ResourceError when the estimate exceeds ``available_mb`` (``source`` says whose limit it is)."""
    if estimate_mb > available_mb:
        raise ResourceError(
            f"the sampling job needs an estimated {math.ceil(estimate_mb)} MB of memory but {source} "
            f"allows {math.floor(available_mb)} MB. Lower emcee.n_walkers or emcee.checkpoint.steps "
            f"(emcee), or dynesty.nlive (dynesty), or give the job more memory."
        )


def measure_baseline_mb(modules=BASELINE_MODULES) -> float:
    """RSS (MB) of a fresh interpreter after importing ``modules``: how BASELINE_MB was measured."""
    code = (
        "import importlib, json, sys, psutil\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(psutil.Process().memory_info().rss))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *modules], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout.strip().splitlines()[-1]) / MB
