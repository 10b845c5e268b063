"""What the diagnostic rules read and write: no NaN in a summary, a damaged chain named."""

import json
import math
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from matplotlib.image import imread
from release_configs import jla_binned
from schema_defaults import with_defaults
from test_checkpoint_store import jla_diagonal, run_emcee_in

from janusfit.errors import JanusfitError
from janusfit.likelihood import Posterior
from janusfit.models import get_model
from janusfit.resources.usage import run_resources
from janusfit.stages.diagnose import read_chain, summary


def dynesty_only_config(public_data) -> dict:
    """A config of JLA binned and ΛCDM with dynesty alone, every other key at the schema's default."""
    return with_defaults(
        {
            "datasets": {"jla": jla_binned(public_data)},
            "models": ["lcdm"],
            "samplers": ["dynesty"],
            "dynesty": {"nlive": 50, "dlogz": 0.5},
        }
    )


def evidence_json(tmp_path, **values) -> str:
    """An evidence.json of dynesty with ``values`` over plausible ones."""
    evidence = tmp_path / "evidence.json"
    evidence.write_text(
        json.dumps(
            {
                "logz": -20.0,
                "logz_err": 0.1,
                "logz_err_running": 0.1,
                "n_calls": 1000,
                "n_iter": 500,
                "resumes": [],
                "information": 0.0,
                "repeats": None,
                "domain": None,
                "fingerprint": "0" * 16,
                **values,
            }
        )
    )
    return str(evidence)


def test_a_nan_evidence_error_stops_the_summary_naming_the_field(tmp_path, public_data):
    config = dynesty_only_config(public_data)
    evidence = evidence_json(tmp_path, logz_err=math.nan)
    out = tmp_path / "summary.json"
    with pytest.raises(
        JanusfitError,
        match=r"^summary of run jla/lcdm: 'dynesty\.logz_err' is nan; the summary was "
        r"not written",
    ):
        summary(config=config, dataset="jla", model="lcdm", out_json=out, dynesty_json=evidence)
    assert not out.exists()


def test_a_run_stopped_by_maxiter_is_summarised_as_incomplete(tmp_path, public_data):
    """dynesty's running error of such a run is not a number: recorded as null, it does not stop the summary."""
    evidence = evidence_json(tmp_path, logz_err_running=None, complete=False, dlogz_remaining=2.5)
    out = summary(
        config=dynesty_only_config(public_data),
        dataset="jla",
        model="lcdm",
        out_json=tmp_path / "s.json",
        dynesty_json=evidence,
    )
    assert (out["dynesty"]["complete"], out["dynesty"]["dlogz_remaining"]) == (False, 2.5)
    assert out["dynesty"]["logz_err_running"] is None
    # An evidence.json written before maxiter existed is of a run that reached dlogz.
    old = summary(
        config=dynesty_only_config(public_data),
        dataset="jla",
        model="lcdm",
        out_json=tmp_path / "old.json",
        dynesty_json=evidence_json(tmp_path),
    )
    assert (old["dynesty"]["complete"], old["dynesty"]["dlogz_remaining"]) == (True, None)


def test_final_samples_cut_short_are_named_by_their_readers(tmp_path, public_data):
    """If the samples are damaged after Snakemake started (else they are set aside and written again first)."""
    from janusfit.sampling.dynesty_samples import read_weighted

    samples = tmp_path / "samples.h5"
    with h5py.File(samples, "w") as f:
        for key in ("samples", "weights", "logl"):
            f.create_dataset(key, data=np.ones((4000, 2)) if key == "samples" else np.ones(4000))
        f.attrs["logz"] = 1.0
    samples.write_bytes(samples.read_bytes()[:3000])
    with pytest.raises(
        JanusfitError,
        match=rf"^the final samples '{re.escape(str(samples))}' cannot be read \(OSError: .*\)\. Rerun "
        r"Snakemake: the damaged file is set aside and the dynesty job writes it again from its checkpoint",
    ):
        read_weighted(samples)


def test_a_final_chain_cut_short_is_named_by_its_readers(tmp_path, public_data):
    """If the chain is damaged after Snakemake started (else it is set aside and rebuilt first)."""
    run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [jla_diagonal(public_data)]), max_steps=100)
    chain = tmp_path / "chain.h5"
    chain.write_bytes(chain.read_bytes()[:2000])
    with pytest.raises(
        JanusfitError,
        match=rf"^the final chain '{re.escape(str(chain))}' cannot be read \(OSError: "
        r".*truncated file.*\)\. Rerun Snakemake: the damaged file is set aside "
        r"and the emcee job rebuilds it from its checkpoint segments",
    ):
        read_chain(chain)


@pytest.mark.parametrize("final", ["chain", "samples"])
def test_a_final_file_open_for_writing_in_another_process_is_in_use_not_damaged(tmp_path, public_data, final):
    """The audit's case: a good chain.h5 that a notebook held open with 'r+' was called damaged and moved aside,
    by `snakemake -n` too (HDF5 locks a file open for writing: BlockingIOError), and every job after it reran."""
    from janusfit.sampling import dynesty_samples, emcee_hdf5

    if final == "chain":
        run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [jla_diagonal(public_data)]), max_steps=100)
        path, what, set_aside, read = (
            tmp_path / "chain.h5",
            "the final chain",
            emcee_hdf5.set_aside_if_unreadable,
            read_chain,
        )
    else:
        path, what = tmp_path / "samples.h5", "the final samples"
        set_aside, read = dynesty_samples.set_aside_if_unreadable, dynesty_samples.read_weighted
        with h5py.File(path, "w") as f:
            for key in ("samples", "weights", "logl"):
                f.create_dataset(key, data=np.ones((40, 2)) if key == "samples" else np.full(40, 1 / 40))
            f.attrs["logz"] = 1.0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import h5py, sys; f = h5py.File({str(path)!r}, 'r+'); print('open'); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "open\n"
        said = set_aside(path)
        assert said.startswith(f"{what} '{path}': the file is open for writing in another process (")
        assert said.endswith("it was left in place")
        with pytest.raises(JanusfitError, match=rf"^{what} '{re.escape(str(path))}' (is|are) open for writing"):
            read(path)
    finally:
        holder.stdin.close()
        holder.wait()
    assert path.exists() and not list(tmp_path.glob("*.damaged-*"))
    assert set_aside(path) is None


def _zero_bytes(path, offset: int, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(bytes(size))


def _damaged_copies(original, path, readers):
    """For each reader: ``path`` a fresh copy of ``original``, then what reading it raised."""
    for read in readers:
        shutil.copyfile(original, path)
        with pytest.raises(JanusfitError) as info:
            read(path)
        yield str(info.value)


def test_a_final_chain_damaged_inside_is_named_by_its_readers_and_set_aside(tmp_path, public_data):
    """The audit's case: zeros written a third into chain.h5 read as numbers, with no error anywhere:
    convergence.json gave τ 254 for 4.6 and R̂ 1.33, and the summary blamed the data."""
    from janusfit.export.draws import read_emcee
    from janusfit.sampling.emcee_hdf5 import chain_problem

    run_emcee_in(tmp_path, Posterior(get_model("lcdm"), [jla_diagonal(public_data)]), max_steps=400)
    chain, original = tmp_path / "chain.h5", tmp_path / "original.h5"
    with h5py.File(chain) as f:
        stored = f["mcmc/chain"][()]
        first = f["mcmc/chain"].id.get_chunk_info(0)
    _zero_bytes(chain, first.byte_offset + first.size // 3, 4096)
    with h5py.File(chain) as f:  # the damage reads as numbers
        assert np.sum(f["mcmc/chain"][()] != stored) > 0 and np.all(np.isfinite(f["mcmc/chain"][()]))
    assert chain_problem(chain) is None  # nor does opening it or its last chunk tell
    shutil.move(chain, original)
    for message in _damaged_copies(original, chain, (read_chain, lambda p: read_emcee(p, burn_in=0, n_groups=4))):
        assert re.fullmatch(
            rf"the final chain '{re.escape(str(chain))}': its values are not those it was written with \(sha256 "
            r"[0-9a-f]{12}…, written [0-9a-f]{12}…\): it was damaged after it was written; it was moved to "
            rf"'{re.escape(str(chain))}\.damaged-[0-9T]+-\d+'\. To go on, rerun Snakemake: the emcee job rebuilds "
            r"it from its checkpoint",
            message,
        ), message
        assert not chain.exists()
    # A chain written before janusfit recorded the digest is read as it is.
    shutil.copyfile(original, chain)
    with h5py.File(chain, "r+") as f:
        del f["mcmc"].attrs["janusfit_values_sha256"]
    assert read_chain(chain)[0].shape == stored.shape


def test_final_samples_damaged_inside_are_named_by_their_readers_and_set_aside(tmp_path):
    from types import SimpleNamespace

    from janusfit.sampling.dynesty_runner import write_samples
    from janusfit.sampling.dynesty_samples import read_weighted

    samples, original = tmp_path / "samples.h5", tmp_path / "original.h5"
    points = np.random.default_rng(1).normal(size=(4000, 2))
    arrays = {"samples": points, "weights": np.full(4000, 1 / 4000), "logl": -0.5 * np.sum(points**2, axis=1)}
    write_samples(samples, arrays, ["a", "b"], SimpleNamespace(logz=-1.8, logz_err=0.05))
    assert read_weighted(samples)[0].tobytes() == points.tobytes()
    with h5py.File(samples) as f:
        offset = f["samples"].id.get_offset()
    _zero_bytes(samples, offset + 8 * 2 * 1000, 8 * 2 * 100)
    shutil.move(samples, original)
    for message in _damaged_copies(original, samples, (read_weighted,)):
        assert message.startswith(
            f"the final samples '{samples}': its values are not those it was written with (sha256 "
        ) and message.endswith("To go on, rerun Snakemake: the dynesty job writes them again")
        assert not samples.exists() and len(list(tmp_path.glob("samples.h5.damaged-*"))) >= 1


def test_a_stopping_target_above_the_convergence_threshold_is_not_a_failure(tmp_path, public_data):
    """The audit's case: with stop.n_over_tau 1000, a chain passing every check was 'NO: stopping rule not met'.

    The stopping rule says where a chain stops; whether it converged is the checks' to say.
    """
    from snakemake_runner import run, write_config

    write_config(
        tmp_path,
        public_data,
        models=["lcdm"],
        samplers=["emcee"],
        emcee={"max_steps": 3000, "stop": {"n_over_tau": 1000}},
    )
    run(tmp_path, "results/jla/lcdm/summary.json")
    record = json.loads((tmp_path / "results/jla/lcdm/emcee/run.json").read_text())
    convergence = json.loads((tmp_path / "results/jla/lcdm/convergence.json").read_text())
    assert record["stop_reason"] == "max_steps" and not record["converged"]  # N/τ < 1000 at 3000 steps
    assert convergence["passed"] and convergence["parameters"]["Om"]["n_over_tau"] > 50
    emcee = json.loads((tmp_path / "results/jla/lcdm/summary.json").read_text())["emcee"]
    assert emcee["converged"] and emcee["convergence_failures"] == []


def test_the_summary_job_draws_each_samplers_memory_figure(tmp_path, public_data):
    """Drawn from the sampling job's record, which no longer includes matplotlib's import and rendering."""
    record = {"peak_rss_mb": 180.0, "process_maxrss_mb": 210.0, "duration_s": 12.0, "job_wall_s": 13.0}
    record |= {"earlier_sessions_s": 0.0, "estimate_mb": 300.0, "machine_mb": 24000, "interval_s": 0.5}
    (tmp_path / "memory.json").write_text(json.dumps(record | {"series": [[0.0, 150.0], [0.5, 180.0]]}))
    (tmp_path / "resources.json").write_text(json.dumps({"dynesty": {"mem_mb": 300, "runtime_minutes": 1.0}}))
    out = summary(
        config=dynesty_only_config(public_data),
        dataset="jla",
        model="lcdm",
        out_json=tmp_path / "summary.json",
        dynesty_json=evidence_json(tmp_path),
        resources=run_resources(tmp_path / "resources.json", {"dynesty": tmp_path / "memory.json"}),
        memory_figures={"dynesty": (tmp_path / "memory.json", tmp_path / "memory.png")},
    )
    assert out["resources"]["dynesty"]["peak_rss_mb"] == 210.0
    assert imread(tmp_path / "memory.png").ndim == 3


def test_the_memory_estimate_beside_a_jobs_peak_is_the_one_the_job_made(tmp_path):
    """The audit's case: emcee.progress.figure: false lowers emcee's estimate, made again by the job (360 MB),
    not by the pre-flight job, whose record (382 MB) the summary gave beside the job's peak."""
    (tmp_path / "resources.json").write_text(json.dumps({"emcee": {"mem_mb": 382, "runtime_minutes": 1.0}}))
    record = {"peak_rss_mb": 200.0, "process_maxrss_mb": 205.0, "duration_s": 12.0, "job_wall_s": 13.0}
    record |= {"estimate_mb": 360, "machine_mb": 24000, "interval_s": 0.5, "series": [[0.0, 200.0]]}
    (tmp_path / "memory.json").write_text(json.dumps(record))
    resources = run_resources(tmp_path / "resources.json", {"emcee": tmp_path / "memory.json"})
    assert resources["emcee"]["mem_mb_estimate"] == resources["mem_mb_estimate"] == 360
    assert resources["emcee"]["runtime_estimate_min"] == 1.0


def test_equal_weight_draws_follow_the_weights_and_repeat(tmp_path):
    """The Hubble diagram's draws without emcee: dynesty's points picked by weight, the same at every call."""
    from types import SimpleNamespace

    from janusfit.sampling.dynesty_runner import write_samples
    from janusfit.sampling.dynesty_samples import equal_weight_draws

    grid = np.linspace(-5.0, 5.0, 2001)
    weights = np.exp(-0.5 * ((grid - 1.0) / 0.5) ** 2)
    arrays = {"samples": grid[:, None], "weights": weights / weights.sum(), "logl": np.log(weights)}
    write_samples(tmp_path / "samples.h5", arrays, ["x"], SimpleNamespace(logz=0.0, logz_err=0.1))
    draws = equal_weight_draws(tmp_path / "samples.h5")
    assert draws.shape == (2001, 1)
    # N(1, 0.5) by weight: mean and sd within 4 standard errors of 2001 draws.
    assert abs(draws.mean() - 1.0) < 4 * 0.5 / np.sqrt(2001)
    assert abs(draws.std() - 0.5) < 4 * 0.5 / np.sqrt(2 * 2001)
    assert equal_weight_draws(tmp_path / "samples.h5").tobytes() == draws.tobytes()
