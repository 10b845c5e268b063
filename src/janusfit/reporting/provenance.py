"""The report's Provenance page: what the results were made from.

The config as run (after the schema's defaults), each run's checkpoint
fingerprint and the janusfit version that wrote its summary, the versions of
the packages that make the numbers, and every data file with its sha256 as
the data rule read it.
"""

from __future__ import annotations

import platform
from importlib import metadata

import yaml

from . import html
from .html import table, text
from .overview import run_title

# The packages whose versions change the numbers or how they are made.
PACKAGES = ("janusfit", "emcee", "dynesty", "snakemake", "numpy", "scipy", "h5py")


def versions() -> dict[str, str]:
    """Installed versions of ``PACKAGES`` and of Python (read from the installed metadata, no import)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance_html(config: dict, summaries: list[dict], data_infos: list[dict], package_versions: dict) -> str:
    """The Provenance page as one HTML document.

    ``data_infos`` are the datasets' ``data.json`` (files and sha256 of each
    member), ``package_versions`` what ``versions()`` returned when the page
    was made.
    """
    meta = config.get("run") or {}
    body = [f"<h1>Provenance: {text(run_title(meta))}</h1>"]
    if meta:
        body.append(table(["run", ""], [[key, value] for key, value in meta.items()]))
    body.append("<h2>Runs</h2>")
    body.append(
        '<p class="note">The fingerprint is the one the checkpoints store (model, priors, data read, '
        "sampler settings, janusfit version; emcee's and dynesty's joined by +): a resume with different "
        "inputs is refused.</p>"
    )
    body.append(
        table(
            ["run", "janusfit version", "fingerprint"],
            [
                [
                    f"{s['dataset']}/{s['model']}",
                    s.get("janusfit_version", "n/a"),
                    html.cell(text(s.get("fingerprint", "n/a")), "note", raw=True),
                ]
                for s in summaries
            ],
        )
    )
    body.append("<h2>Data files</h2>")
    rows = []
    for info in data_infos:
        for member in info["members"]:
            for key, path in member["files"].items():
                rows.append(
                    [
                        info["dataset"],
                        f"{member['name']} ({key})",
                        path,
                        html.cell(text(member["sha256"][key]), "note", raw=True),
                    ]
                )
    body.append(table(["dataset", "file (config key)", "path", "sha256"], rows))
    body.append("<h2>Software</h2>")
    body.append(table(["package", "version"], [[name, version] for name, version in package_versions.items()]))
    body.append("<h2>Config as run</h2>")
    body.append('<p class="note">After the schema filled in every default.</p>')
    body.append(f"<pre>{text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))}</pre>")
    return html.page(f"Provenance: {run_title(meta)}", body)
