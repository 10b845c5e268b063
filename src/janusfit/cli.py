"""The ``janusfit`` command: where every run stands, two results side by side, exports of finished runs.

    janusfit status [RESULTS]        every run: done, running, interrupted or not started
    janusfit compare A B             two results roots side by side, changes beyond their errors flagged
    janusfit export [RESULTS]        GetDist chains, ArviZ posterior.nc and LaTeX tables of finished runs

RESULTS defaults to ``results`` (the workflow's results root, beside its
Snakefile). Exit status: 0; 1 when ``status`` finds an interrupted run, or
every run done and the overview behind them (the workflow stopped before it),
or when ``export`` or ``compare`` leaves out a run that is not done; 2 for
a bad argument (a directory that is not a results root), with one message
naming it. Each subcommand imports only what it needs, so the command starts
fast and never loads ArviZ, GetDist or Snakemake.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import JanusfitError
from .layout import DEFAULT_ROOT

EXIT_INTERRUPTED, EXIT_BAD_INPUT = 1, 2


def _status(args) -> int:
    from .status import INTERRUPTED, REFUSED, format_status, results_status, unfinished_overview

    statuses, left_over = results_status(args.results)
    unfinished = unfinished_overview(args.results, statuses)
    if args.json:
        print(json.dumps([s.to_json() for s in statuses], indent=2))
        if unfinished:
            print(unfinished, file=sys.stderr)
    else:
        print(format_status(statuses, left_over_keys=left_over) + (f"\n\n{unfinished}" if unfinished else ""))
    interrupted = unfinished or any(s.state in (INTERRUPTED, REFUSED) for s in statuses)
    return EXIT_INTERRUPTED if interrupted else 0


def _compare(args) -> int:
    from .resultsdiff import as_json, compare_roots, format_comparison

    result = compare_roots(args.a, args.b)
    print(json.dumps(as_json(result), indent=2) if args.json else format_comparison(result))
    return EXIT_INTERRUPTED if result["not_done_a"] or result["not_done_b"] else 0


def _export(args) -> int:
    from pathlib import Path

    from .layout import COMPARISON, OVERVIEW_CSV, SUMMARY, NotAResultsRoot, configured_runs, find_runs
    from .status import DONE, results_status

    finished = [run for run in find_runs(args.results) if (run.dir / SUMMARY).exists()]
    listed = configured_runs(args.results)
    if listed is not None:
        for run in finished:
            if (run.dataset, run.model) not in listed:
                print(f"{run.key}: not exported: not in {OVERVIEW_CSV}, a run the config no longer has")
        finished = [run for run in finished if (run.dataset, run.model) in listed]
    # A summary beside samples that changed since (a rerun stopped or under way) is of earlier results:
    # exported, its chains would be read with the old burn-in, its table row would be the old numbers.
    state = {st.run: st.state for st in results_status(args.results)[0]}
    not_done = {run.key: state.get(run.key, "not done") for run in finished if state.get(run.key) != DONE}
    for key, why in not_done.items():
        print(f"{key}: not exported: {why}, its summary is of earlier results ('janusfit status' says why)")
    finished = [run for run in finished if run.key not in not_done]
    if not finished:
        raise NotAResultsRoot(
            f"'{args.results}' has no finished run (no '<dataset>/<model>/{SUMMARY}'"
            + (", or none of them done" if not_done else "")
            + "); 'janusfit status' shows where its runs stand"
        )
    from .export import export_run, export_table, table_inputs  # numpy, h5py: only once there is work
    from .layout import CONSTRAINTS_TABLE

    for run in finished:
        written = export_run(run.dir)
        print(f"{run.key}: {len(written)} files in {written[0].parent}")
    tables_left_out = 0
    for dataset in sorted({run.dataset for run in finished}):
        directory = Path(args.results) / dataset
        models = None if listed is None else [m for d, m in listed if d == dataset]
        summaries, comparison = table_inputs(directory, models)
        shown = [p.parent.name for p in summaries] if models is None else models
        behind = [f"{dataset}/{m}" for m in shown if state.get(f"{dataset}/{m}") != DONE]
        if behind or (
            comparison is not None and comparison.stat().st_mtime < max(p.stat().st_mtime for p in summaries)
        ):
            why = f"{', '.join(behind)} not done" if behind else f"{COMPARISON} is older than the runs' summaries"
            print(f"{dataset}: {CONSTRAINTS_TABLE} not written: {why}; finish the workflow (snakemake), then export")
            tables_left_out += 1
            continue
        print(f"{dataset}: {export_table(summaries, comparison, directory / CONSTRAINTS_TABLE)}")
    return EXIT_INTERRUPTED if not_done or tables_left_out else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="janusfit", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="{status,compare,export}")
    status = sub.add_parser("status", help="where every run stands, and how to resume the interrupted ones")
    status.add_argument("results", nargs="?", default=DEFAULT_ROOT, help=f"results root (default: {DEFAULT_ROOT})")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=_status)
    compare = sub.add_parser("compare", help="two results roots side by side")
    compare.add_argument("a", help="results root A")
    compare.add_argument("b", help="results root B")
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.set_defaults(func=_compare)
    export = sub.add_parser("export", help="write the exports of every finished run (no sampling)")
    export.add_argument("results", nargs="?", default=DEFAULT_ROOT, help=f"results root (default: {DEFAULT_ROOT})")
    export.set_defaults(func=_export)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except JanusfitError as exc:
        print(f"janusfit {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader stopped reading (janusfit status | head -1): no error of ours. Python would
        # flush stdout again at exit and fail once more, so it is pointed at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
