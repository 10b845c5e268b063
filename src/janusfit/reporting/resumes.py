"""Where a run's samplers resumed, told run by run for the report and the comparison table.

A sampler rerun after its run had finished (a changed input, or an upgrade
whose code reruns the samplers) resumes its complete checkpoint at the run's
end and samples nothing more. Its record keeps that resume; the report and
the table tell it apart from a resume after an interruption. Before, each
such rerun read as one more interruption: "resumed 2× (from step 3000,
3000)" of a chain of 3000 steps that was never interrupted.
"""

from __future__ import annotations


def resumes_by_run(dynesty: dict) -> list[tuple[str, list[int], int | None]]:
    """(label, iterations resumed from, the run's end) of each run in a summary's ``dynesty`` part.

    One run: one unlabelled list. With ``repeats``, one per seed: the job's
    ``resumes`` hold every run's together, whose iterations only mean
    something run by run. The end is the iteration a resume of the finished
    run starts at, n_iter + 1; None for a summary written before it held
    ``n_iter``.
    """
    repeats = dynesty.get("repeats") or {}
    if repeats.get("n", 1) > 1:
        ends = repeats.get("n_iter") or [None] * repeats["n"]
        return [
            (f"seed {seed}", list(resumes), None if n_iter is None else n_iter + 1)
            for seed, resumes, n_iter in zip(repeats["seeds"], repeats["resumes"], ends)
        ]
    n_iter = dynesty.get("n_iter")
    return [("", list(dynesty["resumes"]), None if n_iter is None else n_iter + 1)]


def split_at_end(resumes: list[int], end: int | None) -> tuple[list[int], int]:
    """The resumes after an interruption, and how many reruns resumed the finished run at ``end``."""
    if end is None:
        return list(resumes), 0
    return [r for r in resumes if r < end], sum(r >= end for r in resumes)


def reruns_text(reruns: int) -> str:
    """How many reruns resumed the finished run, for the report; empty for none."""
    return f"rerun {reruns}× after it had finished (sampling nothing more)" if reruns else ""


def resumes_cell(resumes: list[int], end: int | None) -> str:
    """The comparison table's cell: the iterations resumed from after interruptions, or "none", and the reruns."""
    interrupted, reruns = split_at_end(resumes, end)
    cell = ", ".join(map(str, interrupted)) or "none"
    return f"{cell} (rerun {reruns}× after it had finished)" if reruns else cell
