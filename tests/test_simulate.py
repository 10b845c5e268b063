"""The simulated Hubble diagram: fiducial distances, covariance, reproducibility, recovery of the truth."""

import json

import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM

from janusfit.data import load_dataset, simulate_hubble_diagram
from janusfit.data.simulate import DEFAULT_SEED, fiducial_magnitude, write_simulated
from janusfit.likelihood import Posterior
from janusfit.models import get_model


def write(directory, **kw):
    directory.mkdir(parents=True, exist_ok=True)
    paths = (directory / "sim.csv", directory / "sim.cov", directory / "truth.json")
    write_simulated(*paths, **kw)
    return paths


def load(csv, cov):
    return load_dataset("sim", {"kind": "sn", "format": "simulated", "path": str(csv), "cov": str(cov)})


@pytest.fixture(scope="module")
def default_sample():
    return simulate_hubble_diagram()


def test_fiducial_magnitude_matches_astropy():
    z = np.array([0.01, 0.1, 0.5, 1.0, 1.8])
    astropy = FlatLambdaCDM(H0=70.0, Om0=0.3, Tcmb0=0.0).distmod(z).value - 19.3
    np.testing.assert_allclose(fiducial_magnitude(z), astropy, atol=1e-6, rtol=0)


def test_sample_looks_like_a_pantheon_compilation(default_sample):
    table, cov, truth = default_sample
    assert list(table.columns) == ["z", "mb", "sigma", "survey"] and len(table) == 300
    assert truth == {"model": "lcdm", "Om": 0.3, "H0": 70.0, "M": -19.3, "seed": DEFAULT_SEED, "n_sn": 300}
    z = table["z"].to_numpy()
    assert np.all(np.diff(z) >= 0) and z[0] >= 0.01 and 1.2 < z[-1] <= 1.8
    counts = table["survey"].value_counts()
    assert counts["HST"] < counts["LOWZ"] < counts["SNLS_DES"]
    assert np.all((table["sigma"] > 0.12) & (table["sigma"] < 0.25))
    # larger errors at high z than at mid z (measurement), and at the lowest z (peculiar velocities)
    mid = table["sigma"][(z > 0.1) & (z < 0.2)].mean()
    assert table["sigma"][z > 1.0].mean() > mid and table["sigma"][z < 0.02].mean() > mid


def test_covariance_is_full_symmetric_positive_definite(default_sample):
    table, cov, _ = default_sample
    np.testing.assert_array_equal(cov, cov.T)
    assert np.linalg.eigvalsh(cov)[0] > 0
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), table["sigma"])
    survey = table["survey"].to_numpy()
    i, j = np.flatnonzero(survey == "LOWZ")[:2]
    k = np.flatnonzero(survey == "HST")[0]
    assert cov[i, j] > cov[i, k] > 0  # calibration shared within a survey, z-mode across surveys


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = write(tmp_path / "a", n_sn=50, seed=7)
    second = write(tmp_path / "b", n_sn=50, seed=7)
    other = write(tmp_path / "c", n_sn=50, seed=8)
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
    assert first[0].read_bytes() != other[0].read_bytes()


def test_files_load_as_simulated_and_as_csv_with_cov(tmp_path):
    csv, cov, truth_json = write(tmp_path, n_sn=40, seed=3)
    table, matrix, truth = simulate_hubble_diagram(n_sn=40, seed=3)
    assert json.loads(truth_json.read_text()) == truth
    assert cov.read_text().split("\n", 1)[0] == "40"
    simulated = load(csv, cov)
    generic = load_dataset(
        "sim", {"kind": "sn", "format": "csv", "path": str(csv), "cov": str(cov), "columns": {"mu": "mb"}}
    )
    for d in (simulated, generic):
        assert d.n == 40 and d.sigma is None
        np.testing.assert_allclose(d.z, table["z"], atol=5e-7)
        np.testing.assert_allclose(d.values, table["mb"], atol=5e-7)
        np.testing.assert_allclose(d.cov, matrix, rtol=1e-11)


@pytest.mark.parametrize("om, seed", [(0.3, DEFAULT_SEED), (0.5, 11)])
def test_posterior_recovers_the_true_matter_density(tmp_path, om, seed):
    """A grid posterior of flat ΛCDM on the written files finds the Ωm of truth.json within 3σ."""
    csv, cov, truth_json = write(tmp_path, om=om, seed=seed)
    truth = json.loads(truth_json.read_text())
    posterior = Posterior(get_model("lcdm"), [load(csv, cov)])
    grid = np.linspace(0.02, 0.98, 481)
    chi2 = posterior.chi2(grid[:, None])
    weight = np.exp(-0.5 * (chi2 - chi2.min()))
    weight /= weight.sum()
    mean = weight @ grid
    std = np.sqrt(weight @ (grid - mean) ** 2)
    assert 0.01 < std < 0.1
    assert abs(mean - truth["Om"]) < 3 * std
    # the noise was drawn from the covariance the fit uses, so χ² is about N
    n = truth["n_sn"]
    assert abs(chi2.min() - n) < 5 * np.sqrt(2 * n)


def test_too_few_supernovae():
    with pytest.raises(ValueError, match="n_sn must be at least 4"):
        simulate_hubble_diagram(n_sn=3)


# --- what identifies simulated-format data before inspect_data runs -------------------------------------


def simulated_spec(path: str) -> dict:
    return {"kind": "sn", "format": "simulated", "path": f"{path}.csv", "cov": f"{path}.cov", "n_sn": 50}


def test_a_users_file_in_the_simulated_format_is_checksummed_like_any_other(tmp_path):
    """Replaced by another seed's files, it reruns inspect_data: the workflow did not write it."""
    from janusfit.data.sources import identity

    config = {"datasets": {"sim": simulated_spec("data/sim")}}
    write(tmp_path / "data", n_sn=50, seed=1)
    before = identity(config, ["sim"], tmp_path)
    write(tmp_path / "data", n_sn=50, seed=2)
    assert identity(config, ["sim"], tmp_path) != before


def test_the_files_simulate_data_writes_are_identified_by_their_spec_not_their_bytes(tmp_path):
    """Absent while Snakemake plans the first run and present at the next: no checksum of theirs may differ."""
    from janusfit.data.sources import SIMULATED_FILES, identity

    spec = simulated_spec("results/data/simulated/hubble")
    config = {"datasets": {"simulated": spec}}
    planned_first = identity(config, ["simulated"], tmp_path)
    files = {key: tmp_path / pattern.format(name="simulated") for key, pattern in SIMULATED_FILES.items()}
    write_simulated(files["csv"], files["cov"], files["truth"], n_sn=50)
    assert identity(config, ["simulated"], tmp_path) == planned_first
    # the same path read by a dataset of another name or format is still the workflow's
    config["datasets"]["as_csv"] = {**spec, "format": "csv"}
    assert '"sha256": {}' in identity(config, ["as_csv"], tmp_path)


def test_n_sn_and_seed_written_out_at_their_default_are_the_reading_that_leaves_them_out(tmp_path):
    """Both read as config.yaml writes them, and as every run of it recorded them: nothing reruns and its
    checkpoints resume; a checkpoint of a run that left them out (before this) resumes too."""
    from janusfit.data.sources import identity, reading_spec
    from janusfit.sampling.fingerprint import check_fingerprint, make_fingerprint

    left_out = {"kind": "sn", "format": "simulated", "path": "results/data/simulated/hubble.csv"}
    written = {**left_out, "n_sn": 300, "seed": 20231121}
    assert identity({"datasets": {"simulated": left_out}}, ["simulated"], tmp_path) == identity(
        {"datasets": {"simulated": written}}, ["simulated"], tmp_path
    )
    assert reading_spec(left_out) == {"format": "simulated", "kind": "sn", "n_sn": 300, "seed": 20231121}
    csv, cov, _ = write(tmp_path, n_sn=50)
    dataset = load(csv, cov)
    current = make_fingerprint(Posterior(get_model("lcdm"), [dataset]), "emcee", {})
    stored = json.loads(json.dumps(current))
    stored["data"]["sim"]["reading"] = {"format": "simulated", "kind": "sn"}
    check_fingerprint(stored, current, tmp_path)


def test_simulate_data_params_of_config_yaml_are_the_same_however_n_sn_and_seed_are_written(repo):
    """Snakemake compares params by their repr: config.yaml's entry, the same with its last two lines (n_sn,
    seed) deleted, swapped or written as floats, or with keys that only say how the files are read, give
    simulate_data one repr, the one every finished run of config.yaml recorded."""
    import yaml

    from janusfit.data.sources import simulation_spec

    written = yaml.safe_load((repo / "config/config.yaml").read_text())["datasets"]["simulated"]
    assert list(written)[-2:] == ["n_sn", "seed"]
    location = {k: v for k, v in written.items() if k not in ("n_sn", "seed")}
    reworded = [
        location,
        {**location, "seed": written["seed"], "n_sn": written["n_sn"]},
        {**location, "n_sn": float(written["n_sn"]), "seed": float(written["seed"])},
        {"columns": {}, **dict(reversed(written.items()))},
    ]
    assert {repr(simulation_spec(entry)) for entry in [written, *reworded]} == {repr(written)}


def test_a_simulation_size_written_as_a_float_simulates_the_same_files(tmp_path):
    """The audit's case: n_sn: 300.0 passed the schema (an integer to JSON Schema), then numpy refused it in
    the simulate_data job with a traceback, and Snakemake removed the simulated files."""
    import logging

    from janusfit.data.sources import simulation_spec
    from janusfit.stages.simulate import simulate

    files = {}
    for name, size in (("int", 60), ("float", 60.0)):
        out = tmp_path / name
        out.mkdir()
        spec = simulation_spec({"kind": "sn", "format": "simulated", "n_sn": size, "seed": 7})
        simulate(spec=spec, out_csv=out / "h.csv", out_cov=out / "h.cov", out_truth=out / "t.json", log=logging)
        files[name] = [(out / f).read_bytes() for f in ("h.csv", "h.cov", "t.json")]
    assert files["float"] == files["int"]


def test_a_users_table_in_the_simulated_format_needs_no_truth_file(tmp_path):
    """The README allows a simulated-format file of one's own; the corner plot asked for its
    '<path>.truth.json', which no rule makes, and Snakemake's plan stopped (MissingInputException)."""
    import subprocess

    import yaml
    from snakemake_runner import command, env

    from janusfit.data.sources import simulated_truth

    write(tmp_path / "data", n_sn=50, seed=1)  # its truth is data/truth.json, not data/sim.truth.json
    config = {"datasets": {"mine": simulated_spec("data/sim")}, "run_datasets": ["mine"], "models": ["lcdm"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    plan = subprocess.run(command(tmp_path, "-n"), capture_output=True, text=True, env=env(), timeout=600)
    assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr[-2000:]
    assert "rule corner:" in plan.stdout
    assert simulated_truth(config, "mine", tmp_path) is None
    (tmp_path / "data" / "sim.truth.json").write_text("{}")
    assert simulated_truth(config, "mine", tmp_path) == "data/sim.truth.json"
    default = {"datasets": {"simulated": simulated_spec("results/data/simulated/hubble")}}
    assert simulated_truth(default, "simulated", tmp_path) == "results/data/simulated/hubble.truth.json"
