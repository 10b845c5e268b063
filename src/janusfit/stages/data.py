"""The data rules: fetch releases, inspect a dataset (simulating and drawing the data are modules of their own)."""

from __future__ import annotations

from ..atomic import atomic_write_json, sha256_file
from ..config import members
from ..data import download, load_dataset
from ..data.overlap import check_members
from ..data.sources import KEYS, sources


def fetch(*, url: str, dest, sha256: str, log, key: str = "path") -> None:
    if sha256 == "record":
        log.info(
            f"downloading {url} -> {dest} (no pinned sha256: checked against the one recorded at its first "
            "verified download, or verified and recorded now)"
        )
    else:
        log.info(f"downloading {url} -> {dest} (pinned sha256 {sha256})")
    download(url, dest, sha256, key=key)
    if sha256 == "record":
        log.info(f"{dest}: sha256 {sha256_file(dest)}, recorded in {dest}.sha256")


def inspect(*, config: dict, dataset: str, out_json, log) -> dict:
    """Load and validate every member of ``dataset``; write its description.

    Members that hold the same data are refused; supernovae shared by two
    members are named in a warning. The figure of the data is another rule's
    (``stages.data_figure``): every sampler reads this description, and a job
    that drew would rerun them all for an edit of a figure.
    """
    loaded = [load_dataset(name, config["datasets"][name]) for name in members(config, dataset)]
    for d in loaded:
        for source in sources(d.name, config["datasets"][d.name]):
            if source.recorded:
                log.info(
                    f"{d.name}: '{source.file}' has no pinned sha256 ('datasets.{d.name}.{KEYS[source.key][1]}: "
                    f"record'); checked: it has the sha256 {source.sha256} recorded at its first verified "
                    f"download, in {source.record_file}"
                )
    for warning in check_members(dataset, loaded):
        log.warning(warning)
    info = {
        "dataset": dataset,
        "members": [
            {
                "name": d.name,
                "kind": d.kind,
                "n": d.n,
                "n_read": d.n_read,
                "z_min": float(d.z.min()),
                "z_max": float(d.z.max()),
                "errors": "full covariance" if d.has_full_cov else "diagonal",
                **({"cov_asymmetry": d.cov_asymmetry} if d.cov_asymmetry is not None else {}),
                "files": d.files,
                "sha256": d.sha256,
                "arrays_sha256": d.arrays_sha256,
                "reading": d.reading,
            }
            for d in loaded
        ],
        "n_data": int(sum(d.n for d in loaded)),
    }
    for m in info["members"]:
        log.info(f"{m['name']}: {m['n']} {m['kind']} points, {m['z_min']:.4f} <= z <= {m['z_max']:.4f}, {m['errors']}")
        if "cov_asymmetry" in m:
            log.info(
                f"{m['name']}: covariance '{m['files']['cov']}' symmetrised; its largest asymmetry "
                f"|C_ij - C_ji| was {m['cov_asymmetry']:.3g}"
            )
    atomic_write_json(out_json, info)
    return info
