"""Read a configured dataset, whatever release format it comes in, into a :class:`Dataset`.

A format is one small reader registered in :data:`FORMATS`: it pulls the
redshifts, values and (when there is no covariance) errors out of the release's
table, and everything else (covariance, checksums, the diagonal-error warning)
is shared. Every number is checked by :mod:`janusfit.data.validate` on the way
in, so a bad file fails here with its name, row and column rather than as a
NaN deep inside a sampler.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..atomic import sha256_file
from ..errors import ConfigError, DataError
from .dataset import Dataset
from .lightcurves import NUISANCE_PARAMS, LightCurves, options
from .sources import (
    KEYS,
    LIGHT_CURVE_FORMAT,
    VALUE_ROLE,
    Source,
    default_columns,
    reading_spec,
    record_of,
    resolve_path,
    sources,
)
from .table import NotANumber, Table, TableError, parse, to_floats
from .validate import (
    covariance_below_errors,
    numeric_column,
    require_columns,
    require_cov_count,
    require_covariance,
    require_distinct_rows,
    require_error_range,
    require_file,
    require_finite,
    require_heliocentric,
    require_kind,
    require_light_curve_covariances,
    require_positive,
    require_redshift_range,
    require_rows,
    require_symmetric_matrix,
    require_unique_names,
    require_variances,
    utf8_text,
)

PANTHEON_Z_MIN = 0.01
COV_NOT_TAKEN = (
    "format '{format}' builds its covariance from the light-curve columns at each (alpha, beta); "
    "'cov' does not apply to it"
)

# Whether a light-curve table's dmb already holds the peculiar velocities is
# a property of the table, which no default can know: JLA's does, and the
# value a reading without pecz stands for (0.001, Cobaya's code default)
# counts them twice there.
PECZ_REQUIRED = (
    "is required for format 'jla_lcparams': the peculiar-velocity dispersion (in units of c) that the "
    "table's dmb does not already hold. JLA's own file holds 150 km/s: write 'pecz: 0', as CosmoMC's and "
    "Cobaya's JLA/jla.dataset do; 'pecz: 0.001' (300 km/s, the value used when it was left out, before "
    "2026-12-03) counts them twice"
)

PANTHEON_DIAG_WARNING = (
    "uses the diagonal errors m_b_corr_err_DIAG without the STAT+SYS covariance. "
    "The Pantheon+ release README says of them: 'DO NOT FIT COSMOLOGICAL PARAMETERS "
    "WITH THESE UNCERTAINTIES. YOU MUST USE THE FULL COVARIANCE.' Treat the result as "
    "a large-N demonstration, not a cosmological constraint."
)
DESY5_DIAG_WARNING = (
    "uses the diagonal errors MUERR_FINAL without the release's STAT+SYS covariance, "
    "so systematic uncertainties are left out and the constraints are optimistic."
)


@dataclass(frozen=True)
class Columns:
    """What a format reader extracts, one entry per data row of the file.

    ``keep`` marks the rows a release's official cut keeps; the covariance,
    written for every row of the file, is cut with the same mask. ``names``
    are the supernovae's names where the release gives them.
    ``replaced_sigma`` is a table's error column that its covariance replaces
    (``csv``, ``hz_table``), kept only to compare with the covariance.
    """

    z: np.ndarray
    values: np.ndarray
    sigma: np.ndarray | None = None
    zhel: np.ndarray | None = None
    keep: np.ndarray | None = None
    names: np.ndarray | None = None
    light_curves: LightCurves | None = None
    replaced_sigma: np.ndarray | None = None


@dataclass(frozen=True)
class Format:
    """A reader ``read(path, kind, columns, need_sigma)`` and what it accepts.

    ``cov_adds_sigma``: the release's covariance file leaves out the table's
    errors, which belong on its diagonal (DES-SN5YR: STAT+SYS + diag(MUERR_FINAL²)).

    ``heavy_rows``: each row (parameter vector) of its likelihood's batch does
    enough work for threads to pay, so the measured threads policy times
    them (:func:`janusfit.resources.requests.preflight_threads`). Light
    curves: a row standardises every supernova for its own α and β, and with
    systematic matrices factors its own covariance. Every other format's
    likelihood is the reduced form or a serial kernel, whose batches are too
    short to share out (``benchmarks/README.md``, threads).
    """

    read: Callable[[Path, str, dict, bool], Columns]
    kinds: tuple[str, ...]
    needs_cov: bool = False
    diag_warning: str | None = None
    cov_adds_sigma: bool = False
    takes_cov: bool = True
    nuisance: tuple[str, ...] = ()  # parameters its likelihood samples beside the model's
    heavy_rows: bool = False


def load_dataset(name: str, spec: dict, base_dir: Path | None = None) -> Dataset:
    """The dataset ``name`` described by one entry ``spec`` of the config's ``datasets:``.

    Relative ``path`` and ``cov`` resolve against ``base_dir`` (default: the
    working directory); either may be gzip-compressed. ``Dataset.sha256``
    records the checksum of every file read, by its config key, and
    ``Dataset.reading`` the options it was read with. A covariance is read
    over every row of the file, checked, symmetrised (``Dataset.cov_asymmetry``
    is the largest asymmetry it had) and then cut like the table.
    """
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    fmt_name = spec.get("format")
    fmt = _lookup_format(name, fmt_name)
    require_pecz(name, spec, fmt)
    kind = spec.get("kind")
    require_kind(name, fmt_name, kind, fmt.kinds)
    columns = column_mapping(name, fmt_name, kind, spec.get("columns"))
    found = {s.key: s for s in sources(name, spec, base_dir)}
    if "path" not in found:
        raise ConfigError(f"datasets.{name}.path", "is required (or 'url' with 'sha256' to download it)")
    if "cov" not in found and fmt.needs_cov:
        raise ConfigError(f"datasets.{name}.cov", f"format '{fmt_name}' needs its covariance file")
    if "cov" in found and not fmt.takes_cov:
        raise ConfigError(f"datasets.{name}.cov", COV_NOT_TAKEN.format(format=fmt_name))
    files = {key: resolve_path(s.file, base_dir) for key, s in found.items()}
    path, cov_path = files["path"], files.get("cov")

    hashes = {"path": require_pinned(name, found["path"], path)}
    data = fmt.read(path, kind, columns, cov_path is None or fmt.cov_adds_sigma)
    cov = asymmetry = None
    if cov_path is not None:
        hashes["cov"] = require_pinned(name, found["cov"], cov_path)
        cov, asymmetry = require_covariance(
            cov_path, read_covariance(cov_path), data.z.size, add_variance=data.sigma**2 if fmt.cov_adds_sigma else None
        )
        if data.replaced_sigma is not None:
            require_variances(cov_path, cov, data.replaced_sigma)
            if below := covariance_below_errors(cov_path, cov, data.replaced_sigma):
                warnings.warn(f"dataset '{name}': {below}", UserWarning, stacklevel=2)
    elif fmt.diag_warning:
        warnings.warn(f"dataset '{name}' ({path}) {fmt.diag_warning}", UserWarning, stacklevel=2)
    if cov_path is None:
        read = {"z": data.z, "value": data.values, "error": data.sigma, "zhel": data.zhel, "name": data.names}
        require_distinct_rows(path, {role: a for role, a in read.items() if a is not None})

    n_read = data.z.size
    covmat_files = {key.partition(".")[2]: p for key, p in files.items() if key.startswith("covmats.")}
    if covmat_files:
        for key in covmat_files:
            hashes[f"covmats.{key}"] = require_pinned(name, found[f"covmats.{key}"], covmat_files[key])
        covmats = {key: require_symmetric_matrix(p, read_covariance(p), data.z.size) for key, p in covmat_files.items()}
        data = replace(data, light_curves=replace(data.light_curves, covmats=covmats))

    if data.keep is not None:
        data, cov = _cut(data, cov)
    if data.light_curves is not None:
        require_host_split(name, options(reading_spec(spec))["host_mass_split"], data.light_curves.host_mass)
    return Dataset(
        name=name,
        kind=kind,
        z=data.z,
        values=data.values,
        cov=cov,
        sigma=None if cov is not None else data.sigma,
        zhel=data.zhel,
        sha256=hashes,
        files={key: str(p) for key, p in files.items()},
        reading=reading_spec(spec),
        names=data.names,
        cov_asymmetry=asymmetry,
        n_read=n_read,
        light_curves=data.light_curves,
    )


def require_host_split(name: str, split: float | None, host_mass: np.ndarray) -> None:
    """A host-mass split must leave supernovae on both sides, or there is no second magnitude to fit.

    The likelihood then fits one magnitude (as Cobaya does), which is the
    unsplit fit, not the one asked for: the likely slip is the mass in solar
    masses (1e10) where its log10 goes.
    """
    if split is None:
        return
    above = int(np.count_nonzero(host_mass > split))
    if 0 < above < host_mass.size:
        return
    side = "above" if above else "at or below"
    raise ConfigError(
        f"datasets.{name}.host_mass_split",
        f"{split:g} puts all {host_mass.size} supernovae {side} it (the table's 3rdvar, log10 of the host's stellar "
        f"mass in solar masses, runs from {host_mass.min():g} to {host_mass.max():g}), so there is no second "
        "magnitude to fit; give a log10 mass inside that range, or null for one magnitude",
    )


def require_pinned(name: str, source: Source, path: Path) -> str:
    """The file's sha256, which must be its pin, or the checksum its first verified download recorded."""
    require_file(path)
    got = sha256_file(path)
    if source.recorded:
        record = record_of(path)
        if source.sha256 is None:
            raise DataError(
                path,
                f"has no checksum recorded by a verified download ({record} is missing); "
                "delete the file and rerun to download it again",
            )
        if got != source.sha256:
            raise DataError(
                path,
                f"has sha256 {got}, but its first verified download recorded {source.sha256} in "
                f"{record}; the file changed since. Delete the file and rerun to download it again",
            )
        return got
    if source.sha256 and got != source.sha256:
        sha_key = KEYS[source.key][1]
        raise DataError(
            path,
            f"has sha256 {got}, but 'datasets.{name}.{sha_key}' pins {source.sha256}; the file was "
            f"left as it is. Point '{source.key}' at the pinned file, or set '{sha_key}: null'"
            + (f" and '{KEYS[source.key][0]}: null'" if source.url else "")
            + " to read this one unpinned",
        )
    return got


def _cut(data: Columns, cov: np.ndarray | None) -> tuple[Columns, np.ndarray | None]:
    """The rows ``data.keep`` marks, and the same rows and columns of ``cov``."""
    keep = data.keep

    def take(a):
        return None if a is None else a[keep]

    cut = Columns(take(data.z), take(data.values), take(data.sigma), take(data.zhel), names=take(data.names))
    return cut, None if cov is None else cov[np.ix_(keep, keep)]


def require_pecz(name: str, spec: dict, fmt: Format | None) -> None:
    """A light-curve table must say its peculiar-velocity dispersion (:data:`PECZ_REQUIRED`)."""
    if fmt is not None and fmt.nuisance and "pecz" not in spec:
        raise ConfigError(f"datasets.{name}.pecz", PECZ_REQUIRED)


def _lookup_format(name: str, fmt_name) -> Format:
    try:
        return FORMATS[fmt_name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"datasets.{name}.format", f"unknown format {fmt_name!r}; known formats: {', '.join(FORMATS)}"
        ) from None


def column_mapping(name: str, fmt_name: str, kind: str, columns) -> dict:
    """The ``columns`` role → name mapping, allowed only where the columns are not fixed."""
    if not columns:
        return {}
    key = f"datasets.{name}.columns"
    if fmt_name != "csv":
        raise ConfigError(key, f"format '{fmt_name}' has fixed columns; 'columns' applies to format 'csv' only")
    roles = ("z", VALUE_ROLE[kind], "sigma") + (("zhel",) if kind == "sn" else ())
    unknown = sorted(set(columns) - set(roles))
    if unknown:
        raise ConfigError(key, f"unknown role(s) {unknown} for kind '{kind}'; roles are {', '.join(roles)}")
    read = {**default_columns(kind), **columns}
    for column in set(read.values()):
        shared = [role for role, name in read.items() if name == column]
        if len(shared) > 1:
            raise ConfigError(
                key, f"column '{column}' is given two roles, {' and '.join(shared)}; each role needs its own"
            )
    return dict(columns)


def read_covariance(path: Path) -> np.ndarray:
    """An N×N matrix in the releases' layout: N (or a text header) then N*N values, row-major.

    Pantheon+ and DES-SN5YR write one value per line (DES gzip-compressed);
    any whitespace between values is read the same.
    """
    require_file(path)
    tokens = utf8_text(path).split()
    if not tokens:
        raise DataError(path, "covariance file is empty")
    values = _floats(path, tokens[1:])
    n = require_cov_count(path, _declared_size(path, tokens[0]), values.size)
    return values.reshape(n, n)


def _declared_size(path: Path, head: str) -> int | None:
    """N from the first token, or None for a text header such as JLA's ``COV``."""
    try:
        return int(head)
    except ValueError:
        pass
    try:
        float(head)
    except ValueError:
        return None
    raise DataError(path, f"first value {head!r} should be the matrix size N (an integer) or a text header")


def _floats(path: Path, tokens: list[str]) -> np.ndarray:
    try:
        return np.array(tokens, dtype=float)
    except ValueError:
        for index, token in enumerate(tokens):
            try:
                float(token)
            except ValueError:
                raise DataError(
                    path, f"covariance value {index + 1} (after the size) {token!r} is not a number"
                ) from None
        raise


def read_table(path: Path) -> Table:
    """Data rows of a text table whose first line names the columns.

    The header may start with ``#`` (Union3, the original JLA release); the
    separator is a comma if the header has one, else whitespace. A header that
    names more columns than the rows have keeps its first names: Union3 names
    19 columns and writes 18.
    """
    require_file(path)
    text = utf8_text(path)
    header = text.partition("\n")[0]
    if not header.strip():
        raise DataError(path, "no header line naming the columns (the file is empty or starts with a blank line)")
    comma = "," in header
    names = [n.strip() for n in header.lstrip("#").split("," if comma else None)]
    require_unique_names(path, names)
    try:
        frame = parse(text, comma=comma, skip_rows=1)
    except TableError as exc:
        raise DataError(path, f"rows do not parse as a table: {exc}") from None
    require_rows(path, len(frame))
    if frame.shape[1] > len(names):
        # The line read as the header, shown: a comment above the real header (``# my data``) is taken for it.
        raise DataError(
            path,
            f"rows have {frame.shape[1]} values but the header names only {len(names)} columns "
            f"(the header is the file's first line, {header.strip()!r})",
        )
    frame.columns = names[: frame.shape[1]]
    frame.header = header.strip()
    return frame


def extract(
    path: Path,
    frame: Table,
    z: str,
    values: str,
    sigma=None,
    zhel=None,
    names=None,
    positive_values: bool = False,
) -> Columns:
    """The named columns of ``frame`` as checked float arrays.

    Every column the likelihood uses is checked against its physical range,
    so a bad row is named here rather than surfacing as a NaN blamed on a
    model: redshifts in (0, 10], heliocentric redshifts within 0.01 (1 + z)
    of the redshift, errors of at least 1e-6, and, with ``positive_values``
    (H(z)), positive values. ``names`` is the column of supernova names, if any.
    """
    wanted = [c for c in (z, values, sigma, zhel) if c]
    require_columns(path, frame.columns, wanted + ([names] if names else []), frame.header)
    arrays = {c: numeric_column(path, frame, c) for c in wanted}
    require_finite(path, arrays)
    require_positive(path, z, arrays[z], "redshift")
    require_redshift_range(path, z, arrays[z])
    if zhel:
        require_heliocentric(path, zhel, arrays[zhel], arrays[z])
    if sigma:
        require_positive(path, sigma, arrays[sigma], "error")
        require_error_range(path, sigma, arrays[sigma])
    if positive_values:
        require_positive(path, values, arrays[values], "H(z)")
    return Columns(
        z=arrays[z],
        values=arrays[values],
        sigma=arrays[sigma] if sigma else None,
        zhel=arrays[zhel] if zhel else None,
        names=frame.strings(names) if names else None,
    )


def _read_csv(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    """Any table; ``columns`` maps roles to names (:func:`janusfit.data.sources.default_columns` where it does not)."""
    frame = read_table(path)
    names = {**default_columns(kind), **columns}
    zhel = columns.get("zhel") or ("zhel" if kind == "sn" and "zhel" in frame.columns else None)
    sigma = names["sigma"] if need_sigma else None
    data = extract(path, frame, names["z"], names[VALUE_ROLE[kind]], sigma, zhel, positive_values=kind == "hz")
    return data if need_sigma else replace(data, replaced_sigma=_replaced_sigma(frame, names["sigma"]))


def _replaced_sigma(frame: Table, column: str) -> np.ndarray | None:
    """The error column a covariance replaces, where the table has one of finite numbers."""
    if column not in frame.columns:
        return None
    try:
        values = to_floats(frame[column])
    except NotANumber:
        return None
    return values if np.isfinite(values).all() else None


def _read_union3(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    """lcparam_full.txt: ``mb`` is μ up to a constant at the spline node ``zcmb``."""
    return extract(path, read_table(path), "zcmb", "mb", zhel="zhel")


def _read_jla_binned(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    return extract(path, read_table(path), "z", "mu")


def _read_pantheon_plus(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    """Pantheon+SH0ES.dat with the SN-only cosmology cut zHD > 0.01 (Brout et al. 2022)."""
    sigma = "m_b_corr_err_DIAG" if need_sigma else None
    data = extract(path, read_table(path), "zHD", "m_b_corr", sigma, zhel="zHEL", names="CID")
    keep = data.z > PANTHEON_Z_MIN
    if not keep.any():
        raise DataError(
            path,
            f"no data row has zHD > {PANTHEON_Z_MIN:g}, the SN-only cut of Pantheon+ (Brout et al. 2022): "
            "nothing is left to fit",
        )
    return Columns(data.z, data.values, data.sigma, data.zhel, keep=keep, names=data.names)


def _read_desy5(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    """DES-SN5YR_HD.csv, every row (the release's own likelihood keeps zHD > 0, all 1829)."""
    sigma = "MUERR_FINAL" if need_sigma else None
    return extract(path, read_table(path), "zHD", "MU", sigma, zhel="zHEL", names="CID")


JLA_COLUMNS = {
    "x1": "x1",
    "dx1": "dx1",
    "color": "color",
    "dcolor": "dcolor",
    "host_mass": "3rdvar",
    "cov_m_s": "cov_m_s",
    "cov_m_c": "cov_m_c",
    "cov_s_c": "cov_s_c",
}


def _read_jla_lcparams(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    """jla_lcparams.txt: SALT2 m_B, x1, c with their errors and covariances, and the host mass (``3rdvar``)."""
    frame = read_table(path)
    data = extract(path, frame, "zcmb", "mb", "dmb", zhel="zhel", names="name")
    require_columns(path, frame.columns, list(JLA_COLUMNS.values()), frame.header)
    arrays = {role: numeric_column(path, frame, column) for role, column in JLA_COLUMNS.items()}
    require_finite(path, {JLA_COLUMNS[role]: a for role, a in arrays.items()})
    for role in ("dx1", "dcolor"):
        require_positive(path, JLA_COLUMNS[role], arrays[role], "error")
    require_light_curve_covariances(
        path,
        data.names,
        errors={"dmb": data.sigma, **{JLA_COLUMNS[r]: arrays[r] for r in ("dx1", "dcolor")}},
        covariances={JLA_COLUMNS[r]: arrays[r] for r in ("cov_m_s", "cov_m_c", "cov_s_c")},
    )
    light_curves = LightCurves(mb=data.values, dmb=data.sigma, **arrays)
    return Columns(data.z, data.values, data.sigma, data.zhel, names=data.names, light_curves=light_curves)


def _read_hz_table(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    """Whitespace columns z, H, σ_H with ``#`` comments and no header."""
    require_file(path)
    try:
        frame = parse(utf8_text(path), comma=False, comment="#")
    except TableError as exc:
        raise DataError(path, f"rows do not parse as a table: {exc}") from None
    require_rows(path, len(frame))
    if frame.shape[1] != 3:
        raise DataError(path, f"expected 3 columns (z, H, sigma), found {frame.shape[1]}")
    frame.columns = ["z", "H", "sigma"]
    data = extract(path, frame, "z", "H", "sigma" if need_sigma else None, positive_values=True)
    return data if need_sigma else replace(data, replaced_sigma=_replaced_sigma(frame, "sigma"))


def _read_simulated(path: Path, kind: str, columns: dict, need_sigma: bool) -> Columns:
    """The table of :func:`janusfit.data.simulate.write_simulated` (``mb`` = μ + M)."""
    return extract(path, read_table(path), "z", "mb")


FORMATS: dict[str, Format] = {
    "csv": Format(_read_csv, kinds=("sn", "hz")),
    "union3": Format(_read_union3, kinds=("sn",), needs_cov=True),
    "jla_binned": Format(_read_jla_binned, kinds=("sn",), needs_cov=True),
    "pantheon_plus": Format(_read_pantheon_plus, kinds=("sn",), diag_warning=PANTHEON_DIAG_WARNING),
    "desy5": Format(_read_desy5, kinds=("sn",), diag_warning=DESY5_DIAG_WARNING, cov_adds_sigma=True),
    LIGHT_CURVE_FORMAT: Format(
        _read_jla_lcparams, kinds=("sn",), takes_cov=False, nuisance=NUISANCE_PARAMS, heavy_rows=True
    ),
    "hz_table": Format(_read_hz_table, kinds=("hz",)),
    "simulated": Format(_read_simulated, kinds=("sn",), needs_cov=True),
}
