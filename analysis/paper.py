"""Our measurements beside the Hoard paper's.

Berger, McKinley, Blumofe, Wilson. "Hoard: A Scalable Memory Allocator for Multithreaded
Applications." ASPLOS-IX, 2000. The paper's numbers are in analysis/paper/hoard-asplos2000.json
(read from the PDF's vector graphics; see the file's "source" and "notes").

What differs, and is written on every figure:
- the paper's speedups are over the Solaris 7 allocator on 1 processor of a dedicated 14-way
  400 MHz UltraSparc (Sun Enterprise 5000); x = processors, one thread per processor;
- ours are over glibc at 1 thread on the machine of the run (few cores; a sweep may go past the
  core count, where threads are oversubscribed and no speedup is possible);
- the mapping of benchmarks: threadtest (Fig 3a), shbench (3b), Larson (3c) -> larson,
  Barnes-Hut (3d in the JSON's reading of the PDF) -> barnes-hut, active-false (4a) ->
  cache-thrash, passive-false (4b) -> cache-scratch. Our workloads are re-implementations with
  their own parameters, not the paper's binaries. BEMengine (3e, 3f) is a proprietary program
  and is not reproduced.
The overlay (comparison_figure) puts our curves on the paper's axes: speedup over each
allocator's own 1-thread run, linear axes 1-14, the paper's Hoard curve drawn over ours; a
second panel cuts the paper's curves to our thread range; and a verdict line, computed by
`verdict`, says where the shape matches.
Table 4's A/U is the memory Hoard had allocated from the OS at its maximum (A) over the maximum
live bytes (U). Ours is the harness's blowup = (peak RSS - baseline RSS) / peak live bytes: RSS
is what was touched, not what was mapped, and the baseline (an idle run with the same
allocator) removes the program's own footprint. They are comparable in spirit, not equal.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from . import summary as S
from .conditions import alerts, condition_lines
from .figures import _draw_curves, _empty, _finish, _new_figure, _styles

PAPER_JSON = Path(__file__).resolve().parent / "paper" / "hoard-asplos2000.json"

# paper speedup key -> our workload
MAPPING = {
    "threadtest": "threadtest",
    "shbench": "shbench",
    "Larson": "larson",
    "Barnes-Hut": "barnes-hut",
    "active-false": "cache-thrash",
    "passive-false": "cache-scratch",
}
# paper Table 4 row -> our workload (Table 4 has no active/passive-false rows)
TABLE4_MAPPING = {"threadtest": "threadtest", "shbench": "shbench", "Larson": "larson",
                  "Barnes-Hut": "barnes-hut"}
# Our allocators drawn bold with interquartile bands beside the paper; the others thin, no bands.
FOCUS = ("halloc", "halloc-paper", "glibc")
PAPER_STYLE = {
    "Hoard": {"color": "#d62728", "marker": "o"},
    "Ptmalloc": {"color": "#1f77b4", "marker": "^"},
    "MTmalloc": {"color": "#7f7f7f", "marker": "s"},
    "Solaris": {"color": "#000000", "marker": "D"},
}
CITATION = ("Berger, McKinley, Blumofe, Wilson. Hoard: A Scalable Memory Allocator for "
            "Multithreaded Applications. ASPLOS-IX, 2000")


def load_paper(path: Path | str = PAPER_JSON) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def machines_note(paper: dict, machine: dict, baseline_threads: int | None = None) -> str:
    base = ("each allocator's own 1-thread run" if baseline_threads is None
            else f"glibc at {baseline_threads} thread(s)")
    return ("Paper (Berger et al., ASPLOS 2000): speedup over the Solaris 7 allocator on 1 "
            "processor of a dedicated 14-way 400 MHz "
            "UltraSparc (Sun Enterprise 5000), one thread per processor. "
            f"Ours: speedup over {base} on {S.machine_line(machine)}"
            "; threads beyond the core count are oversubscribed (no speedup is possible there). "
            "Our workloads are re-implementations with their own parameters.")


def _paper_panel(ax, entry: dict) -> None:
    for name, pts in entry["series"].items():
        st = PAPER_STYLE.get(name, {"color": "#444444", "marker": "."})
        xs, ys = zip(*pts)
        ax.plot(xs, ys, label=name, color=st["color"], marker=st["marker"], markersize=4,
                markerfacecolor="none", linewidth=1.3)
    ax.plot([1, 14], [1, 14], color="#999999", linestyle=":", linewidth=1, label="linear")
    ax.set_xlim(0.5, 14.5)
    ax.set_ylim(0, 14.5)
    ax.set_xticks(range(1, 15))
    ax.set_xlabel("processors (= threads)")
    ax.set_ylabel("speedup over Solaris, 1 proc")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")


# "Scales" in a verdict: a speedup of at least this fraction of the thread count, over the
# allocator's own 1-thread run (the paper's curves: over their own P = 1 point).
SCALES_FRACTION = 0.75
# Which of ours plays which of the paper's: Hoard-like, serial-like (one lock) and Ptmalloc's
# descendant.
ROLES = (("halloc-paper", "Hoard"), ("halloc", "Hoard"), ("halloc-serial", "Solaris"),
         ("glibc", "Ptmalloc"))


def _own_speedups(df: pd.DataFrame, workload: str) -> pd.DataFrame:
    d = df[df["workload"] == workload]
    return S.speedups(S.cell_stats(d, "throughput"))


def _in_core_threads(df: pd.DataFrame, workload: str, cores) -> int | None:
    """The largest thread count of the workload's runs that the machine's cores can hold."""
    ts = sorted(int(t) for t in df.loc[df["workload"] == workload, "threads"].unique())
    inside = [t for t in ts if not cores or t <= cores]
    return inside[-1] if inside and 1 in ts else None


def verdict(df: pd.DataFrame, paper: dict, paper_key: str) -> str:
    """One computed line: at our largest in-core thread count P, which of the paper's curves
    scale (speedup >= 0.75 P over their own P = 1 point) and which of ours do, and whether the
    shape matches for each pair of roles (halloc-paper and halloc ~ Hoard, halloc-serial ~
    Solaris, glibc ~ Ptmalloc)."""
    entry = paper["speedup"][paper_key]
    workload = MAPPING[paper_key]
    cores = (df.attrs.get("machine") or {}).get("cores")
    head = f"Fig {entry['figure']} {paper_key} / {workload}:"
    P = _in_core_threads(df, workload, cores)
    if P is None or P < 2:
        return f"{head} no verdict (no runs at 1 and at 2 or more threads within {cores} cores)"
    sp = _own_speedups(df, workload)
    ours = {r.allocator: r.speedup for r in sp[sp["threads"] == P].itertuples()
            if r.speedup == r.speedup}
    theirs = {}
    for name, pts in entry["series"].items():
        at = dict((int(round(x)), y) for x, y in pts)
        if 1 in at and P in at and at[1] > 0:
            theirs[name] = at[P] / at[1]
    need = SCALES_FRACTION * P

    def word(v):
        return "scales" if v >= need else "does not"

    pairs, mismatches = [], []
    for mine, role in ROLES:
        if mine not in ours or role not in theirs:
            continue
        same = (ours[mine] >= need) == (theirs[role] >= need)
        pairs.append(f"{mine} x{ours[mine]:.2f} {word(ours[mine])} / {role} "
                     f"x{theirs[role]:.2f} {word(theirs[role])}")
        if not same:
            mismatches.append(mine)
    if not pairs:
        return f"{head} no verdict (none of {', '.join(m for m, _ in ROLES)} ran at {P} threads)"
    shape = ("shape MATCHES" if not mismatches
             else "shape DIFFERS for " + ", ".join(mismatches))
    return (f"{head} at {P} threads (scales = speedup >= {need:.2f} over its own 1 thread): "
            + "; ".join(pairs) + f" -> {shape}")


def _ours_on(ax, d: pd.DataFrame, sp: pd.DataFrame, threads_max: int | None = None) -> None:
    """Our self-relative speedup curves (`sp` from the runs `d`): the focus allocators bold
    with interquartile bands, the other peers thin."""
    for a, st in _styles(d).items():
        g = sp[sp["allocator"] == a]
        if threads_max is not None:
            g = g[g["threads"] <= threads_max]
        focus = a in FOCUS
        _draw_curves(ax, g, {a: st}, col="speedup", lo="speedup_q1" if focus else None,
                     hi="speedup_q3")
        if not focus and ax.lines and ax.lines[-1].get_label() == st.get("label", a):
            ax.lines[-1].set_linewidth(0.9)
            ax.lines[-1].set_alpha(0.6)
            ax.lines[-1].set_markersize(3)


def _paper_over(ax, entry: dict, upto: int, only_hoard: bool) -> None:
    """The paper's curves (all, or only Hoard) up to `upto` processors, drawn over ours."""
    for name, pts in entry["series"].items():
        if only_hoard and name != "Hoard":
            continue
        st = PAPER_STYLE.get(name, {"color": "#444444", "marker": "."})
        xs, ys = zip(*[(x, y) for x, y in pts if x <= upto + 1e-9])
        hoard = name == "Hoard"
        ax.plot(xs, ys, label=f"paper: {name}", color=st["color"], marker=st["marker"],
                markersize=5 if hoard else 3, markerfacecolor="none",
                linestyle="--", linewidth=2.2 if hoard else 1.0, alpha=1.0 if hoard else 0.7,
                zorder=4)


def _ours_cut_panel(ax, df: pd.DataFrame, entry: dict, workload: str, cores) -> None:
    """Ours over each allocator's own 1 thread, with the paper's curves cut to our range."""
    d = df[df["workload"] == workload]
    if d.empty:
        _empty(ax, f"no {workload} runs in this results set")
        return
    tmax = int(d["threads"].max())
    _ours_on(ax, d, _own_speedups(df, workload), tmax)
    _paper_over(ax, entry, tmax, only_hoard=False)
    ts = sorted(int(t) for t in d["threads"].unique())
    if cores:
        ax.plot(ts, [min(t, cores) for t in ts], color="#999999", linestyle=":", linewidth=1,
                label=f"ideal on {cores} cores")
    ax.set_xlim(0.8, tmax + 0.2)
    ax.set_xticks(ts)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("threads (linear)")
    ax.set_ylabel("speedup")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def comparison_figure(df: pd.DataFrame, paper: dict, paper_key: str) -> Figure:
    """One paper benchmark, three panels: the paper's figure as published; ours on the paper's
    axes (linear 1-14, speedup over each allocator's own 1-thread run) with the paper's Hoard
    curve over it; and both cut to our thread range. The computed verdict is the first note."""
    entry = paper["speedup"][paper_key]
    workload = MAPPING[paper_key]
    machine = df.attrs.get("machine") or {}
    cores = machine.get("cores")
    fig = _new_figure(17.0, 5.6)
    left, middle, right = fig.subplots(1, 3)
    _paper_panel(left, entry)
    left.set_title(f"Paper Fig {entry['figure']}: {paper_key} (higher is better)\n"
                   "14-way 400 MHz UltraSparc, Solaris 7", fontsize=10)
    d = df[df["workload"] == workload]
    if d.empty:
        for ax in (middle, right):
            _empty(ax, f"no {workload} runs in this results set")
    else:
        sp = _own_speedups(df, workload)
        tmax = int(d["threads"].max())
        _ours_on(middle, d, sp)
        _paper_over(middle, entry, 14, only_hoard=True)
        middle.plot([1, 14], [1, 14], color="#999999", linestyle=":", linewidth=1,
                    label="linear")
        middle.set_xlim(0.5, 14.5)
        middle.set_ylim(0, 14.5)
        middle.set_xticks(range(1, 15))
        middle.set_xlabel("threads (= processors in the paper)")
        middle.set_ylabel("speedup over its own 1-thread run")
        middle.grid(True, alpha=0.3)
        middle.set_title(f"Ours on the paper's axes: {workload}, the paper's Hoard dashed\n"
                         f"{cores or '?'}-core machine: our curves end at {tmax} threads",
                         fontsize=10)
        _ours_cut_panel(right, df, entry, workload, cores)
        right.set_ylabel("speedup (ours: over own 1 thread; paper: over Solaris 1 proc)")
        right.set_title(f"Cut to our range: 1-{tmax} threads, every paper curve dashed",
                        fontsize=10)
    fig.suptitle(f"{paper_key} (paper) vs {workload} (ours): speedup, higher is better",
                 fontsize=11)
    return _finish(fig, alerts(df) + ["Verdict: " + verdict(df, paper, paper_key),
                                      machines_note(paper, machine), FOCUS_NOTE])


def verdicts_markdown(df: pd.DataFrame, paper: dict) -> str:
    """Every figure's computed verdict, one line each."""
    machine = df.attrs.get("machine") or {}
    lines = ["# Verdicts: does the shape of each paper figure hold here?", "",
             f"Run {df.attrs.get('run_id', '')} on {S.machine_line(machine)}. Computed by "
             "`analysis.paper.verdict`: at the largest thread count within the core count, an "
             f"allocator *scales* when its speedup over its own 1-thread run is at least "
             f"{SCALES_FRACTION} x threads (the paper's curves: over their own P = 1 point, "
             "read at the same P). Pairs: halloc-paper and halloc against Hoard, halloc-serial "
             "(one lock) against the Solaris allocator, glibc against Ptmalloc (its ancestor). "
             "On a shared machine a miss can be contention, not the allocator.", ""]
    lines += condition_lines(df) + [""] + [f"**{a}**" for a in alerts(df)] + [""]
    lines += [f"- {verdict(df, paper, key)}" for key in MAPPING]
    lines += ["- Fig 3e, 3f BEMengine: not reproduced (a proprietary program).", ""]
    return "\n".join(lines)


FOCUS_NOTE = (f"Ours: {', '.join(FOCUS)} bold with interquartile bands over repetitions; the other "
              "allocators thin. Ptmalloc is the ancestor of glibc's malloc.")


def keys_run(df: pd.DataFrame) -> list[str]:
    """The paper's benchmarks whose workload this run has (a panel for any other would be
    empty)."""
    have = set(df["workload"].unique())
    return [k for k, w in MAPPING.items() if w in have]


def overview_comparison_figure(df: pd.DataFrame, paper: dict) -> Figure:
    """Every paper speedup figure this run has, on one page, a row each: the paper's as
    published (left), ours over each allocator's own 1-thread run with the paper's curves cut
    to our thread range (right); each row's computed verdict in the notes."""
    machine = df.attrs.get("machine") or {}
    keys = keys_run(df)
    if not keys:
        fig = _new_figure(8.0, 3.0)
        _empty(fig.add_subplot(), "this run has none of the paper's workloads\n("
               + ", ".join(MAPPING.values()) + ")")
        return fig
    fig = _new_figure(11.0, 3.1 * len(keys) + 1.0)
    axes = fig.subplots(len(keys), 2, squeeze=False)
    for (left, right), key in zip(axes, keys):
        entry = paper["speedup"][key]
        _paper_panel(left, entry)
        left.set_title(f"paper Fig {entry['figure']}: {key}", fontsize=9)
        _ours_cut_panel(right, df, entry, MAPPING[key], machine.get("cores"))
        right.set_title(f"ours: {MAPPING[key]} (paper's curves dashed)", fontsize=9)
        if key != keys[0]:  # one legend per side, on the first row
            for ax in (left, right):
                if ax.get_legend() is not None:
                    ax.get_legend().remove()
        for ax in (left, right):
            ax.tick_params(labelsize=7)
            ax.xaxis.label.set_size(8)
            ax.yaxis.label.set_size(8)
    fig.suptitle("Speedup, the Hoard paper (left) beside this run (right); higher is better",
                 fontsize=11)
    verdicts = [verdict(df, paper, key) for key in keys]
    return _finish(fig, alerts(df) + [machines_note(paper, machine), FOCUS_NOTE] + verdicts)


def table4(df: pd.DataFrame, paper: dict) -> pd.DataFrame:
    """Paper Table 4 (Hoard's A/U on 14 processors) beside our median blowup per allocator at
    the largest thread count of each workload. Rows: the paper's multithreaded benchmarks that
    we have, then our other workloads."""
    frag = paper["fragmentation"]["benchmarks"]
    stats = S.max_threads_stats(S.cell_stats(df, "blowup"))
    live = S.max_threads_stats(S.cell_stats(df, "peak_live"))
    allocs = S.ordered_allocators(df.loc[df["status"] != "skipped", "allocator"].unique())
    rows = []
    ours_done = set()
    have = set(df["workload"].unique())
    for pkey, w in TABLE4_MAPPING.items():
        ours_done.add(w)
        if w in have:  # a workload this run did not have would be an empty row
            rows.append(_t4_row(pkey, w, frag.get(pkey, {}), stats, live, allocs))
    for w in S.ordered_workloads(df["workload"].unique()):
        if w not in ours_done:
            rows.append(_t4_row(None, w, {}, stats, live, allocs))
    return pd.DataFrame(rows)


def _t4_row(pkey, w, f, stats, live, allocs) -> dict:
    g = stats[stats["workload"] == w].set_index("allocator")
    lv = live.loc[live["workload"] == w, "median"].dropna()
    row = {"paper benchmark": pkey or "-", "paper A/U (Hoard, 14 procs)": f.get("A_over_U"),
           "paper U (max live, bytes)": f.get("U_max_in_use_bytes"),
           "our workload": w,
           "threads": int(g["threads"].iloc[0]) if len(g) else None,
           "our peak live (bytes)": float(lv.median()) if len(lv) else None}
    for a in allocs:
        if a in g.index:
            r = g.loc[a]
            row[a] = ("failed" if r["n_ok"] == 0 and r["n_failed"] > 0 else r["median"])
        else:
            row[a] = None
    return row


def table4_markdown(df: pd.DataFrame, paper: dict) -> str:
    t = table4(df, paper)
    machine = df.attrs.get("machine") or {}

    def cell(col, v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if isinstance(v, str):
            return v
        if "bytes" in col or col == "threads":
            return f"{int(round(v)):,}"
        return f"{v:.2f}" if abs(v) < 100 else f"{v:,.0f}"

    header = list(t.columns)
    lines = ["# Fragmentation: Hoard paper Table 4 beside this run", "",
             f"Paper: {CITATION}, Table 4 (fragmentation on 14 processors, Hoard 2.0.2, "
             "S = 8K, f = 1/4). Ours: run "
             f"{df.attrs.get('run_id', '')} on {S.machine_line(machine)}.", ""]
    lines += condition_lines(df) + [""] + [f"**{a}**" for a in alerts(df)]
    missing = [f"{p} ({w})" for p, w in TABLE4_MAPPING.items() if w not in set(df["workload"])]
    if missing:
        lines += ["", "Not run here, so not shown: " + ", ".join(missing) + "."]
    if len(t):
        lines += ["", "| " + " | ".join(header) + " |",
                  "|" + "|".join("---" if h in ("paper benchmark", "our workload") else "---:"
                                 for h in header) + "|"]
    for r in t.itertuples(index=False):
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(header, r)) + " |")
    lines += ["",
              "**Definitions.** Paper A/U: A = the most memory Hoard had allocated from the OS "
              "(at its maximum), U = the most memory the program had in use (live). "
              "Ours (a column per allocator) is the harness's *blowup* = "
              "(peak RSS - baseline RSS) / peak live bytes, the median over repetitions at the "
              "largest thread count of the run (column `threads`); `our peak live` is the median "
              "peak live bytes there (our U). Baseline RSS is the same "
              "allocator running an idle workload. Lower is better; 1.0 would mean no overhead.",
              "",
              "**Why they differ.** RSS counts pages touched, not address space mapped, and "
              "includes the allocator's metadata, per-thread caches and the runtime's own "
              "memory; the paper counts bytes Hoard obtained from the OS. Our workloads are "
              "re-implementations with their own sizes and counts (the paper's U was 0.5-8 MB); "
              "when peak live is small, a few MiB of per-thread or per-arena memory dominates "
              "the ratio. The paper's runs used 14 processors; ours use the thread counts of "
              "this run on this machine. Table 4 has no active-false/passive-false rows; "
              "prodcons is our blowup workload, with no counterpart in the paper.", ""]
    return "\n".join(lines)
