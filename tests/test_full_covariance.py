"""Pantheon+ and DES-SN5YR with their full covariances, from files in exactly the released formats.

The real covariances (Pantheon+SH0ES_STAT+SYS.cov, 33 MB; DES-SN5YR
STAT+SYS.txt.gz) are not on this machine, so the tests write synthetic ones
over the real tables in the releases' layout: the size N on the first line,
then N² values one per line (DES: ``" 0.000000e+00  "`` lines, gzip), with
Pantheon+'s last-digit asymmetries. The test marked ``network`` reads the real
files (``python -m pytest -m network tests/test_full_covariance.py``).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import re
import threading
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from astropy.cosmology import FlatLambdaCDM
from scipy.linalg import cho_factor, cho_solve
from snakemake_runner import run, write_config

from janusfit.atomic import sha256_file
from janusfit.data import load_dataset
from janusfit.data.download import download_dataset
from janusfit.data.sources import identity
from janusfit.errors import DataError
from janusfit.likelihood import Posterior, SNLikelihood
from janusfit.models import get_model
from janusfit.resources.requests import data_shape
from janusfit.sampling.fingerprint import digest, make_fingerprint

PP_TABLE = "pantheonplus/Pantheon+SH0ES.dat"
DES_TABLE = "desy5/DES-SN5YR_HD.csv"
PP_ASYMMETRY = 3e-8  # the largest last-digit asymmetry of the released Pantheon+ file (issue 14)


def systematic_cov(z: np.ndarray, sigma: np.ndarray, seed: int) -> np.ndarray:
    """Diagonal errors plus rank-8 systematics like a release's: six survey calibrations and two in redshift."""
    rng = np.random.default_rng(seed)
    survey = rng.integers(0, 6, z.size)
    calibration = (survey[:, None] == np.arange(6)) * rng.uniform(0.01, 0.03, 6)
    vectors = np.column_stack([calibration, 0.04 * z, 0.02 * np.sin(4 * z)])
    return np.diag(sigma**2) + vectors @ vectors.T


def write_release_cov(path, matrix: np.ndarray, line: str, compress: bool = False) -> None:
    """N, then the N² values row-major, one per ``line`` (a format such as ``" {:.6e}  "``)."""
    text = f"{matrix.shape[0]}\n" + "\n".join(map(line.format, matrix.ravel().tolist())) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode(), compresslevel=1, mtime=0))
    else:
        path.write_text(text)


def read_release_cov(path) -> np.ndarray:
    """The test's own reader of the layout (pandas'), independent of janusfit's."""
    values = pd.read_csv(path, header=None, skiprows=1, sep=r"\s+").to_numpy().ravel()
    n = int(round(np.sqrt(values.size)))
    return values.reshape(n, n)


@pytest.fixture(scope="module")
def releases(public_data, tmp_path_factory):
    """Synthetic STAT+SYS files over every row of the real tables, in the released layouts.

    Pantheon+: 1701 × 1701, one value per line, with asymmetries up to 3e-8
    written into the upper triangle. DES-SN5YR: 1829 × 1829, gzip, the
    systematics only (the loader adds MUERR_FINAL²).
    """
    directory = tmp_path_factory.mktemp("releases")
    pp = pd.read_csv(public_data / PP_TABLE, sep=r"\s+")
    pp_cov = systematic_cov(pp["zHD"].to_numpy(), pp["m_b_corr_err_DIAG"].to_numpy(), seed=1)
    upper = np.triu(np.random.default_rng(2).uniform(-PP_ASYMMETRY, PP_ASYMMETRY, pp_cov.shape), 1)
    upper[0, 5] = PP_ASYMMETRY
    write_release_cov(directory / "Pantheon+SH0ES_STAT+SYS.cov", pp_cov + upper, "{:.10e}")
    des = pd.read_csv(public_data / DES_TABLE)
    des_sys = systematic_cov(des["zHD"].to_numpy(), np.zeros(len(des)), seed=3)
    write_release_cov(directory / "STAT+SYS.txt.gz", des_sys, " {:.6e}  ", compress=True)
    return {
        "dir": directory,
        "pp_table": pp,
        "des_table": des,
        "pp": {
            "kind": "sn",
            "format": "pantheon_plus",
            "path": str(public_data / PP_TABLE),
            "cov": str(directory / "Pantheon+SH0ES_STAT+SYS.cov"),
        },
        "des": {
            "kind": "sn",
            "format": "desy5",
            "path": str(public_data / DES_TABLE),
            "cov": str(directory / "STAT+SYS.txt.gz"),
        },
    }


def test_pantheon_plus_covariance_is_cut_like_the_table_and_symmetrised(releases):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no diagonal-error warning with the covariance
        d = load_dataset("pp", releases["pp"])
    table = releases["pp_table"]
    keep = (table["zHD"] > 0.01).to_numpy()
    assert keep.sum() == 1590 and d.n == 1590 and d.sigma is None
    written = read_release_cov(releases["dir"] / "Pantheon+SH0ES_STAT+SYS.cov")
    assert written.shape == (1701, 1701)
    np.testing.assert_array_equal(d.cov, (0.5 * (written + written.T))[np.ix_(keep, keep)])
    np.testing.assert_array_equal(d.z, table["zHD"].to_numpy()[keep])
    # The largest asymmetry is reported: the one written, to the last digit of the file.
    assert d.cov_asymmetry == pytest.approx(PP_ASYMMETRY, abs=1e-11)


def test_des_covariance_is_stat_sys_plus_muerr_final_squared(releases):
    d = load_dataset("des", releases["des"])
    muerr = releases["des_table"]["MUERR_FINAL"].to_numpy()
    with gzip.open(releases["dir"] / "STAT+SYS.txt.gz", "rt") as f:
        lines = f.read().splitlines()
    assert lines[0] == "1829" and len(lines) == 1 + 1829**2 and lines[1].startswith(" ") and lines[1].endswith("  ")
    expected = read_release_cov(releases["dir"] / "STAT+SYS.txt.gz") + np.diag(muerr**2)
    assert d.n == 1829 and d.sigma is None
    np.testing.assert_array_equal(d.cov, expected)
    assert d.cov_asymmetry == 0.0


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "sn", "format": "union3", "path": "union3/lcparam_full.txt", "cov": "union3/mag_covmat.txt"},
        {"kind": "sn", "format": "jla_binned", "path": "jla/jla_mub.txt", "cov": "jla/jla_mub_covmatrix.txt"},
        {"kind": "sn", "format": "pantheon_plus", "path": PP_TABLE},
        {"kind": "sn", "format": "desy5", "path": DES_TABLE},
        {"kind": "sn", "format": "csv", "path": DES_TABLE, "columns": {"z": "zHD", "mu": "MU", "sigma": "MUERR_FINAL"}},
        {"kind": "hz", "format": "hz_table", "path": "cosmic_chronometers/moresco2016_hz.txt"},
    ],
    ids=lambda spec: spec["format"],
)
@pytest.mark.filterwarnings("ignore:.*(MUERR_FINAL|DO NOT FIT)")
def test_every_format_reads_gzip(public_data, tmp_path, spec):
    """A gzip copy, named .gz or not (it is known by its first bytes), reads the same numbers."""
    plain = load_dataset("d", spec, public_data)
    files = {key: spec[key] for key in ("path", "cov") if key in spec}
    for suffix in (".gz", ""):
        zipped = {}
        for key, rel in files.items():
            target = tmp_path / f"{key}{suffix}"
            target.write_bytes(gzip.compress((public_data / rel).read_bytes()))
            zipped[key] = str(target)
        d = load_dataset("d", {**spec, **zipped}, public_data)
        assert d.arrays_sha256 == plain.arrays_sha256 and d.n == plain.n
        assert d.sha256["path"] != plain.sha256["path"]  # the checksum is of the bytes on disk


# --- bad covariance files: each message names the file and what is wrong ---------------------------


def small_pp(public_data, directory, n_rows: int = 40) -> tuple[dict, np.ndarray]:
    """``n_rows`` rows of the real Pantheon+ table straddling the cut zHD > 0.01, and a good covariance."""
    lines = (public_data / PP_TABLE).read_text().splitlines()
    (directory / "pp.dat").write_text("\n".join([lines[0], *lines[101 : 101 + n_rows]]) + "\n")
    table = pd.read_csv(directory / "pp.dat", sep=r"\s+")
    cov = systematic_cov(table["zHD"].to_numpy(), table["m_b_corr_err_DIAG"].to_numpy(), seed=4)
    return {
        "kind": "sn",
        "format": "pantheon_plus",
        "path": str(directory / "pp.dat"),
        "cov": str(directory / "pp.cov"),
    }, cov


def _values(cov):
    return [f"{v:.10e}" for v in cov.ravel()]


def _transposed_entry(cov):
    bad = cov.copy()
    bad[2, 7] += 0.01
    return [str(cov.shape[0]), *_values(bad)]


def _not_positive_definite(cov):
    bad = cov.copy()
    bad[3, 3] = -0.01
    return [str(cov.shape[0]), *_values(bad)]


BAD_COVARIANCES = {
    "wrong_n": (
        lambda cov: ["1700", *_values(cov)],
        r"covariance declares N=1700, so needs N\*N=2890000 values, "
        r"but has 1600",
    ),
    "missing_value": (
        lambda cov: [str(cov.shape[0]), *_values(cov)[:-1]],
        r"covariance declares N=40, so needs N\*N=1600 values, but has 1599",
    ),
    "not_symmetric": (
        _transposed_entry,
        r"covariance is not symmetric: worst at \[(3, 8|8, 3)\] .*asymmetry 0\.01, "
        r"more than 0\.0001 sqrt\(C_ii C_jj\)",
    ),
    "not_positive_definite": (_not_positive_definite, r"covariance is not positive definite \(smallest eigenvalue -"),
    "smaller_than_the_table": (
        lambda cov: [str(cov.shape[0] - 1), *_values(cov[1:, 1:])],
        "covariance is 39x39 but the data file has 40 rows",
    ),
}


@pytest.mark.parametrize("name", list(BAD_COVARIANCES))
@pytest.mark.parametrize("compress", [False, True], ids=["text", "gzip"])
def test_bad_release_covariance_is_named(public_data, tmp_path, name, compress):
    spec, cov = small_pp(public_data, tmp_path)
    edit, message = BAD_COVARIANCES[name]
    text = "\n".join(edit(cov)) + "\n"
    path = tmp_path / "pp.cov"
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    with pytest.raises(DataError, match=f"^data file '{re.escape(str(path))}': {message}"):
        load_dataset("pp", spec)


def test_release_rounding_is_accepted_and_a_good_small_file_loads(public_data, tmp_path):
    spec, cov = small_pp(public_data, tmp_path)
    rounded = cov.copy()
    rounded[0, 1] += 1e-7  # ten times Pantheon+'s largest, on its smallest variances
    write_release_cov(tmp_path / "pp.cov", rounded, "{:.10e}")
    d = load_dataset("pp", spec)
    assert d.cov_asymmetry == pytest.approx(1e-7, rel=1e-3)


def test_damaged_gzip_is_named(public_data, tmp_path):
    spec, cov = small_pp(public_data, tmp_path)
    path = tmp_path / "pp.cov"
    write_release_cov(path, cov, " {:.6e}  ", compress=True)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(
        DataError,
        match=f"^data file '{re.escape(str(path))}': is gzip-compressed but does not decompress "
        r"\(.*\); the file is damaged or cut short",
    ):
        load_dataset("pp", spec)


def test_the_checkpoint_fingerprint_covers_the_covariance(public_data, tmp_path):
    """A changed covariance value changes the fingerprint; one in a row the cut drops, only the file's checksum."""
    spec, cov = small_pp(public_data, tmp_path)
    keep = np.flatnonzero(pd.read_csv(spec["path"], sep=r"\s+")["zHD"] > 0.01)
    dropped = np.setdiff1d(np.arange(cov.shape[0]), keep)

    def fingerprint(i, j):
        changed = cov.copy()
        changed[i, j] = changed[j, i] = cov[i, j] + 1e-4
        write_release_cov(tmp_path / "pp.cov", changed, "{:.10e}")
        return make_fingerprint(Posterior(get_model("lcdm"), [load_dataset("pp", spec)]), "emcee", {})

    base, kept, cut = fingerprint(0, 0), fingerprint(keep[0], keep[1]), fingerprint(dropped[0], dropped[1])
    for other in (kept, cut):
        assert other["data"]["pp"]["sha256"]["cov"] != base["data"]["pp"]["sha256"]["cov"]
        assert digest(other) != digest(base)
    assert kept["data"]["pp"]["arrays_sha256"] != base["data"]["pp"]["arrays_sha256"]
    assert cut["data"]["pp"]["arrays_sha256"] == base["data"]["pp"]["arrays_sha256"]


# --- a file with no published checksum: recorded at its first verified download ------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """(directory, base URL) of a loopback HTTP server standing in for a release's host."""
    directory = tmp_path / "upstream"
    directory.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield directory, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def recorded_des(public_data, tmp_path, served) -> tuple[dict, Path]:
    """A DES-SN5YR dataset whose gzip covariance (60 rows) is downloaded with ``cov_sha256: record``."""
    upstream, url = served
    lines = (public_data / DES_TABLE).read_text().splitlines()
    (tmp_path / "des.csv").write_text("\n".join(lines[:61]) + "\n")
    z = pd.read_csv(tmp_path / "des.csv")["zHD"].to_numpy()
    write_release_cov(
        upstream / "STAT+SYS.txt.gz", systematic_cov(z, np.zeros(z.size), seed=6), " {:.6e}  ", compress=True
    )
    spec = {
        "kind": "sn",
        "format": "desy5",
        "path": "des.csv",
        "cov_url": f"{url}/STAT%2BSYS.txt.gz",
        "cov_sha256": "record",
    }
    return spec, upstream / "STAT+SYS.txt.gz"


def test_first_verified_download_records_its_sha256_and_later_runs_check_it(public_data, tmp_path, served):
    spec, upstream = recorded_des(public_data, tmp_path, served)
    before = identity({"datasets": {"des": spec}}, ["des"], tmp_path)
    (cached,) = download_dataset("des", spec, tmp_path)
    assert cached.parent.parent == tmp_path / "resources/data/unpinned" and cached.name == "STAT+SYS.txt.gz"
    record = cached.with_name("STAT+SYS.txt.gz.sha256")
    assert cached.read_bytes() == upstream.read_bytes()
    assert record.read_text() == f"{sha256_file(upstream)}  STAT+SYS.txt.gz\n"
    d = load_dataset("des", spec, tmp_path)
    assert d.n == 60 and d.sha256["cov"] == sha256_file(upstream)
    # The identity the workflow reruns on is the same before and after the first download.
    assert identity({"datasets": {"des": spec}}, ["des"], tmp_path) == before
    # Upstream changes: the cached copy is kept and read; a new download is refused, nothing written.
    write_release_cov(upstream, 2 * read_release_cov(upstream), " {:.6e}  ", compress=True)
    assert download_dataset("des", spec, tmp_path) == [cached]
    assert load_dataset("des", spec, tmp_path).arrays_sha256 == d.arrays_sha256
    kept = cached.read_bytes()
    cached.unlink()
    with pytest.raises(
        DataError,
        match=f"^data file '{re.escape(str(cached))}': download from .* has sha256 {sha256_file(upstream)}, "
        f"but its first verified download recorded {d.sha256['cov']} in {re.escape(str(record))}; "
        "the release changed",
    ):
        download_dataset("des", spec, tmp_path)
    assert not cached.exists()
    # The cached copy changed after it was verified: the loader refuses it, naming the record.
    cached.write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
    with pytest.raises(
        DataError,
        match=f"^data file '{re.escape(str(cached))}': has sha256 .*, but its first verified "
        f"download recorded {d.sha256['cov']} in {re.escape(str(record))}; the file "
        "changed since",
    ):
        load_dataset("des", spec, tmp_path)
    # A copy put in the cache by hand, with no record: not read.
    cached.write_bytes(kept)
    record.unlink()
    with pytest.raises(
        DataError,
        match=f"^data file '{re.escape(str(cached))}': has no checksum recorded by a "
        f"verified download \\({re.escape(str(record))} is missing\\); delete the "
        "file and rerun to download it again",
    ):
        load_dataset("des", spec, tmp_path)


def test_a_first_download_that_is_not_a_covariance_records_nothing(public_data, tmp_path, served):
    spec, upstream = recorded_des(public_data, tmp_path, served)
    upstream.write_text("<html>404: Not Found</html>\n")
    with pytest.raises(
        DataError,
        match=r"first download from .* does not read as a covariance \(covariance value 1 "
        r"\(after the size\) 'Not' is not a number\); nothing was written and no "
        "checksum recorded",
    ):
        download_dataset("des", spec, tmp_path)
    assert not any(p.is_file() for p in (tmp_path / "resources").rglob("*"))


def test_workflow_records_then_checks_and_says_so(public_data, tmp_path, served):
    spec, upstream = recorded_des(public_data, tmp_path, served)
    spec["path"] = str(tmp_path / "des.csv")
    project = tmp_path / "project"
    project.mkdir()
    write_config(
        project, public_data, datasets={"des": spec}, run_datasets=["des"], models=["lcdm"], samplers=["emcee"]
    )
    first = run(project, "results/des/data.json")
    assert "rule download:" in first.stdout + first.stderr
    record = next((project / "resources/data/unpinned").glob("*/STAT+SYS.txt.gz.sha256"))
    sha = sha256_file(upstream)
    assert record.read_text().split()[0] == sha
    said = (
        f"'{record.relative_to(project).with_suffix('')}' has no pinned sha256 ('datasets.des.cov_sha256: "
        f"record'); checked: it has the sha256 {sha} recorded at its first verified download, in "
        f"{record.relative_to(project)}"
    )
    assert said in (project / "results/logs/inspect_data/des.log").read_text()
    # A later run downloads nothing and reruns nothing; made to reread the data, it checks and says so again.
    again = run(project, "results/des/data.json")
    assert "rule download:" not in again.stdout + again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr
    run(project, "results/des/data.json", "--forcerun", "inspect_data")
    assert said in (project / "results/logs/inspect_data/des.log").read_text()


# --- the reduced form at the releases' sizes -----------------------------------------------------


def direct_chi2(d, model, theta, grid) -> np.ndarray:
    """The M-marginalised χ² from μ at every supernova with numpy/scipy on the full matrix (the definition)."""
    factor = cho_factor(d.cov, lower=True)
    ones = np.ones(d.n)
    inv_one = cho_solve(factor, ones)
    out = []
    for row in theta:
        mu = 5 * np.log10((1 + d.zhel) * model.transverse_distance(row[None, :], grid)[0])
        delta = d.values - mu
        inv_delta = cho_solve(factor, delta)
        e = ones @ inv_one
        out.append(delta @ inv_delta - (ones @ inv_delta) ** 2 / e + np.log(e / (2 * np.pi)))
    return np.array(out)


@pytest.mark.parametrize("which, n", [("pp", 1590), ("des", 1829)])
def test_reduced_form_matches_direct_evaluation_at_full_size(releases, which, n):
    d = load_dataset(which, releases[which])
    like = SNLikelihood(d)
    # the reduced form, and the full matrix through LAPACK (beyond the compiled small solve)
    assert d.n == n and like.reduced is not None and not like.errors.diagonal and like.errors.lt is None
    rng = np.random.default_rng(5)
    for name in ("lcdm", "janus", "wcdm"):
        model = get_model(name)
        lo, hi = np.array([model.default_priors[p] for p in model.params]).T
        theta = lo + rng.random((40, lo.size)) * (hi - lo)
        theta = theta[model.in_domain(theta, d.z.max())][:12]
        reduced, ok, _ = like.reduced(model, theta)
        assert ok.mean() > 0.5
        direct = direct_chi2(d, model, theta, like.grid)
        # χ² ≈ 1600 to 10⁵ here; the reduced form keeps it to ~1e-9 relative, far below what moves a posterior.
        np.testing.assert_allclose(reduced[ok], direct[ok], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(like.chi2(model, theta), direct, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(like.chi2_direct(model, theta), direct, rtol=1e-9, atol=1e-6)


# --- a real workflow run on both, against quadrature ---------------------------------------------


def quadrature_om(d, prior=(0.01, 1.0)) -> tuple[float, float]:
    """Posterior mean and sd of Ωm (flat ΛCDM, flat prior, M marginalised) by quadrature, with astropy distances.

    A coarse grid over the prior finds the posterior; a fine one over ±8 sd of
    it (or to the prior's edges) integrates it.
    """
    factor = cho_factor(d.cov, lower=True)
    ones = np.ones(d.n)
    inv_one = cho_solve(factor, ones)
    e = ones @ inv_one

    def moments(grid):
        chi2 = []
        for om in grid:
            dm = FlatLambdaCDM(H0=70, Om0=om).comoving_transverse_distance(d.z).value
            delta = d.values - 5 * np.log10((1 + d.zhel) * dm)
            inv_delta = cho_solve(factor, delta)
            chi2.append(delta @ inv_delta - (ones @ inv_delta) ** 2 / e)
        weight = np.exp(-0.5 * (np.array(chi2) - min(chi2)))
        mean = np.trapezoid(grid * weight, grid) / np.trapezoid(weight, grid)
        return mean, np.sqrt(np.trapezoid((grid - mean) ** 2 * weight, grid) / np.trapezoid(weight, grid))

    mean, sd = moments(np.linspace(*prior, 100))
    mean, sd = moments(np.linspace(max(prior[0], mean - 8 * sd), min(prior[1], mean + 8 * sd), 241))
    return float(mean), float(sd)


@pytest.fixture(scope="module")
def workflow_run(releases, public_data, tmp_path_factory):
    directory = tmp_path_factory.mktemp("fullcov")
    write_config(
        directory,
        public_data,
        datasets={"pp": releases["pp"], "des": releases["des"]},
        run_datasets=["pp", "des"],
        models=["lcdm"],
        samplers=["emcee"],
    )
    run(directory, "results/pp/lcdm/summary.json", "results/des/lcdm/summary.json")
    return directory


@pytest.mark.parametrize("which, n", [("pp", 1590), ("des", 1829)])
def test_workflow_on_release_format_covariances_matches_quadrature(releases, workflow_run, which, n):
    results = workflow_run / "results" / which
    data = json.loads((results / "data.json").read_text())
    (member,) = data["members"]
    assert (member["n"], member["errors"]) == (n, "full covariance")
    assert member["cov_asymmetry"] == pytest.approx(PP_ASYMMETRY if which == "pp" else 0.0, abs=1e-11)
    assert "symmetrised; its largest asymmetry" in (workflow_run / f"results/logs/inspect_data/{which}.log").read_text()
    om = json.loads((results / "lcdm/summary.json").read_text())["parameters"]["Om"]
    mean, sd = quadrature_om(load_dataset(which, releases[which]))
    # emcee's mean is within a few Monte Carlo errors (ESS ≥ 400: sd / 20) of the exact one.
    assert abs(om["mean"] - mean) < 0.2 * sd
    assert om["sd"] == pytest.approx(sd, rel=0.15)


def test_memory_estimate_holds_on_the_1829_run(workflow_run):
    """The estimate covers the N × N matrix, its text and its factor: measured ≤ predicted ≤ 2 × measured."""
    # Pantheon+'s whole file is parsed and checked: it is sized by the 1701 rows read, not the 1590 fitted.
    assert data_shape(workflow_run / "results/pp/data.json")[:2] == (1701, True)
    assert data_shape(workflow_run / "results/des/data.json")[:2] == (1829, True)
    run_dir = workflow_run / "results/des/lcdm"
    predicted = json.loads((run_dir / "resources.json").read_text())["emcee"]["mem_mb"]
    measured = json.loads((run_dir / "emcee/memory.json").read_text())["peak_rss_mb"]
    print(f"DES-SN5YR 1829 x 1829, emcee: predicted {predicted} MB, measured peak {measured:.0f} MB")
    assert measured <= predicted <= 2 * measured


# --- the real releases (network) -----------------------------------------------------------------

PUBLISHED_OM = {"pantheon_plus": (0.334, 0.018), "desy5": (0.352, 0.017)}  # Brout et al. 2022; DES 2024, Table 2


def _network() -> str | None:
    """Why the releases cannot be fetched here, or None."""
    try:
        urllib.request.urlopen("https://raw.githubusercontent.com/", timeout=10)
    except urllib.error.HTTPError:
        return None
    except Exception as exc:  # noqa: BLE001 - any failure to connect means no network
        return f"no network to raw.githubusercontent.com ({exc.__class__.__name__}: {exc})"
    return None


@pytest.mark.network
@pytest.mark.parametrize("name", list(PUBLISHED_OM))
def test_real_release_reproduces_the_published_matter_density(repo, tmp_path, name):
    reason = _network()
    if reason:
        pytest.skip(f"{reason}: the full covariances (33 MB and 1829² values) are downloaded from their releases")
    spec = yaml.safe_load((repo / "config/public.yaml").read_text())["datasets"][name]
    download_dataset(name, spec, tmp_path)
    d = load_dataset(name, spec, tmp_path)
    assert d.has_full_cov and d.n == {"pantheon_plus": 1590, "desy5": 1829}[name]
    # janusfit's own χ² on a fine grid of the default prior: the posterior mean by quadrature.
    grid = np.linspace(0.01, 1.0, 1981)
    chi2 = Posterior(get_model("lcdm"), [d]).chi2(grid[:, None])
    weight = np.exp(-0.5 * (chi2 - chi2.min()))
    mean = np.trapezoid(grid * weight, grid) / np.trapezoid(weight, grid)
    published, sigma = PUBLISHED_OM[name]
    print(f"{name}: Om = {mean:.4f}, published {published} ± {sigma}")
    assert abs(mean - published) < 0.3 * sigma
