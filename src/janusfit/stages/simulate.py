"""The rule simulate_data: the embedded default data.

A module of its own, apart from the other data rules, because each rule reruns
for the code its script imports (``janusfit.code.script_code``): with the
inspection's plotting and loading beside it, an edit of a figure or of a
loader rewrote the simulated data, and every job of the default workflow
after them reran.
"""

from __future__ import annotations

from ..data.simulate import write_simulated


def simulate(*, spec: dict, out_csv, out_cov, out_truth, log) -> None:
    """The files of a simulated dataset; ``spec`` is :func:`janusfit.data.sources.simulation_spec`'s."""
    truth = write_simulated(out_csv, out_cov, out_truth, n_sn=spec["n_sn"], seed=spec["seed"])
    log.info(
        f"simulated {truth['n_sn']} supernovae from {truth['model']} with Om = {truth['Om']} (seed {truth['seed']})"
    )
