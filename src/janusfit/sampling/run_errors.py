"""The statistical errors of a nested-sampling run: of ln Z, and of the posterior mean and sd of each parameter.

A nested-sampling run never knows the prior volume X_i enclosed at each of its
steps: each step shrinks it by a random factor, the largest of n_live
uniform numbers, and ln Z inherits that randomness. Simulating it (Higson et
al. 2018, Statistics and Computing 28, 1399) gives the error directly:
``dynesty.utils.jitter_run`` draws the shrinkage factors again for the same
likelihoods, live points and order, and the standard deviation of ln Z over
those draws is the error.

dynesty's analytic estimate (``compute_integrals``' ``logzvar``, the change of
the information at each step times that step's Δ ln X, summed) is larger
than the scatter it should describe. Over 200 seeds each of JANUS, ΛCDM and
wCDM on JLA binned (nlive 100), ln Z's distance from the exact value
(quadrature) had an rms of 0.82, 0.81 and 0.90 of that estimate, and over
200 JANUS and 260 ΛCDM seeds at nlive 500 (the default) 0.79: a Bayes
factor looked less certain than it is. The simulated error gives 0.98, 0.96,
1.04, and 0.99 at nlive 500, on the same runs; on dynamic runs (53 ΛCDM and
50 JANUS seeds, nlive 100) 1.00 and 1.07, and with two parameters (51 seeds of
JANUS with H0 on the cosmic chronometers, nlive 200) 1.03. It is drawn with its own seed, so
a run and its resumption report the same error.

A weighted mean or sd has both that randomness of its weights (the same
draws give it) and the finite number of its points (sd/√n for a mean,
sd/√(2n) for an sd, n Kish's effective number of the weights); the two are
added in quadrature. Kish's alone is too small: over 100 seeds each (nlive
500), the mean's distance from the exact one had an rms of 0.91–1.34 of it
on JLA binned (ΛCDM), Union3 (JANUS, piled against q0 = 0) and the cosmic
chronometers (JANUS and ΛCDM with H0), and a largest of 3.5. With the
volumes' part added, 0.65–0.85 for means and 0.69–0.88 for sds over 40 seeds
each of the same six parameters, and a largest of 2.3: conservative, as
dynesty's own recipe (``resample_run`` then ``jitter_run``, 0.63–0.80 on
the same cases) is. These errors serve the exact cross-check of a run that
has dynesty alone, where its weighted samples give the parameter estimates.
"""

from __future__ import annotations

import math

import numpy as np

DRAWS = 200  # volume realisations: the error's own relative uncertainty is 1/√(2·DRAWS) = 5 %
STREAM = 7  # keeps the draws apart from the sampler's own stream of the same seed


def run_errors(results, *, seed: int, draws: int = DRAWS) -> tuple[float, dict]:
    """ln Z's error, and per parameter index the errors of the weighted mean and sd (keys ``mean``, ``sd``).

    ``results`` is a finished run's ``dynesty.results.Results`` with its final
    live points (static or dynamic); ``seed`` the run's seed. ln Z's error is
    the standard deviation of the final ln Z over ``draws`` simulated sets of
    prior volumes; a moment's is that of the moment over the same draws,
    added in quadrature to Kish's.
    """
    from dynesty.utils import jitter_run

    rng = np.random.default_rng([seed, STREAM])
    logz, means, sds = [], [], []
    for _ in range(draws):
        run = jitter_run(results, rstate=rng)
        logz.append(run.logz[-1])
        mean, sd = _moments(results.samples, run.logwt - run.logz[-1])
        means.append(mean)
        sds.append(sd)
    mean, sd = _moments(results.samples, np.asarray(results.logwt) - results.logz[-1])
    weights = np.exp(np.asarray(results.logwt) - results.logz[-1])
    kish = weights.sum() ** 2 / np.sum(weights**2)
    volume_mean, volume_sd = np.std(means, axis=0, ddof=1), np.std(sds, axis=0, ddof=1)
    moments = {
        i: {
            "mean": math.hypot(sd[i] / math.sqrt(kish), volume_mean[i]),
            "sd": math.hypot(sd[i] / math.sqrt(2.0 * kish), volume_sd[i]),
        }
        for i in range(len(mean))
    }
    return float(np.std(logz, ddof=1)), moments


def _moments(samples: np.ndarray, logwt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and sd of each column of ``samples``, the weights exp(``logwt``) normalised here."""
    w = np.exp(logwt - np.max(logwt))
    w /= w.sum()
    mean = w @ samples
    return mean, np.sqrt(np.maximum(w @ (samples - mean) ** 2, 0.0))
