"""python3 -m analysis plots|leaderboard|paper|ablation RUN_DIR [--out DIR]

plots        RUN_DIR/figures/*.png and *.svg (overview, throughput, speedup, memory, ...)
leaderboard  RUN_DIR/leaderboard.md and RUN_DIR/leaderboard.html (figures embedded)
paper        RUN_DIR/paper/*.png, *.svg and paper-table4.md (the Hoard paper beside this run)
ablation     RUN_DIR/ablation.md: each step from halloc-paper to halloc, and halloc against the
             best peer per cell

RUN_DIR is a results folder (every run*.json in it is merged) or one results file. Each command
prints the paths it wrote. Exit status 2 on a missing or invalid results file.
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
    out = _out_dir(args, "figures")
    written = []
    for stem, fig in run_figures(df).items():
        written += _save(fig, out / stem)
    return written


def cmd_leaderboard(df, args) -> list[Path]:
    from . import figures as F
    from . import summary as S
    from .leaderboard import render_html, render_markdown
    out = _out_dir(args, None)
    out.mkdir(parents=True, exist_ok=True)
    workloads = S.ordered_workloads(df["workload"].unique())
    figs = {"Overview": F.overview_figure(df)}
    for w in workloads:
        figs[f"{w}: throughput vs threads"] = F.throughput_figure(df, w)
    figs["Memory blowup and peak RSS"] = F.memory_figure(df)
    from .paper import load_paper, overview_comparison_figure
    figs["Speedup beside the Hoard paper (ASPLOS 2000)"] = overview_comparison_figure(
        df, load_paper())
    md = out / "leaderboard.md"
    links = {}
    for cap, rel in (("overview", "figures/overview.png"),
                     ("memory blowup and peak RSS", "figures/memory.png"),
                     ("speedup beside the Hoard paper", "paper/paper-comparison.png")):
        if (out / rel).exists():  # written by `plots` / `paper`
            links[cap] = rel
    md.write_text(render_markdown(df, links), encoding="utf-8")
    page = out / "leaderboard.html"
    page.write_text(render_html(df, figs), encoding="utf-8")
    return [md, page]


def cmd_paper(df, args) -> list[Path]:
    from .paper import MAPPING, comparison_figure, load_paper, overview_comparison_figure, \
        table4_markdown
    out = _out_dir(args, "paper")
    paper = load_paper()
    written = _save(overview_comparison_figure(df, paper), out / "paper-comparison")
    for key, w in MAPPING.items():
        written += _save(comparison_figure(df, paper, key), out / f"paper-{w}")
    t4 = out / "paper-table4.md"
    t4.write_text(table4_markdown(df, paper), encoding="utf-8")
    written.append(t4)
    return written


def cmd_ablation(df, args) -> list[Path]:
    from .ablation import render_markdown
    out = _out_dir(args, None)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "ablation.md"
    md.write_text(render_markdown(df), encoding="utf-8")
    return [md]


COMMANDS = {"plots": cmd_plots, "leaderboard": cmd_leaderboard, "paper": cmd_paper,
            "ablation": cmd_ablation}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m analysis",
                                 description="Figures, leaderboard and the Hoard-paper "
                                 "comparison from allocbench results JSON.")
    ap.add_argument("command", choices=sorted(COMMANDS))
    ap.add_argument("run", metavar="RUN_DIR",
                    help="results folder (merges its run*.json) or one results file")
    ap.add_argument("--out", metavar="DIR",
                    help="base folder for the outputs instead of RUN_DIR (figures/, paper/ "
                    "and the leaderboard go under it)")
    args = ap.parse_args(argv)

    from .load import load_results
    from .summary import cell_stats, variation_warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = load_results([args.run])
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if df.empty:
        print(f"error: {args.run}: the results hold no runs", file=sys.stderr)
        return 2
    for note in df.attrs.get("warnings", []):
        print(f"warning: {note}", file=sys.stderr)
    if args.command == "plots":
        warns = variation_warnings(cell_stats(df, "throughput"))
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
