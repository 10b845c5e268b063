"""The config entries of the small public releases in tests/data that many tests run on."""

from __future__ import annotations

from pathlib import Path


def jla_binned(public_data: Path) -> dict:
    """JLA binned (31 points, full covariance): ``datasets.<name>`` of a config."""
    jla = public_data / "jla"
    return {
        "kind": "sn",
        "format": "jla_binned",
        "path": str(jla / "jla_mub.txt"),
        "cov": str(jla / "jla_mub_covmatrix.txt"),
    }


def jla_light_curves(public_data: Path) -> dict:
    """JLA's 740 light curves (α and β sampled): ``datasets.<name>`` of a config, read as config/public.yaml does.

    ``pecz: 0``: the file's dmb already holds the peculiar velocities
    (``test_the_public_jla740_counts_the_peculiar_velocity_dispersion_once``).
    """
    path = str(public_data / "jla" / "jla_lcparams.txt")
    return {"kind": "sn", "format": "jla_lcparams", "path": path, "pecz": 0}
