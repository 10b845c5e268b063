"""A config with the schema's defaults filled in, as the workflow's ``common.smk`` validates it."""

from __future__ import annotations

from pathlib import Path

from snakemake.utils import validate

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def with_defaults(config: dict) -> dict:
    """``config``, checked against the schema and completed with its defaults in place; returned for chaining."""
    validate(config, str(SCHEMA))
    return config
