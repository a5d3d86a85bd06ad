"""Table 3 of the Hoard paper (possibly falsely-shared objects) from the false-sharing tracer.

`allocbench sweep --trace-sharing` runs each cell's first repetition again with libsharetrace.so
in front of the allocator (harness/tracer/) and stores its counts in the run record's `sharing`:
objects (allocations seen), active (objects the allocator placed on a cache line holding a live
object of another thread), passive (the same, in a block another thread allocated and this one
freed: the program passed it over), lines (distinct shared cache lines), complete (no event
dropped), and the traced run's throughput (its overhead against the untraced run). "Another
thread" is one still running: a thread that has exited makes no neighbour shared.
"""
from __future__ import annotations

import math

import pandas as pd

from . import summary as S
from .paper_tables import conditions

# paper Table 3 row -> our workload
TABLE3_MAPPING = {"threadtest": "threadtest", "shbench": "shbench", "Larson": "larson",
                  "Barnes-Hut": "barnes-hut"}


def sharing_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per traced run: workload, allocator, threads, objects, active, passive, lines,
    complete, error, overhead (the cell's median untraced throughput / the traced run's)."""
    cols = ["workload", "allocator", "threads", "objects", "active", "passive", "lines",
            "complete", "error", "overhead"]
    if "sharing" not in df.columns:
        return pd.DataFrame(columns=cols)
    traced = df[df["sharing"].apply(lambda s: isinstance(s, dict))]
    if traced.empty:
        return pd.DataFrame(columns=cols)
    medians = S.cell_stats(df, "throughput").set_index(["workload", "allocator", "threads"])
    rows = []
    for r in traced.itertuples():
        s = r.sharing
        untraced = medians["median"].get((r.workload, r.allocator, r.threads), math.nan)
        traced_tp = s.get("traced_throughput_ops_per_s")
        overhead = (untraced / traced_tp if traced_tp and untraced == untraced and traced_tp > 0
                    else math.nan)
        rows.append({"workload": r.workload, "allocator": r.allocator, "threads": r.threads,
                     "objects": s.get("objects"), "active": s.get("active"),
                     "passive": s.get("passive"), "lines": s.get("lines"),
                     "complete": s.get("complete"), "error": s.get("error"),
                     "overhead": overhead})
    return pd.DataFrame(rows, columns=cols)


def table3(df: pd.DataFrame) -> pd.DataFrame:
    """Per workload (rows) and allocator (columns): "active / passive" at the workload's largest
    traced thread count; "failed: ..." when the traced run failed; NaN when never traced."""
    rows = sharing_rows(df)
    if rows.empty:
        return pd.DataFrame()
    tmax = rows.groupby("workload")["threads"].transform("max")
    rows = rows[rows["threads"] == tmax]
    allocs = S.ordered_allocators(rows["allocator"].unique())
    out = []
    for w in S.ordered_workloads(rows["workload"].unique()):
        g = rows[rows["workload"] == w].set_index("allocator")
        line = {"workload": w, "threads": int(g["threads"].iloc[0])}
        for a in allocs:
            if a not in g.index:
                line[a] = None
            elif isinstance(g.loc[a, "error"], str):
                line[a] = "failed"
            else:
                mark = "" if g.loc[a, "complete"] else "*"
                line[a] = f"{int(g.loc[a, 'active'])} / {int(g.loc[a, 'passive'])}{mark}"
        out.append(line)
    return pd.DataFrame(out)


def paper_hoard_counts(paper: dict) -> dict[str, int]:
    """Our workload -> the paper's Table 3 count for Hoard (14 processors)."""
    counts = (paper.get("false_sharing") or {}).get("hoard_14proc") or {}
    return {w: counts[k] for k, w in TABLE3_MAPPING.items() if k in counts}


def table3_markdown(df: pd.DataFrame, paper: dict, citation: str) -> str:
    t = table3(df)
    machine = df.attrs.get("machine") or {}
    lines = ["# False sharing: Hoard paper Table 3 beside this run", ""]
    if t.empty:
        lines += ["No run in this results set was traced: run the sweep with "
                  "`--trace-sharing` (`make paper-bench` does).", ""]
        return "\n".join(lines)
    hoard = paper_hoard_counts(paper)
    allocs = [c for c in t.columns if c not in ("workload", "threads")]
    lines += [f"Paper: {citation}, Table 3 (possibly falsely-shared objects, Hoard, 14 "
              "processors; the paper gives no counts for other allocators). Ours: run "
              f"{df.attrs.get('run_id', '')} on {S.machine_line(machine)}; each cell is "
              "**active / passive** objects counted by the false-sharing tracer at the "
              "largest traced thread count.", ""] + conditions(df) + [
              "| workload | threads | paper: Hoard | " + " | ".join(allocs) + " |",
              "|---|---:|---:|" + "---:|" * len(allocs)]
    for d in t.to_dict("records"):
        paper_cell = hoard.get(d["workload"])
        cells = [d["workload"], str(d["threads"]),
                 "-" if paper_cell is None else str(paper_cell)]
        cells += ["-" if d[a] is None or d[a] != d[a] else str(d[a]) for a in allocs]
        lines.append("| " + " | ".join(cells) + " |")
    rows = sharing_rows(df)
    ov = rows["overhead"].dropna()
    lines += ["",
              "**Definitions.** The tracer (`libsharetrace.so`, harness/tracer/) is preloaded in "
              "front of the allocator and sees every malloc, free and new/delete with its "
              "thread. An object is counted when the allocator places it on a 64-byte cache "
              "line that holds a live object another thread allocated, a thread still running "
              "(one that has exited writes nothing more): *passive* when its "
              "memory is a block this thread freed after another thread allocated it (the "
              "program passed the object over and the allocator gave the block to the thread "
              "that freed it), or a block it got that way before; *active* otherwise (the "
              "allocator itself gave neighbouring memory to two threads). Each object counts "
              "once, at its allocation. A `*` marks a count from a table that overflowed "
              "(a lower bound). `-`: not traced.",
              "",
              "**Paper.** Table 3 lists 0 for Hoard on every benchmark (threadtest, shbench, "
              "Larson, BEMengine, Barnes-Hut); cache-scratch, cache-thrash and prodcons are "
              "ours (the paper's active-false and passive-false are cache-thrash and "
              "cache-scratch). BEMengine is not reproduced (a proprietary program).",
              ""]
    if len(ov):
        lines += ["**Overhead.** Every call takes the tracer's lock, so the traced run is "
                  "serialised; its throughput against the untraced median of the same cell "
                  "(x slower; below 1 = noise, where allocation is a small part of the run):", "",
                  "| workload | traced cells | median | min | max |", "|---|---:|---:|---:|---:|"]
        for w in S.ordered_workloads(rows["workload"].unique()):
            o = rows.loc[rows["workload"] == w, "overhead"].dropna()
            if len(o):
                lines.append(f"| {w} | {len(o)} | {o.median():.1f}x | {o.min():.1f}x | "
                             f"{o.max():.1f}x |")
        lines += ["", f"Over all {len(ov)} traced cells: median {ov.median():.1f}x. Memory: a "
                  "fixed table of 4 Mi entries (160 MiB of address space, touched as used; "
                  "`ALLOCBENCH_SHARING_ENTRIES` changes it). The counts, not the traced run's "
                  "speed, are the result; the timed runs are separate children.", ""]
    return "\n".join(lines)
