"""How many threads the likelihood's batch kernels use.

A sampling job is given ``threads`` by Snakemake; :func:`use_threads` turns
that count into the two places threads come from, never more than it:

- numba's thread pool, on which the ``prange`` kernels deal out the rows
  (parameter vectors) of a batch: the reduced-form χ² of large supernova
  samples, and the light-curve likelihood, whose rows with systematic
  matrices each factor their own N × N C(α, β) with LAPACK
  (``numba.set_num_threads``; numba's pool has at most
  ``NUMBA_NUM_THREADS`` threads, the machine's CPUs by default);
- BLAS, through threadpoolctl: at most ``threads`` for a serial kernel,
  and 1 while rows run on numba's threads (:func:`rows_on_threads`), as
  BLAS threads under every row would ask for threads² cores.

With one thread every kernel runs its serial variant (:func:`kernel` picks
between a serial kernel and its parallel twin). A row's arithmetic is the
same compiled function in both, so the results agree to the last bit
(``tests/test_parallel.py`` asserts it); the documented tolerance, should a
compiler ever vectorise the two apart, is 1e-12 relative.
"""

from __future__ import annotations

from contextlib import nullcontext

_state = {"threads": 1, "blas": None}


def threads() -> int:
    """Threads the likelihood's kernels use now (1 until :func:`use_threads` says otherwise)."""
    return _state["threads"]


def _blas_controller():
    # Built once: threadpoolctl finds the loaded BLAS libraries by scanning them, ~ms.
    if _state["blas"] is None:
        from threadpoolctl import ThreadpoolController

        _state["blas"] = ThreadpoolController()
    return _state["blas"]


def use_threads(n: int) -> int:
    """Let the kernels use ``n`` threads (numba, the row pool, BLAS); returns the count in force.

    Capped by numba's pool (``NUMBA_NUM_THREADS``), which is the most a
    ``prange`` kernel can use.
    """
    import numba

    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    _blas_controller().limit(limits=n, user_api="blas")
    _state["threads"] = n
    return n


def rows_on_threads():
    """A block whose kernel calls LAPACK in every row on numba's threads: BLAS at 1 thread meanwhile.

    Without it each of those threads would ask BLAS for ``threads`` more.
    With one thread in force, BLAS keeps its count (the serial kernel's rows
    run one after another).
    """
    if _state["threads"] == 1:
        return nullcontext()
    return _blas_controller().limit(limits=1, user_api="blas")


def kernel(pair: tuple):
    """The serial or the parallel variant of a (serial, parallel) pair, for the threads in force."""
    return pair[0] if _state["threads"] == 1 else pair[1]
