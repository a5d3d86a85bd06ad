"""Real programs (redis, sqlite, ghostscript, lua, python, g++, z3, ruby; the harness's program
workloads): their own figure and leaderboard section, apart from the synthetic workloads.

case        one (program, threads) pair of the run.
time        per run: its wall time (seconds), or for a program whose metric is a rate
            (redis: requests/s) the time one request takes, 1 / rate, so lower is better for
            every program alike.
ratio       per allocator and case: the median over its successful repetitions, divided by
            glibc's median in the same case (1.0 = as glibc; below 1 is faster or leaner).
            (Debian's redis links jemalloc; the harness preloads a shim into its glibc runs so
            that they use glibc's malloc.)
failure     an allocator fails a case when any repetition failed, timed out or printed output
            that differs from glibc's (wrong_output), or when none succeeded. A failed case
            scores 1 / FAILURE_FACTOR x the worst successful ratio in that case.
score       the geometric mean of the time ratios over the cases (lower is better), and the same
            of the peak-RSS ratios.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import summary as S
from .load import FAILED_STATUSES

BASELINE = "glibc"
FAILURE_FACTOR = 0.5


def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(synthetic runs, program runs) of one results table."""
    if "kind" not in df.columns:
        return df, df.iloc[0:0]
    programs = df["kind"] == "program"
    synthetic = df[~programs].copy()
    synthetic.attrs = dict(df.attrs)
    chosen = df[programs].copy()
    chosen.attrs = dict(df.attrs)
    return synthetic, chosen


def _time(row) -> float:
    value = row["metric_value"]
    if row["higher_is_better"] is True:
        return 1.0 / value if value > 0 else math.nan
    return value


def case_stats(programs: pd.DataFrame) -> pd.DataFrame:
    """Per (program, threads, allocator): median time and peak RSS over successful repetitions,
    their ratios to glibc's in the same case, counts, and whether the allocator fails the case."""
    cols = ["workload", "threads", "allocator", "time", "peak_rss", "time_ratio", "rss_ratio",
            "n", "n_ok", "n_failed", "failed_case", "statuses"]
    if programs.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (w, t, a), g in programs.groupby(["workload", "threads", "allocator"], sort=False):
        ok = g[g["status"] == "ok"]
        times = ok.apply(_time, axis=1) if len(ok) else pd.Series(dtype=float)
        n_failed = int(g["status"].isin(FAILED_STATUSES).sum())
        skipped = bool((g["status"] == "skipped").all())
        rows.append({"workload": w, "threads": int(t), "allocator": a,
                     "time": float(times.median()) if len(ok) else math.nan,
                     "peak_rss": float(ok["peak_rss"].median()) if len(ok) else math.nan,
                     "n": len(g), "n_ok": len(ok), "n_failed": n_failed,
                     "failed_case": (n_failed > 0 or len(ok) == 0) and not skipped,
                     "skipped": skipped,
                     "statuses": ",".join(sorted(set(g["status"]) - {"ok"}))})
    stats = pd.DataFrame(rows)
    base = stats[stats["allocator"] == BASELINE].set_index(["workload", "threads"])
    key = list(zip(stats["workload"], stats["threads"]))
    stats["time_ratio"] = [r.time / base["time"].get(k, math.nan) for r, k in
                           zip(stats.itertuples(), key)]
    stats["rss_ratio"] = [r.peak_rss / base["peak_rss"].get(k, math.nan) for r, k in
                          zip(stats.itertuples(), key)]
    order = {p: i for i, p in enumerate(program_order(stats["workload"]))}
    stats = stats.sort_values(["workload", "threads"], key=lambda c: c.map(order)
                              if c.name == "workload" else c, kind="stable")
    return stats.reset_index(drop=True)


def program_order(names) -> list[str]:
    """Programs in the harness's table order where known, then others sorted."""
    known = ["redis", "sqlite", "ghostscript", "lua", "python", "g++", "z3", "ruby"]
    names = list(dict.fromkeys(names))
    return [p for p in known if p in names] + sorted(p for p in names if p not in known)


def scores(stats: pd.DataFrame) -> pd.DataFrame:
    """Per allocator: time score, memory score (geometric means of ratios, failures penalised),
    cases measured and failed; sorted best first. Allocators skipped everywhere are left out."""
    cols = ["allocator", "time_score", "rss_score", "cases", "failed_cases"]
    if stats.empty:
        return pd.DataFrame(columns=cols)
    out = []
    ranked = stats[~stats["skipped"]]
    for a in S.ordered_allocators(ranked["allocator"].unique()):
        times, rss = [], []
        mine = ranked[ranked["allocator"] == a]
        for row in mine.itertuples():
            case = ranked[(ranked["workload"] == row.workload) & (ranked["threads"] == row.threads)
                          & ~ranked["failed_case"]]
            if row.failed_case:
                times.append(case["time_ratio"].max() / FAILURE_FACTOR if len(case) else math.nan)
                rss.append(case["rss_ratio"].max() / FAILURE_FACTOR if len(case) else math.nan)
            else:
                times.append(row.time_ratio)
                rss.append(row.rss_ratio)
        out.append({"allocator": a, "time_score": _geomean(times), "rss_score": _geomean(rss),
                    "cases": len(mine), "failed_cases": int(mine["failed_case"].sum())})
    table = pd.DataFrame(out, columns=cols)
    return table.sort_values(["time_score", "rss_score"], na_position="last").reset_index(drop=True)


def _geomean(values) -> float:
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if v.size == 0 or (v <= 0).any():
        return math.nan
    return float(np.exp(np.mean(np.log(v))))


def _case_name(workload: str, threads: int, threaded: set[str]) -> str:
    return f"{workload} t={threads}" if workload in threaded else workload


def _threaded(stats: pd.DataFrame) -> set[str]:
    return {w for w, g in stats.groupby("workload") if g["threads"].nunique() > 1}


def leaderboard_sections(programs: pd.DataFrame) -> list[tuple[str, list[str], list[list[str]], str]]:
    """The leaderboard's "Real programs" sections, as (title, header, rows, text) like the
    leaderboard's own; empty when the run has no program workloads."""
    if programs.empty:
        return []
    stats = case_stats(programs)
    threaded = _threaded(stats)
    table = scores(stats)
    has_base = (stats["allocator"] == BASELINE).any()
    intro = ("Each program's median wall time (redis: time per request, from requests/s) and "
             "peak RSS (the largest process of the tree; for redis the server) divided by "
             "glibc's in the same case; lower is better. Score: geometric mean over the cases; "
             f"a failed case (failed, timeout, wrong_output) counts {1 / FAILURE_FACTOR:g} x the "
             "worst successful ratio.")
    if not has_base:
        intro = "No glibc runs in this results file: ratios need glibc as the baseline."
    score_rows = [[str(i + 1), r.allocator, _f(r.time_score), _f(r.rss_score), str(r.cases),
                   str(r.failed_cases)] for i, r in enumerate(table.itertuples())]
    sections = [("Real programs: score", ["rank", "allocator", "time vs glibc",
                                          "peak RSS vs glibc", "cases", "failed cases"],
                 score_rows, intro)]
    allocators = S.ordered_allocators(stats["allocator"].unique())
    rows = []
    for (w, t), g in stats.groupby(["workload", "threads"], sort=False):
        row = [_case_name(w, t, threaded)]
        by = g.set_index("allocator")
        for a in allocators:
            if a not in by.index:
                row.append("")
                continue
            r = by.loc[a]
            if r["skipped"]:
                row.append("skipped")
            elif r["failed_case"]:
                row.append(r["statuses"] or "failed")
            else:
                row.append(f"{_f(r['time_ratio'], 2)} / {_f(r['rss_ratio'], 2)}")
        rows.append(row)
    single = sorted(set(stats["workload"]) - threaded)
    note = ("time / peak RSS, each relative to glibc (lower is better). Single-threaded "
            f"programs (run once per repetition with 1 thread): {', '.join(single) or 'none'}.")
    sections.append(("Real programs: time and peak RSS per program", ["program", *allocators],
                     rows, note))
    failures = programs[programs["status"].isin(FAILED_STATUSES)]
    if not failures.empty:
        frows = [[r.workload, r.allocator, str(r.threads), str(r.repetition), r.status,
                  (r.error or "")[:160]] for r in failures.itertuples()]
        sections.append(("Real programs: failed runs", ["program", "allocator", "threads",
                                                        "rep", "status", "error"], frows, ""))
    skipped = programs[programs["status"] == "skipped"].drop_duplicates(["workload", "allocator"])
    if not skipped.empty:
        srows = [[r.workload, r.allocator, (r.error or "")[:160]] for r in skipped.itertuples()]
        sections.append(("Real programs: skipped", ["program", "allocator", "why"], srows, ""))
    return sections


def _f(v, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def programs_figure(programs: pd.DataFrame) -> Figure:
    """Two panels, time and peak RSS, each relative to glibc per case (bars per allocator, a
    line at 1); failed cases marked with an x at the bottom."""
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    stats = case_stats(programs)
    if stats.empty or not (stats["allocator"] == BASELINE).any():
        for ax in axes:
            ax.text(0.5, 0.5, "no program runs with a glibc baseline", ha="center",
                    transform=ax.transAxes)
        return fig
    threaded = _threaded(stats)
    cases = list(dict.fromkeys(zip(stats["workload"], stats["threads"])))
    allocators = S.ordered_allocators(stats["allocator"].unique())
    styles = S.allocator_styles(allocators)
    width = 0.8 / max(len(allocators), 1)
    for ax, col, label in ((axes[0], "time_ratio", "time relative to glibc"),
                           (axes[1], "rss_ratio", "peak RSS relative to glibc")):
        for i, a in enumerate(allocators):
            mine = stats[stats["allocator"] == a].set_index(["workload", "threads"])
            xs = np.arange(len(cases)) + (i - (len(allocators) - 1) / 2) * width
            values = [mine[col].get(c, math.nan) if c in mine.index and
                      not mine.loc[c, "failed_case"] else math.nan for c in cases]
            ax.bar(xs, values, width, color=styles[a]["color"], label=a)
            failed = [x for x, c in zip(xs, cases) if c in mine.index and mine.loc[c, "failed_case"]]
            if failed:
                ax.scatter(failed, [0] * len(failed), color=styles[a]["color"], marker="x",
                           s=60, linewidths=2.0, zorder=5, clip_on=False)
        ax.axhline(1.0, color="#444444", linewidth=0.8)
        ax.set_ylabel(f"{label}\n(lower is better)")
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(range(len(cases)))
    axes[1].set_xticklabels([_case_name(w, t, threaded) for w, t in cases], rotation=20)
    axes[0].legend(ncol=min(len(allocators), 8), fontsize=8, loc="upper center",
                   bbox_to_anchor=(0.5, 1.25), frameon=False)
    fig.suptitle("Real programs: time and peak RSS relative to glibc, median of repetitions "
                 "(x = failed; redis time = 1 / requests per s)", fontsize=10)
    return fig
