"""Run every janusfit benchmark, print one table, save the numbers as JSON.

    python benchmarks/run.py            # the full suite, about 40 min on 2 cores
    python benchmarks/run.py --quick    # shorter runs and fewer repetitions, < 3 min

Sections (see each module's docstring for exactly what is timed):
likelihood (bench_likelihood), lightcurve (bench_lightcurve: JLA 740 with α, β
against Cobaya's sn.jla), checkpoint (bench_checkpoint), end_to_end
(bench_end_to_end), scale (bench_scale), startup (bench_startup: also each
rule script, against the baseline), memory (bench_memory: the memory
estimator against measured peaks), runtime (bench_runtime: the runtime
estimator against measured wall times), workflow (bench_workflow: whole
Snakemake runs, against the baseline), threads (bench_threads: the JLA 740
likelihood with C_η on 1 and 2 threads), throughput (bench_throughput: the
comparison on 2 datasets × 2 models, threads policy performance against
measured). ``--baseline REF`` is the git commit
the start-up and workflow rows compare with (default ``common.BASELINE``).
``--sections`` runs a subset. The JSON goes to
benchmarks/results/<host>-<date>[-<sections>][-quick][-<n>].json (the sections
named only for a subset, n for a second run of the day); the table is printed in
Markdown, ready for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import RESULTS, machine, shared_data  # noqa: E402

SECTIONS = (
    "likelihood",
    "lightcurve",
    "threads",
    "checkpoint",
    "end_to_end",
    "scale",
    "startup",
    "memory",
    "runtime",
    "workflow",
    "throughput",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repetitions (< 3 min)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument(
        "--baseline",
        default=common.BASELINE,
        help=f"git commit the start-up and workflow rows compare with (default {common.BASELINE})",
    )
    args = parser.parse_args()
    common.BASELINE = args.baseline
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    shared_data()

    info = machine()
    print(
        f"janusfit benchmarks ({'quick' if args.quick else 'full'}) on {info['cpu']}, {info['cores']} cores, "
        f"Python {info['python']}, numpy {info['numpy']}, astropy {info['astropy']}, numba {info['numba']}"
    )
    results = {"machine": info, "quick": args.quick, "started": datetime.datetime.now().isoformat(timespec="seconds")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    # A subset says which sections it holds, so it never overwrites a full run of the same day.
    subset = "" if set(sections) == set(SECTIONS) else "-" + "+".join(sections)
    stem = f"{info['host']}-{datetime.date.today().isoformat()}{subset}{'-quick' if args.quick else ''}"
    # A second run of the same sections on the same day gets the next free number: it overwrote the first's.
    path = next(
        RESULTS / f"{stem}{f'-{n}' if n > 1 else ''}.json"
        for n in range(1, 1000)
        if not (RESULTS / f"{stem}{f'-{n}' if n > 1 else ''}.json").exists()
    )
    t_all = time.perf_counter()
    for name in sections:
        module = __import__(f"bench_{name}")
        print(f"\n[{name}]", flush=True)
        t0 = time.perf_counter()
        results[name] = module.run(args.quick, log=lambda msg: print(msg, flush=True))
        results[name]["elapsed_s"] = time.perf_counter() - t0
        # Saved after every section, so a failure in a later one keeps what was measured.
        path.write_text(json.dumps(results, indent=1, default=float) + "\n")
    results["elapsed_s"] = time.perf_counter() - t_all

    table = render(results)
    print("\n" + table)
    path.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(
        f"\nwrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path} "
        f"({results['elapsed_s'] / 60:.1f} min)"
    )


def render(results: dict) -> str:
    """One Markdown table: a row per measured case, janusfit first, then what it is compared with."""
    rows = []
    for name in SECTIONS:
        if name in results:
            rows += globals()[f"_rows_{name}"](results[name])
    head = "| benchmark | case | janusfit | compared with | ratio | target | status |\n|---|---|---|---|---|---|---|"
    return "\n".join([head] + ["| " + " | ".join(r) + " |" for r in rows])


def _rows_likelihood(res: dict) -> list:
    out = []
    for r in res["rows"]:
        cov = "full" if r["full_cov"] else "diag"
        base = f"astropy {res['astropy']} distmod" if r["model"] == "lcdm" else "numpy Mattig"
        if r["dataset"] == "chronometers" and r["model"] == "lcdm":
            base = f"astropy {res['astropy']} H(z)"
        target = (
            "≥30× base, ≥10× numpy, ≤3× floor"
            if r["dataset"] == "pantheon+" and r["batch"] == 32
            else "≤3× floor"
            if r["batch"] >= 32
            else "—"
        )
        out.append(
            [
                "likelihood",
                f"{r['dataset']} ({r['n']}, {cov}) {r['model']} batch {r['batch']}",
                f"{r['evals_per_s']:,.0f} evals/s",
                f"{base} {r['baseline_evals_per_s']:,.0f}/s; numpy {r['numpy_best']}; floor {r['floor']} "
                f"{r['floor_s'] * 1e6:,.1f} µs; janusfit's model alone {r['model_s_per_call'] * 1e6:,.1f} µs",
                f"×{r['speedup_vs_baseline']:,.1f} base, ×{r['speedup_vs_numpy_best']:,.1f} numpy, "
                f"{r['ratio_to_floor']:.2f}× floor ({r['ratio_to_floor_without_model']:.2f}× without the model)",
                target,
                r["status"],
            ]
        )
    return out


def _rows_lightcurve(res: dict) -> list:
    out = []
    for r in res["rows"]:
        e = r["evals_per_s"]
        stat = r["case"] == "stat"
        target = "≥5× Cobaya" if r["batch"] == 16 and not stat else "≤3× floor" if stat and r["batch"] >= 16 else "—"
        if target == "≥5× Cobaya":
            status = "ok" if r["vs_cobaya"] >= 5 else "MISSED"
        elif target == "≤3× floor":
            status = "ok" if r["ratio_to_floor"] <= 3 else "MISSED"
        else:
            status = "—"
        floor = f"; floor {e['floor']:,.0f}/s" if stat else ""
        ratio = f"×{r['vs_cobaya']:,.1f} Cobaya, ×{r['vs_numpy']:,.1f} numpy" + (
            f", {r['ratio_to_floor']:.2f}× floor ({r['ratio_to_floor_without_model']:.2f}× without the model)"
            if stat
            else ""
        )
        out.append(
            [
                "likelihood",
                f"JLA 740 light curves ({'stat only' if stat else 'with C_η'}) janus batch {r['batch']}",
                f"{e['janusfit']:,.0f} evals/s",
                f"Cobaya sn.jla {e['cobaya']:,.0f}/s; numpy {e['numpy']:,.0f}/s{floor}",
                ratio,
                target,
                status,
            ]
        )
    return out


def _rows_threads(res: dict) -> list:
    rate, (before, after) = res["evals_per_s"], (res["load_average_before"][0], res["load_average_after"][0])
    return [
        [
            "threads",
            f"JLA 740 with C_η, janus batch {res['batch']}, 2 vs 1 threads (load average {before:.2f} → {after:.2f})",
            f"{rate['2']:,.1f} evals/s",
            f"1 thread {rate['1']:,.1f} evals/s; results identical: {res['identical']}",
            f"{res['speedup']:.2f}×",
            f"≥{res['target']}×",
            res["status"],
        ]
    ] + [
        [
            "threads",
            f"{r['data']}, {r['model']} batch {r['batch']}, 2 vs 1 threads (as the pre-flight job times them)",
            f"{r['call_us']:.1f} µs per call at 1 thread",
            "—",
            f"efficiency {r['efficiency_2']:.2f}",
            "—",
            "—",
        ]
        for r in res.get("survey", [])
    ]


def _rows_throughput(res: dict) -> list:
    loads = "; ".join(
        f"{p} {s['load_before'][0]:.2f} → {s['load_after'][0]:.2f}" for p, v in res["samples"].items() for s in v
    )
    med = res["median_s"]
    return [
        [
            "throughput",
            f"Union3 + JLA binned × JANUS + ΛCDM, emcee and dynesty, every output (snakemake --cores 2; load {loads})",
            f"measured policy {med['measured']:.1f} s ({res['median_core_s']['measured']:.1f} core-s allocated)",
            f"performance policy (emcee threads: P) {med['performance']:.1f} s "
            f"({res['median_core_s']['performance']:.1f} core-s: the most a scheduler could gain ×{res['core_s_ratio']:.2f})",
            f"×{res['ratio']:.2f}",
            f"≥{res['target']}×",
            res["status"],
        ]
    ]


def _rows_checkpoint(res: dict) -> list:
    out = []
    for r in res["rows"]:
        rate, ratio = r["steps_per_s"], r["vs_in_memory"]
        for key in ("janusfit_checkpointing", "janusfit_defaults"):
            status = r.get("status", {}).get(key, "—")
            out.append(
                [
                    "checkpoint",
                    f"{r['posterior']}, {key.replace('janusfit_', '')}, {r['n_steps']} steps",
                    f"{rate[key]:,.0f} steps/s",
                    f"in memory {rate['in_memory']:,.0f}/s; HDFBackend {rate['hdf_backend']:,.0f}/s",
                    f"{ratio[key]:.2f}× in-memory (HDFBackend {ratio['hdf_backend']:.2f}×)",
                    "≥0.9× in-memory" if status != "—" else "—",
                    status,
                ]
            )
    return out


def _rows_end_to_end(res: dict) -> list:
    out = []
    for r in res["rows"]:
        for sampler, goal in (("emcee", "converged posterior"), ("dynesty", "ln Z, dlogz 0.1")):
            row = r[sampler]
            ours = row["janusfit"]
            plains = []
            for p in row["plain"].values():
                what = f"plain, astropy {p['astropy']}" if r["model"] == "lcdm" else "plain, numpy"
                text = f"{what}: {p['wall_s']:,.1f} s{' (projected)' if p['projected'] else ''}, {p['calls']:,} calls"
                if sampler == "emcee":
                    text += ", all checks pass" if p["passed"] else f", fails {'; '.join(p['failures'])}"
                else:
                    text += f", ln Z {p['logz']:.2f}"
                plains.append(text)
            if sampler == "emcee":
                reached = "all checks pass" if ours["passed"] else f"fails {'; '.join(ours['failures'])}"
            else:
                reached = f"ln Z {ours['logz']:.2f} ± {ours['logz_err']:.2f}"
            own = ours["wall_s"] - ours["likelihood_s"]
            reached += f"; likelihood {ours['likelihood_s']:.2f} s, sampler and checkpoints {own:.2f} s"
            ratio = (
                f"×{row['speedup']:.1f} vs the faster plain "
                f"(at most ×{row['speedup'] * ours['wall_s'] / own:.1f} with a free likelihood)"
            )
            out.append(
                [
                    "end to end",
                    f"{r['dataset']} {r['model']}: {goal}",
                    f"{ours['wall_s']:.1f} s, {ours['calls']:,} calls, {reached}",
                    "; ".join(plains),
                    ratio,
                    "≥10× the faster plain",
                    row["status"],
                ]
            )
    return out


def _rows_scale(res: dict) -> list:
    out = []
    chain = res["chain_length"]
    for r in chain:
        out.append(
            [
                "scale",
                f"{r['steps']:,} steps, 32 walkers, chain on disk",
                f"peak RSS {r['peak_rss_mb']:.0f} MB",
                f"{r['steps_per_s']:,.0f} steps/s",
                "—",
                "—",
                "—",
            ]
        )
    out[-1][4] = f"{res['rss_ratio']:.3f}× RSS at {chain[0]['steps']:,}"
    out[-1][5], out[-1][6] = "≤1.1×", res["rss_status"]
    for route in ("reduced", "direct"):
        sp = res["thread_speedup"][route]
        t1, t2 = res["threads"]["1"], res["threads"]["2"]
        out.append(
            [
                "scale",
                f"1701 full cov, {route} route, 2 vs 1 BLAS threads",
                f"{t2['128'][route]:,.0f} evals/s (batch 128)",
                f"1 thread {t1['128'][route]:,.0f} evals/s",
                f"{sp['128']:.2f}× (batch 32: {sp['32']:.2f}×)",
                "≥1.7×" if route == "reduced" else "—",
                res["thread_status"] if route == "reduced" else "—",
            ]
        )
    return out


def _rows_startup(res: dict) -> list:
    warm = res["warm"][len(res["warm"]) // 2]["stages_s"]
    stages = ", ".join(f"{k} {v:.2f}" for k, v in warm.items())
    return [
        [
            "start-up",
            "process start → first Pantheon+ ΛCDM call, warm numba cache",
            f"{res['warm_median_s']:.2f} s",
            f"stages (s): {stages}",
            "—",
            "≤2 s",
            res["status"],
        ],
        [
            "start-up",
            "the same, cold (empty) numba cache",
            f"{res['cold']['total_s']:.2f} s",
            "compiles every kernel",
            "—",
            "—",
            "—",
        ],
    ] + (_rows_rules(res["rules"]) if "rules" in res else [])


def _rows_rules(res: dict) -> list:
    out = []
    for r in res["rows"]:
        new, old = r["new"], r.get("old")
        out.append(
            [
                "start-up",
                f"process start → stage function, scripts/{r['script']}, warm",
                f"{new['total_s']:.2f} s (Snakemake preamble {new['preamble_s']:.2f}, janusfit "
                f"{new['janusfit_s']:.2f})",
                f"{res['baseline']}: {old['total_s']:.2f} s (janusfit {old['janusfit_s']:.2f})"
                if old
                else f"{res['baseline']}: no such rule",
                f"×{r['ratio']:.1f} faster" if old else "—",
                "≤1.0 s",
                r["status"],
            ]
        )
    return out


def _rows_workflow(res: dict) -> list:
    cases = {
        "union3": "Union3 ΛCDM, emcee: inspect_data, preflight, emcee, convergence (snakemake --cores 2)",
        "quick_start": "quick start: default config, every job and the report (snakemake --cores 2)",
    }
    return [
        [
            "workflow",
            case,
            f"{res[name]['new']:.1f} s",
            f"{res['baseline']}: {res[name]['old']:.1f} s",
            f"×{res[name]['ratio']:.2f} faster",
            f"≤{res[name]['target_s']:g} s",
            res[name]["status"],
        ]
        for name, case in cases.items()
    ]


def _rows_memory(res: dict) -> list:
    return [
        [
            "memory",
            r["case"],
            f"predicted {r['predicted_mb']:,} MB",
            f"measured peak RSS {r['measured_mb']:,.0f} MB",
            f"{r['ratio']:.2f}× measured",
            "measured ≤ predicted ≤ 2× measured",
            "ok" if r["holds"] else "MISSED",
        ]
        for r in res["rows"]
    ]


def _rows_runtime(res: dict) -> list:
    return [
        [
            "runtime",
            r["case"],
            f"estimated {r['estimated_s']:,.0f} s",
            f"measured {r['measured_s']:,.0f} s",
            f"{r['ratio']:.2f}× measured",
            "measured ≤ estimated ≤ 2× measured",
            "ok" if r["holds"] else "MISSED",
        ]
        for r in res["rows"]
    ]


if __name__ == "__main__":
    main()
