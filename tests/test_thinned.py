"""The stopping rule's thinned copy: which steps it keeps, and its τ against emcee's."""

import numpy as np
import pytest
from emcee.autocorr import integrated_time

from janusfit.sampling.thinned import ThinnedChain, _fast_length


def _kept_steps(n_steps: int, max_rows: int) -> tuple[np.ndarray, int]:
    """The rule: every thin-th step, thin the smallest power of two keeping ≤ max_rows."""
    thin = 1
    while n_steps // thin > max_rows:
        thin *= 2
    steps = np.arange(n_steps)
    return steps[(steps + 1) % thin == 0], thin


@pytest.mark.parametrize("max_rows", [7, 100, 1000])
def test_keeps_the_rule_steps_whatever_the_segments(max_rows):
    rng = np.random.default_rng(max_rows)
    chain = rng.normal(size=(5000, 4, 3))
    copy, at = ThinnedChain(max_rows), 0
    while at < len(chain):
        k = int(rng.integers(1, 700))
        copy.append(chain[at: at + k])
        at = min(at + k, len(chain))
        steps, thin = _kept_steps(at, max_rows)
        assert copy.thin == thin
        np.testing.assert_array_equal(copy.array(), chain[steps].astype(np.float32))


def test_tau_is_emcees_estimate_of_the_kept_rows():
    rng = np.random.default_rng(1)
    # Random walks with a short memory: τ of tens of steps.
    chain = np.empty((3000, 8, 2))
    chain[0] = rng.normal(size=(8, 2))
    for i in range(1, len(chain)):
        chain[i] = 0.95 * chain[i - 1] + rng.normal(size=(8, 2))
    copy = ThinnedChain(1000)
    copy.append(chain)
    expected = integrated_time(copy.array().astype(float), tol=0, quiet=True) * copy.thin
    np.testing.assert_allclose(copy.tau(), expected, rtol=1e-12)


def test_fast_length_is_the_next_5_smooth_number():
    for n in [1, 2, 7, 97, 1000, 39999, 65537]:
        length = _fast_length(n)
        assert length >= n
        rest = length
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        assert rest == 1
        assert all(not _smooth(m) for m in range(n, length))


def _smooth(m: int) -> bool:
    for p in (2, 3, 5):
        while m % p == 0:
            m //= p
    return m == 1
