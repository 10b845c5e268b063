"""Where a run's samplers resumed, told run by run for the report and the comparison table."""

from __future__ import annotations


def resumes_by_run(dynesty: dict) -> list[tuple[str, list[int]]]:
    """(label, iterations resumed from) of each run in a summary's ``dynesty`` part.

    One run: one unlabelled list. With ``repeats``, one per seed: the job's
    ``resumes`` hold every run's together, whose iterations only mean
    something run by run.
    """
    repeats = dynesty.get("repeats") or {}
    if repeats.get("n", 1) > 1:
        return [(f"seed {seed}", list(resumes)) for seed, resumes in zip(repeats["seeds"], repeats["resumes"])]
    return [("", list(dynesty["resumes"]))]
