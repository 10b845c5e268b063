"""Where each file of a dataset is read from, and what identifies its content before any job runs.

A file named by ``path`` (or ``cov``) that exists is read where it is, even
when the dataset also gives a ``url``: a local copy is never downloaded over.
Otherwise a pinned ``url`` is downloaded into a content-addressed cache,
``resources/data/<sha256>/<file name>``, and read from there. The cache is
written only by downloads whose bytes match their pin and never deleted by a
rerun: a changed pin downloads to a new place and the old bytes stay.

A file with no published checksum is declared ``sha256: record`` (or
``cov_sha256: record``): it downloads to ``resources/data/unpinned/<hash of
the URL>/<file name>``, and its first download that reads as what it should
be (a covariance in the releases' layout, a table) records its sha256 beside
it, ``<file name>.sha256``. Every later run reads the file only if it still
has that checksum, and says so.

:func:`identity` is what the workflow gives ``inspect_data`` as params, so
that a data file whose content changed reruns it even when the file's date
did not (``cp -p``, ``rsync -t``, ``tar`` restores): the sha256 of each local
file but those the workflow simulates, computed while Snakemake builds its
plan (about a millisecond for Pantheon+'s 0.6 MB), and how the dataset is read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..atomic import sha256_file
from ..errors import ConfigError
from .lightcurves import DEFAULTS as LIGHT_CURVE_DEFAULTS
from .lightcurves import options as light_curve_options
from .simulate import DEFAULTS as SIMULATION_DEFAULTS

DOWNLOAD_CACHE = "resources/data"
# The format of light-curve tables, whose entries take the options of janusfit.data.lightcurves.DEFAULTS.
# Here, not there: that module is part of every posterior's code digest, which an edit refuses checkpoints by.
LIGHT_CURVE_FORMAT = "jla_lcparams"
RECORD = "record"  # the pin of a file whose sha256 is recorded at its first verified download
# config key of a file -> keys of its URL and of its pinned sha256
KEYS = {"path": ("url", "sha256"), "cov": ("cov_url", "cov_sha256")}
# Where a dataset's files are and how they are pinned; every other key of its
# spec says how the files are read.
LOCATION_KEYS = tuple(KEYS) + tuple(k for keys in KEYS.values() for k in keys) + ("covmats",)
# The outputs of the workflow's simulate_data rule, for each dataset of format 'simulated'.
SIMULATED_FILES = {
    "csv": "results/data/{name}/hubble.csv",
    "cov": "results/data/{name}/hubble.cov",
    "truth": "results/data/{name}/hubble.truth.json",
}
VALUE_ROLE = {"sn": "mu", "hz": "H"}  # the role of a table's values, by kind


def default_columns(kind: str) -> dict[str, str]:
    """role -> column a ``csv`` table is read from where ``columns`` names none: the role's own name.

    Not ``zhel``: its column is read only where the table has one, so naming
    it is not the same reading as leaving it out.
    """
    return {role: role for role in ("z", VALUE_ROLE[kind], "sigma")}


def reading_spec(spec: dict) -> dict:
    """The options of a dataset's config entry that decide which numbers are read (format, kind, columns, ...).

    An option written out at its default (``pecz: 0.001``, a column named as
    its role, an empty ``columns``) is left out, as if omitted: it reads the
    same numbers, so it must change neither inspect_data's params nor the
    samplers' fingerprint. Left out, not filled in: runs made before recorded
    the entry as written, and the shipped configs leave these options out, so
    filling them in would rerun those runs and refuse their checkpoints. A
    simulated dataset's ``n_sn`` and ``seed`` are filled in instead
    (:func:`simulation_settings`), for the same reason: the default config
    writes them out.
    """
    reading = {key: value for key, value in spec.items() if key not in LOCATION_KEYS}
    if reading.get("format") == "simulated":
        reading.update(simulation_settings(reading))
    priors = LIGHT_CURVE_DEFAULTS["nuisance_priors"]
    # As floats: a bound written 0 or 0.0 is the same prior.
    reading["nuisance_priors"] = {
        p: [float(v) for v in bounds]
        for p, bounds in (reading.get("nuisance_priors") or {}).items()
        if bounds != priors.get(p)
    }
    # A whole number written as a float is the same option: pecz 0.0 is the pecz 0 that public.yaml writes.
    for key, default in LIGHT_CURVE_DEFAULTS.items():
        if isinstance(default, float) and isinstance(reading.get(key), float) and reading[key].is_integer():
            reading[key] = int(reading[key])
    kind = reading.get("kind")
    # Only a csv table takes columns: given for another format, they are an error to report, not a default.
    named = default_columns(kind) if reading.get("format") == "csv" and kind in VALUE_ROLE else {}
    reading["columns"] = {
        role: column for role, column in (reading.get("columns") or {}).items() if column != named.get(role)
    }
    return {
        key: value
        for key, value in sorted(reading.items())
        if value != {} and not (key in LIGHT_CURVE_DEFAULTS and value == LIGHT_CURVE_DEFAULTS[key])
    }


def reading_shown(reading: dict) -> dict:
    """A reading of :func:`reading_spec` with a light-curve table's options at their defaults filled in, for messages.

    :func:`reading_spec` leaves a default out, so a difference against it
    read ``pecz: removed (was 0)`` where the config wrote ``pecz: 0.001``.
    """
    if reading.get("format") != LIGHT_CURVE_FORMAT:
        return reading
    return dict(sorted({**reading, **light_curve_options(reading)}.items()))


def simulation_settings(spec: dict) -> dict:
    """``n_sn`` and ``seed`` of a simulated dataset, its defaults where it leaves them out, as integers.

    The schema takes ``300.0`` for an integer; numpy's generator does not.
    """
    return {key: int(spec.get(key, default)) for key, default in SIMULATION_DEFAULTS.items()}


def simulation_spec(spec: dict) -> dict:
    """simulate_data's params: what its files depend on, the same however the entry writes it.

    ``n_sn`` and ``seed`` (:func:`simulation_settings`) after the entry's
    kind, format, path and cov, in config.yaml's order: Snakemake compares
    params by their repr, and this is the repr every finished run of
    config.yaml recorded. Other keys (``columns``, …) change how the files
    are read, which is inspect_data's param, not what is simulated.
    """
    written = {key: spec[key] for key in ("kind", "format", "path", "cov") if key in spec}
    return {**written, **simulation_settings(spec)}


def resolve_path(value, base_dir: Path) -> Path:
    """``value`` as a path, relative ones taken against ``base_dir``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


@dataclass(frozen=True)
class Source:
    """One file of a dataset: its config ``key`` (``path``, ``cov``), where it is read from, and its pin."""

    key: str
    file: str  # as the config gives it (relative to the working directory) or the download cache's path
    url: str | None
    sha256: str | None  # the pin, or the recorded checksum (None while nothing is recorded)
    downloaded: bool  # read from the download cache
    recorded: bool = False  # pinned by the checksum recorded at its first download, not by the config

    @property
    def record_file(self) -> str:
        return str(record_of(self.file))


def sources(name: str, spec: dict, base_dir=None) -> list[Source]:
    """The files of plain dataset ``name``; relative paths are checked for existence against ``base_dir``."""
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    out = []
    for key, (url_key, sha_key) in KEYS.items():
        local, url, pin = spec.get(key), spec.get(url_key), spec.get(sha_key)
        pin = pin.lower() if pin else None
        if local and (not url or resolve_path(local, base_dir).exists()):
            out.append(Source(key, str(local), url, None if pin == RECORD else pin, downloaded=False))
        elif url and pin == RECORD:
            file = unpinned_path(url)
            out.append(
                Source(key, file, url, recorded_sha256(record_of(base_dir / file)), downloaded=True, recorded=True)
            )
        elif url:
            if not pin:
                raise ConfigError(
                    f"datasets.{name}.{sha_key}",
                    f"is required with '{url_key}': a download is pinned by the sha256 of its bytes",
                )
            out.append(Source(key, cached_path(url, pin), url, pin, downloaded=True))
    # Light curves' systematic matrices (format jla_lcparams), local files only: key "covmats.<name>".
    for key, local in sorted((spec.get("covmats") or {}).items()):
        out.append(Source(f"covmats.{key}", str(local), None, None, downloaded=False))
    return out


def cached_path(url: str, sha256: str) -> str:
    """``resources/data/<sha256>/<the URL's file name>``."""
    return f"{DOWNLOAD_CACHE}/{sha256}/{unquote(Path(urlparse(url).path).name) or 'download'}"


def unpinned_path(url: str) -> str:
    """``resources/data/unpinned/<16 hex digits of the URL's sha256>/<the URL's file name>``."""
    tag = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{DOWNLOAD_CACHE}/unpinned/{tag}/{unquote(Path(urlparse(url).path).name) or 'download'}"


def record_of(file) -> Path:
    """Where the sha256 of a file with no published checksum is recorded: beside it, ``<file name>.sha256``."""
    file = Path(file)
    return file.with_name(file.name + ".sha256")


def recorded_sha256(record: Path) -> str | None:
    """The checksum a first verified download recorded in ``record``, if any."""
    try:
        return record.read_text().split()[0].lower()
    except (FileNotFoundError, IndexError):
        return None


def downloads(config: dict, base_dir=None) -> dict[str, tuple[str, str, str]]:
    """{cache path: (url, sha256 or 'record', config key)} of every download to run.

    A download runs when its file is missing, does not match its pin or its
    recorded checksum, or has no checksum recorded yet. A file in the cache
    that matches has no job that could replace or delete it.
    """
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    out = {}
    for name, spec in config["datasets"].items():
        for source in [] if "combine" in spec else sources(name, spec, base_dir):
            target = base_dir / source.file
            if source.downloaded and not (source.sha256 and target.is_file() and sha256_file(target) == source.sha256):
                out[source.file] = (source.url, RECORD if source.recorded else source.sha256, source.key)
    return out


def identity(config: dict, members: list[str], base_dir=None) -> str:
    """How each member of a dataset is read and the sha256 of each of its files, as canonical JSON.

    A local file's sha256 is computed now, with its pin beside it where it
    does not match (a pin it matches changes nothing); a downloaded file's is its pin (the
    loader checks the bytes against it), or for a file pinned by the checksum
    recorded at its first download, its URL: the record does not exist before
    that download, and the loader holds the bytes to it ever after. A file the
    workflow writes itself (:func:`simulated_datasets`) has none: it does not
    exist while Snakemake plans the first run, so its checksum would appear
    at the next plan and rerun every job of the dataset; the spec it is
    simulated from identifies it (a changed spec reruns simulate_data).
    Every other file is checksummed, whatever its format: a file read in the
    ``simulated`` format may be the user's own.
    """
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    simulated = simulate_data_files(config, base_dir, ("csv", "cov"))
    out = {}
    for name in members:
        spec = config["datasets"][name]
        files = {}
        for source in sources(name, spec, base_dir):
            target = resolve_path(source.file, base_dir)
            if source.recorded:
                files[source.key] = f"{RECORD}: {source.url}"
            elif source.downloaded:
                files[source.key] = source.sha256
            elif target not in simulated and target.is_file():
                try:
                    got = sha256_file(target)
                except OSError as exc:
                    # Planning goes on: the job that reads the file names it (validate.require_file).
                    files[source.key] = f"unreadable: {exc.strerror}"
                    continue
                # A pin the file matches reads the same numbers; one it does not match, added after the
                # results were made, must rerun inspect_data, which refuses the file (loaders.require_pinned).
                files[source.key] = got if source.sha256 in (None, got) else f"{got}, pinned {source.sha256}"
        out[name] = {"reading": reading_spec(spec), "sha256": files}
    return json.dumps(out, sort_keys=True)


def simulated_datasets(config: dict) -> list[str]:
    """The datasets whose files the workflow's simulate_data rule writes (:data:`SIMULATED_FILES`)."""
    return [name for name, spec in config["datasets"].items() if spec.get("format") == "simulated"]


def simulate_data_files(config: dict, base_dir: Path, keys) -> set[Path]:
    """The files of :data:`SIMULATED_FILES` ``keys`` that simulate_data writes for the config's datasets."""
    return {
        resolve_path(SIMULATED_FILES[key].format(name=n), base_dir) for n in simulated_datasets(config) for key in keys
    }


def simulated_truth(config: dict, name: str, base_dir: Path | None = None) -> str | None:
    """The truth file of a ``simulated``-format dataset, for its corner plot, or None.

    simulate_data writes one beside each table it writes, and makes it when
    asked for; a table of the user's own in that format has one only if its
    ``<path without suffix>.truth.json`` exists, and is plotted without truths
    otherwise (asking for the missing file stopped Snakemake's plan).
    """
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    path = config["datasets"][name]["path"]
    truth = Path(path).with_suffix(".truth.json")
    written = resolve_path(path, base_dir) in simulate_data_files(config, base_dir, ("csv",))
    return str(truth) if written or resolve_path(truth, base_dir).is_file() else None
