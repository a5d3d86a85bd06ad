"""python3 -m analysis COMMAND RUN_DIR [--out DIR]   (compare: RUN_A RUN_B)

plots        RUN_DIR/figures/*.png and *.svg (overview, throughput, speedup, memory, micro, ...)
leaderboard  RUN_DIR/leaderboard.md and RUN_DIR/leaderboard.html (figures embedded);
             --rank-by throughput|memory|combined
paper        RUN_DIR/paper/: every figure and table of the Hoard paper's evaluation beside this
             run (paper-<workload>.png/svg overlays, paper-verdicts.md, paper-table2..6.md)
ablation     RUN_DIR/ablation.md: each step from halloc-paper to halloc, and halloc against the
             best peer per cell (written only when the run has the ablation steps)
csv          RUN_DIR/results.csv: one row per run (mimalloc-bench's benchres.csv columns first)
compare      RUN_A RUN_B [--threshold 5%] [--pair OLD:NEW]: B over A per cell and allocator with
             95% intervals; exit 1 on a significant regression, 0 otherwise

RUN_DIR is a results folder (every run*.json in it is merged, or an interrupted sweep's
run*.json.partial.jsonl) or one results file. Each command prints the paths it wrote (compare
prints its report). Exit status 2 on a missing or invalid results file or a bad option.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .load import SchemaError


def _out_dir(args, default_sub: str | None) -> Path:
    run = Path(args.run)
    base = Path(args.out) if args.out else (run if run.is_dir() else run.parent)
    return base / default_sub if default_sub else base


def _save(fig, stem: Path, formats=("png", "svg"), dpi: int = 110) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = stem.with_suffix(f".{fmt}")
        fig.savefig(p, format=fmt, dpi=dpi)
        paths.append(p)
    return paths


def cmd_plots(df, args) -> list[Path]:
    from .figures import run_figures
    from .programs import programs_figure, split
    out = _out_dir(args, "figures")
    written = []
    df, program_runs = split(df)
    if not df.empty:
        for stem, fig in run_figures(df).items():
            written += _save(fig, out / stem)
    if not program_runs.empty:
        written += _save(programs_figure(program_runs), out / "programs")
    return written


def cmd_leaderboard(df, args) -> list[Path]:
    from . import figures as F
    from . import summary as S
    from .leaderboard import render_html, render_markdown
    from .paper import keys_run, load_paper, overview_comparison_figure
    from .programs import programs_figure, split
    out = _out_dir(args, None)
    out.mkdir(parents=True, exist_ok=True)
    synthetic, program_runs = split(df)
    figs = {}
    if not synthetic.empty:
        workloads = S.ordered_workloads(synthetic["workload"].unique())
        figs["Overview"] = F.overview_figure(synthetic)
        for w in workloads:
            figs[f"{w}: throughput vs threads"] = F.throughput_figure(synthetic, w)
        figs["Memory blowup and peak RSS"] = F.memory_figure(synthetic)
    if df.attrs.get("micro"):
        figs["Microbenchmarks"] = F.micro_figure(df)
    if not synthetic.empty and keys_run(synthetic):
        figs["Speedup beside the Hoard paper (ASPLOS 2000)"] = overview_comparison_figure(
            synthetic, load_paper())
    if not program_runs.empty:
        figs["Real programs: time and peak RSS relative to glibc"] = programs_figure(program_runs)
    md = out / "leaderboard.md"
    links = {}
    for cap, rel in (("overview", "figures/overview.png"),
                     ("memory blowup and peak RSS", "figures/memory.png"),
                     ("real programs relative to glibc", "figures/programs.png"),
                     ("microbenchmarks", "figures/micro.png"),
                     ("speedup beside the Hoard paper", "paper/paper-comparison.png")):
        if (out / rel).exists():  # written by `plots` / `paper`
            links[cap] = rel
    md.write_text(render_markdown(df, links, rank_by=args.rank_by), encoding="utf-8")
    page = out / "leaderboard.html"
    page.write_text(render_html(df, figs, rank_by=args.rank_by), encoding="utf-8")
    return [md, page]


def cmd_paper(everything, args) -> list[Path]:
    from .paper import CITATION, MAPPING, comparison_figure, keys_run, load_paper, \
        overview_comparison_figure, table4_markdown, verdicts_markdown
    from .paper_tables import f_tables_markdown, table2_markdown
    from .programs import split
    from .sharing import table3_markdown
    # Table 2 (uniprocessor runtimes) has rows for real programs too, as the paper's has
    # Ghostscript; every figure and other table is of the synthetic workloads.
    df = split(everything)[0]
    out = _out_dir(args, "paper")
    paper = load_paper()
    written = []
    keys = keys_run(df)
    if keys:
        written += _save(overview_comparison_figure(df, paper), out / "paper-comparison")
    for key in keys:
        written += _save(comparison_figure(df, paper, key), out / f"paper-{MAPPING[key]}")
    skipped = [w for k, w in MAPPING.items() if k not in keys]
    if skipped:
        print(f"paper: no panel for {', '.join(skipped)} (not run)", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"paper-verdicts.md": verdicts_markdown(df, paper),
              "paper-table2.md": table2_markdown(everything, paper, CITATION),
              "paper-table3.md": table3_markdown(df, paper, CITATION),
              "paper-table4.md": table4_markdown(df, paper),
              "paper-table5-6.md": f_tables_markdown(df, paper, CITATION)}
    for name, text in tables.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


def cmd_ablation(df, args) -> list[Path]:
    from .ablation import has_ablation, render_markdown
    if not has_ablation(df):
        print("ablation: the run has no ablation steps (halloc-paper and halloc-abl-*); no "
              "ablation.md written (make ablation runs them)", file=sys.stderr)
        return []
    out = _out_dir(args, None)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "ablation.md"
    md.write_text(render_markdown(df), encoding="utf-8")
    return [md]


def cmd_csv(df, args) -> list[Path]:
    from .results_csv import write_results_csv
    return [write_results_csv(df, _out_dir(args, None) / "results.csv")]


COMMANDS = {"plots": cmd_plots, "leaderboard": cmd_leaderboard, "paper": cmd_paper,
            "ablation": cmd_ablation, "csv": cmd_csv}


def _load(path: str):
    from .load import load_results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = load_results([path])
    if df.empty:
        raise SchemaError(path, ["the results hold no runs"], header="no results")
    return df


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python3 -m analysis",
                                 description="Figures, leaderboard, CSV, comparisons and the "
                                 "Hoard-paper overlay from allocbench results JSON.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in sorted(COMMANDS):
        p = sub.add_parser(name, help=f"{name} of one run")
        p.add_argument("run", metavar="RUN_DIR",
                       help="results folder (merges its run*.json) or one results file")
        p.add_argument("--out", metavar="DIR",
                       help="base folder for the outputs instead of RUN_DIR (figures/, paper/ "
                       "and the leaderboard go under it)")
        if name == "leaderboard":
            p.add_argument("--rank-by", choices=("throughput", "memory", "combined"),
                           default="throughput", help="the score that orders the ranking")
    p = sub.add_parser("compare", help="run B over run A, with confidence intervals")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--threshold", default="5%",
                   help="smallest change that counts, e.g. 5%% (default) or 0.05")
    p.add_argument("--pair", metavar="OLD:NEW",
                   help="compare allocator OLD of RUN_A with NEW of RUN_B (e.g. "
                   "halloc-paper:halloc; RUN_A and RUN_B may be the same run)")
    p.add_argument("--out", metavar="FILE", help="also write the report to FILE")
    return ap


def cmd_compare(args) -> int:
    from . import compare as C
    try:
        threshold = C.parse_threshold(args.threshold)
        a, b = _load(args.run_a), _load(args.run_b)
        for tag, df in (("RUN_A", a), ("RUN_B", b)):
            for note in df.attrs.get("warnings", []):
                print(f"warning: {tag}: {note}", file=sys.stderr)
        cells, allocs = C.compare(a, b, threshold, args.pair)
    except (SchemaError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if allocs.empty:
        print(f"error: {args.run_a} and {args.run_b} have no allocator in common "
              "(use --pair OLD:NEW)", file=sys.stderr)
        return 2
    text = C.render_markdown(a, b, cells, allocs, threshold, (args.run_a, args.run_b))
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 1 if allocs["regression"].any() else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "compare":
        return cmd_compare(args)

    from .summary import cell_stats, variation_warnings
    try:
        df = _load(args.run)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in df.attrs.get("warnings", []):
        print(f"warning: {note}", file=sys.stderr)
    from .programs import split
    synthetic = split(df)[0]
    # Real programs have their own figure and section; of the paper's outputs only Table 2 has
    # rows for them (cmd_paper splits the run itself).
    if args.command == "ablation" or (args.command == "paper" and synthetic.empty):
        if synthetic.empty:
            print(f"{args.command}: no synthetic workloads in {args.run}; nothing to write")
            return 0
        df = synthetic
    if args.command == "plots":
        warns = variation_warnings(cell_stats(synthetic, "throughput"))
        if warns:
            print(f"warning: {len(warns)} point(s) whose repetitions vary by more than 10%, "
                  f"e.g. {warns[0]}", file=sys.stderr)
    written = COMMANDS[args.command](df, args)
    print(f"{args.command}: wrote {len(written)} file(s):")
    for p in written:
        print(f"  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
