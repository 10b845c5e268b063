"""What a checkpoint was computed from, so a resume never mixes two runs.

A fingerprint records every input that changes the chain: model, priors, for
each dataset how it is read (format, kind, columns, ...), the sha256 of each
of its files and of the numbers read from them, the sampler settings that
change the draws, the janusfit version, and the digest of each module of
janusfit's source the posterior's value depends on (:func:`janusfit.code.posterior_code`),
since an edited model or likelihood is another posterior under the same
version number. Resuming against a different fingerprint would splice two
different posteriors into one chain, so it stops with the list of differences.

A sampler whose checkpoint pickles its own objects (dynesty) also records
that package's version: another version may unpickle them into a sampler
whose state means something else, and its authors do not promise otherwise.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version

from .. import __version__
from ..atomic import atomic_write_json
from ..code import DISPLAY_ONLY, module_digest, posterior_code
from ..data.sources import reading_shown, reading_spec
from ..errors import FingerprintError
from .registry import SAMPLERS


def make_fingerprint(posterior, sampler: str, settings: dict) -> dict:
    """The inputs of one sampling job that determine its output."""
    package = SAMPLERS[sampler].pickles
    return {
        "janusfit_version": __version__,
        "sampler": sampler,
        "model": posterior.model.name,
        "parameters": list(posterior.param_names),
        "priors": {n: [float(lo), float(hi)] for n, (lo, hi) in zip(posterior.param_names, posterior.bounds)},
        "data": {d.name: _data(d) for d in posterior.datasets},
        "settings": settings,
        "code": posterior_code(type(posterior.model).__module__),
        **({"sampler_package": {package: version(package)}} if package else {}),
    }


def _data(dataset) -> dict:
    """How a dataset was read and the sha256 of its files (by config key) and of its numbers.

    Files are keyed by their config key (``path``, ``cov``), not by where they
    lie: the bytes are what a chain depends on, and keyed by path, moving the
    project (or a cluster mounting it elsewhere) would make every checkpoint
    unresumable with no input changed. Keyed by file name, two files of the
    same name in different folders kept one checksum between them.
    """
    return {
        "reading": dataset.reading,
        "sha256": dict(sorted(dataset.sha256.items())),
        "arrays_sha256": dataset.arrays_sha256,
    }


def digest(fingerprint: dict) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable list of what differs between two fingerprints."""
    out = []
    for key in sorted(set(old) | set(new)):
        name = f"{prefix}{key}"
        if key not in old:
            out.append(f"{name}: added ({new[key]!r})")
        elif key not in new:
            out.append(f"{name}: removed (was {old[key]!r})")
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            out.extend(differences(old[key], new[key], prefix=f"{name}."))
        elif old[key] != new[key]:
            out.append(f"{name}: {old[key]!r} -> {new[key]!r}")
    return out


def same_numbers(stored: dict, current: dict) -> list[str]:
    """The datasets whose files' bytes differ from the checkpoint's while what is read from them does not.

    A line-ending conversion, a trailing newline or a re-compressed file
    changes the sha256 of the bytes; the same reading of the same numbers
    (``arrays_sha256``: every array the likelihood uses) is the same
    likelihood, so the chain may go on.
    """
    old, new = stored.get("data", {}), current.get("data", {})
    return sorted(
        name
        for name in set(old) & set(new)
        if old[name].get("sha256") != new[name].get("sha256")
        and old[name].get("arrays_sha256") is not None
        and {k: v for k, v in old[name].items() if k != "sha256"}
        == {k: v for k, v in new[name].items() if k != "sha256"}
    )


def _h0_was_last(fingerprint: dict) -> bool:
    return "H0" not in fingerprint["parameters"] or fingerprint["parameters"][-1] == "H0"


def _every_run(fingerprint: dict) -> bool:
    return True


def _q0_prior_not_above_0(fingerprint: dict) -> bool:
    return fingerprint["priors"]["q0"][1] <= 0.0


# Edits of the posterior's code that changed no value for some runs: (module,
# its digest before the edit, its digest after) -> (what the edit mended,
# whether a run, by its current fingerprint, was untouched by it). A
# checkpoint of such a run resumes while the module is as the edit left it;
# one of any other run, or after any later edit, is refused as for any edit.
SAME_VALUES = {
    ("janusfit.likelihood.posterior", "a7931a98b19efc36", "df5cc79db674776c"): (
        "H(z) data read H0 from the last parameter, which light curves' alpha and beta follow",
        _h0_was_last,
    ),
    ("janusfit.models.base", "eb7dd39daee298cd", "3c4f1b948dcf9694"): (
        "a model's name given twice, and its params and default_priors apart, were refused naming no module",
        _every_run,
    ),
    ("janusfit.models.janus", "fe35a1fd5c3df98e", "1225c590684f1a0b"): (
        "JANUS's domain reached above q0 = 0, where its formulas are a Friedmann dust universe",
        _q0_prior_not_above_0,
    ),
}


def same_values(stored: dict, current: dict) -> tuple[dict, list[str]]:
    """``stored`` with each module edit that left this run's values alone (:data:`SAME_VALUES`) taken as today's.

    Returns it and one line per such module, for the log.
    """
    old, new = stored.get("code"), current.get("code")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return stored, []
    code, notes = dict(old), []
    for module, digest_then in old.items():
        now = new.get(module)
        entry = SAME_VALUES.get((module, digest_then, now))
        if entry and entry[1](current):
            code[module] = now
            notes.append(f"code.{module}: {digest_then!r} -> {now!r} (the edit mended: {entry[0]})")
        elif now not in (None, digest_then) and digest_then == module_digest(module):
            # Recorded before the posterior's digests left out display attributes: today's module, whole.
            code[module] = now
            notes.append(
                f"code.{module}: {digest_then!r} -> {now!r} (no edit: the digest now leaves out "
                f"{', '.join(sorted(DISPLAY_ONLY))}, which change no value)"
            )
    return {**stored, "code": code}, notes


def check_fingerprint(stored: dict, current: dict, checkpoint_dir) -> list[str]:
    """Raise FingerprintError listing the differences, if any.

    Returns the datasets whose files differ only in their bytes (:func:`same_numbers`),
    which do not stop a resume.
    """
    stored = _as_read_now(stored)
    if "sampler_package" in current and "sampler_package" not in stored:
        # Written before janusfit recorded it: which version pickled it is not
        # known, and refusing it would refuse every such checkpoint on upgrade.
        stored = {**stored, "sampler_package": current["sampler_package"]}
    rewritten = same_numbers(stored, current)
    stored = {
        **stored,
        "data": {
            name: {**entry, "sha256": current["data"][name]["sha256"]} if name in rewritten else entry
            for name, entry in stored.get("data", {}).items()
        },
    }
    if "code" not in stored:
        # Listed whole, the modules would bury the other differences.
        stored = {**stored, "code": "not recorded"}
        current = {**current, "code": "recorded"}
    diff = differences(_shown(stored), _shown(current))
    if not diff:
        return rewritten
    version_note = ""
    if stored["code"] != current["code"]:
        version_note += (
            "The checkpoint was made with other source code of the model or likelihood (under 'code'"
            + (
                ": written by a janusfit that did not record it, so it cannot be shown to match today's"
                if stored["code"] == "not recorded"
                else ", the modules whose code differs"
            )
            + "). "
        )
    for package, then in stored.get("sampler_package", {}).items():
        if then != current.get("sampler_package", {}).get(package):
            version_note += (
                f"The checkpoint holds {package}'s own objects, pickled by {package} {then}, which only that "
                f"version is sure to restore: installing it (pip install {package}=={then}) resumes the checkpoint. "
            )
    if stored.get("janusfit_version") != current.get("janusfit_version"):
        version_note += (
            f"The checkpoint was written by janusfit version {stored.get('janusfit_version')}, "
            f"this is version {current.get('janusfit_version')}. "
        )
    raise FingerprintError(
        f"the checkpoint in '{checkpoint_dir}' was made with different inputs:\n  "
        + "\n  ".join(diff)
        + f"\n{version_note}To resume it, restore the previous settings (or code); to start this run afresh "
        "and keep the old checkpoint aside, set 'on_change: restart' in the config "
        "(the old checkpoint is moved to a 'superseded-*' folder, never deleted).",
        differences=diff,
    )


def _as_read_now(stored: dict) -> dict:
    """``stored`` with each dataset's reading in today's form (:func:`janusfit.data.sources.reading_spec`).

    Checkpoints written before options at their default were left out of the
    reading recorded them as the config wrote them (``pecz: 0.001``); they
    read the same numbers as the option left out, and resume. Fingerprints
    older than the reading have none, and are refused for its absence.
    """
    data = {
        name: {**entry, "reading": reading_spec(entry["reading"])} if "reading" in entry else entry
        for name, entry in stored.get("data", {}).items()
    }
    return {**stored, "data": data}


def _shown(fingerprint: dict) -> dict:
    """``fingerprint`` with each reading's defaults filled in (:func:`janusfit.data.sources.reading_shown`).

    Both sides filled alike, an option left out on both stays equal; one
    written on one side only shows as a change from its default.
    """
    data = {
        name: {**entry, "reading": reading_shown(entry["reading"])} if "reading" in entry else entry
        for name, entry in fingerprint.get("data", {}).items()
    }
    return {**fingerprint, "data": data} if "data" in fingerprint else fingerprint


def write_fingerprint(path, fingerprint: dict) -> None:
    atomic_write_json(path, fingerprint)
