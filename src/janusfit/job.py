"""One rule's job as its script sees it, read once from the ``snakemake`` object Snakemake gives the script.

A rule's contract (inputs, outputs, params, log, threads, resources) is
written in its rule file; its script reads it here, once, and hands it to the
stage function by name: stage functions take keyword arguments only, so each
call reads as the contract. The library does not import Snakemake: this reads
attributes of the object a script is given, and anything with the same
attributes (a test's namespace) works too.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .logs import job_logger, reported


@dataclass(frozen=True)
class Job:
    config: dict
    wildcards: Any
    input: Any
    output: Any
    params: Any
    log: logging.Logger  # writes to the job's log file and to stderr
    threads: int
    resources: Any

    @property
    def dataset(self) -> str:
        return self.wildcards.dataset

    @property
    def model(self) -> str:
        return self.wildcards.model


@contextmanager
def job(smk):
    """The :class:`Job` of a rule script's ``snakemake`` object; errors inside are reported as :func:`reported` does."""
    log = job_logger(smk.log[0])
    with reported(log):
        yield Job(
            config=smk.config,
            wildcards=smk.wildcards,
            input=smk.input,
            output=smk.output,
            params=smk.params,
            log=log,
            threads=smk.threads,
            resources=smk.resources,
        )
