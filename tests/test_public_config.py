"""config/public.yaml: its pins are the releases' bytes, and its downloads feed the workflow.

The real URLs need the network; here every URL is served from tests/data
by a local HTTP server, mapped by checksum, so the pins, the download rule and
the loaders are exercised exactly as on a networked machine.
"""

import hashlib
import json
import os
import re
import shutil

import yaml
from snakemake_runner import run

PUBLIC = "config/public.yaml"


def _pins(config):
    for name, spec in config["datasets"].items():
        for url_key, sha_key in (("url", "sha256"), ("cov_url", "cov_sha256")):
            if url_key in spec:
                yield name, url_key, spec[sha_key]


def _shared_files_by_sha256(public_data):
    return {
        hashlib.sha256(p.read_bytes()).hexdigest(): p
        for p in public_data.rglob("*")
        if p.is_file() and p.name != "MANIFEST.md"
    }


# Pins of files that are not in ../shared/data: Pantheon+'s covariance (33 MB) by the sha256
# two independent public projects give for it, and DES-SN5YR's, recorded at its first download.
ABSENT_HERE = {
    ("pantheon_plus", "cov_url"): "abf806d966485e64afdb359c87bffc0ecc00d05eff0a31ced66f247385df0fdc",
    ("desy5", "cov_url"): "record",
}


def test_every_pin_is_the_sha256_of_a_release_file(repo, public_data):
    config = yaml.safe_load((repo / PUBLIC).read_text())
    known = _shared_files_by_sha256(public_data)
    pins = list(_pins(config))
    assert len(pins) == 10
    for name, key, sha in pins:
        if (name, key) in ABSENT_HERE:
            assert sha == ABSENT_HERE[name, key]
        else:
            assert sha in known, f"datasets.{name}.{key}: {sha} matches no release file in {public_data}"


def test_public_datasets_download_and_load_through_the_workflow(repo, public_data, server, tmp_path):
    config = yaml.safe_load((repo / PUBLIC).read_text())
    known = _shared_files_by_sha256(public_data)
    for name, key, sha in _pins(config):
        if sha in known:
            config["datasets"][name][key] = f"{server}/{known[sha].relative_to(public_data)}"
    config["run_datasets"] = ["union3+cc"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run(tmp_path, "results/public/union3+cc/data.json")
    data = json.loads((tmp_path / "results/public/union3+cc/data.json").read_text())
    assert data["n_data"] == 22 + 30
    union3, cc = data["members"]
    assert (union3["name"], union3["n"], union3["errors"]) == ("union3", 22, "full covariance")
    assert (cc["name"], cc["kind"], cc["n"]) == ("cc", "hz", 30)
    assert cc["sha256"] == {"path": config["datasets"]["cc"]["sha256"]}
    cov_sha = config["datasets"]["union3"]["cov_sha256"]
    assert (tmp_path / "resources/data" / cov_sha / "mag_covmat.txt").read_bytes() == (
        public_data / "union3/mag_covmat.txt"
    ).read_bytes()


def test_public_config_runs_offline_from_the_copies_the_readme_names(repo, public_data, tmp_path):
    """README's offline overlay, verbatim: the local copies are read in place, checked, never downloaded over.

    The copies are copies of tests/data under tmp_path (with the same
    relative layout), dated long ago as a restore from an archive leaves them.
    """
    readme = (repo / "README.md").read_text()
    overlay = re.search(r"#### Working offline.*?```yaml\n(.*?)```", readme, re.S).group(1)
    shutil.copytree(public_data, tmp_path / "shared/data", copy_function=shutil.copy)
    for path in (tmp_path / "shared/data").rglob("*"):
        os.utime(path, (946684800, 946684800))
    copies = {p: p.read_bytes() for p in (tmp_path / "shared/data").rglob("*") if p.is_file()}
    project = tmp_path / "project"
    project.mkdir()
    (project / "offline.yaml").write_text(overlay)
    config = yaml.safe_load((repo / PUBLIC).read_text())
    for spec in yaml.safe_load(overlay)["datasets"].values():
        assert set(spec) <= {"path", "cov"}
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    proc = run(
        project,
        "results/public/union3+cc/data.json",
        "--configfile",
        str(project / "config.yaml"),
        str(project / "offline.yaml"),
    )
    assert "rule download" not in proc.stdout + proc.stderr
    assert not (project / "resources").exists()
    # A run of one target leaves the workflow unmade: no report is attempted, and the log says why.
    assert "janusfit: no HTML report yet" in proc.stderr and "the HTML report failed" not in proc.stderr
    assert not (project / "results/public/logs/report.log").exists()
    assert {p: p.read_bytes() for p in (tmp_path / "shared/data").rglob("*") if p.is_file()} == copies
    union3, cc = json.loads((project / "results/public/union3+cc/data.json").read_text())["members"]
    assert union3["files"]["cov"] == str(project / "../shared/data/union3/mag_covmat.txt")
    assert union3["sha256"] == {
        "path": config["datasets"]["union3"]["sha256"],
        "cov": config["datasets"]["union3"]["cov_sha256"],
    }
    assert cc["sha256"] == {"path": config["datasets"]["cc"]["sha256"]}
