"""Small pure helpers shared by the figures, the leaderboard and the paper comparison:
allocator order and styles, per-cell statistics over repetitions, speedups."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .load import FAILED_STATUSES, KNOWN_ALLOCATORS, WORKLOADS
from .stats import quartiles

# Fixed colour and marker per known allocator, the same in every figure.
_KNOWN_STYLE = {
    "halloc": ("#d62728", "o"),
    "halloc-paper": ("#ff7f0e", "s"),
    "halloc-serial": ("#8c564b", "v"),
    "glibc": ("#1f77b4", "^"),
    "jemalloc": ("#2ca02c", "D"),
    "tcmalloc": ("#9467bd", "P"),
    "mimalloc": ("#17becf", "X"),
    "tbbmalloc": ("#bcbd22", "<"),
}
# User-supplied allocators (students' .so files) get these, in sorted-name order.
_EXTRA_COLOURS = ["#e377c2", "#7f7f7f", "#000000", "#393b79", "#637939", "#8c6d31",
                  "#843c39", "#7b4173", "#3182bd", "#31a354"]
_EXTRA_MARKERS = ["*", "h", "p", "d", ">", "8", "H", "1", "2", "3"]

VARIATION_THRESHOLD = 0.10  # warn when (max - min) / median of repetitions exceeds this


def ordered_allocators(names) -> list[str]:
    """Known allocators in the fixed order (halloc variants, then peers), then others sorted."""
    names = list(dict.fromkeys(names))
    known = [a for a in KNOWN_ALLOCATORS if a in names]
    return known + sorted(a for a in names if a not in KNOWN_ALLOCATORS)


def ordered_workloads(names) -> list[str]:
    names = list(dict.fromkeys(names))
    return [w for w in WORKLOADS if w in names] + sorted(w for w in names if w not in WORKLOADS)


def allocator_styles(names) -> dict[str, dict]:
    """name -> matplotlib kwargs (color, marker, linestyle), stable for known allocators."""
    styles = {}
    extra = 0
    for name in ordered_allocators(names):
        if name in _KNOWN_STYLE:
            colour, marker = _KNOWN_STYLE[name]
            ls = "-" if name.startswith("halloc") else "--"
        else:
            colour = _EXTRA_COLOURS[extra % len(_EXTRA_COLOURS)]
            marker = _EXTRA_MARKERS[extra % len(_EXTRA_MARKERS)]
            ls = "-."
            extra += 1
        styles[name] = {"color": colour, "marker": marker, "linestyle": ls}
    return styles


def cell_stats(df: pd.DataFrame, value: str = "throughput") -> pd.DataFrame:
    """Per (workload, allocator, threads): median, quartiles (q1, q3: what the figures draw)
    and min/max of `value` over the successful repetitions, how many repetitions ran, succeeded
    and failed, and their relative spread ((max - min) / median)."""
    cols = ["workload", "allocator", "threads", "median", "q1", "q3", "min", "max", "n", "n_ok",
            "n_failed", "n_skipped", "spread"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for (w, a, t), g in df.groupby(["workload", "allocator", "threads"], sort=False):
        ok = g.loc[(g["status"] == "ok"), value].dropna()
        q1, med, q3 = quartiles(ok)
        lo = float(ok.min()) if len(ok) else math.nan
        hi = float(ok.max()) if len(ok) else math.nan
        spread = (hi - lo) / med if len(ok) > 1 and med > 0 else 0.0
        out.append({"workload": w, "allocator": a, "threads": int(t), "median": med,
                    "q1": q1, "q3": q3, "min": lo, "max": hi, "n": len(g), "n_ok": len(ok),
                    "n_failed": int(g["status"].isin(FAILED_STATUSES).sum()),
                    "n_skipped": int((g["status"] == "skipped").sum()), "spread": spread})
    return pd.DataFrame(out, columns=cols).sort_values(["workload", "allocator", "threads"],
                                                       ignore_index=True)


def variation_warnings(stats: pd.DataFrame, threshold: float = VARIATION_THRESHOLD) -> list[str]:
    """Cells whose repetitions vary by more than `threshold` of the median."""
    bad = stats[stats["spread"] > threshold]
    return [f"{r.workload}/{r.allocator}/{r.threads}t varies {math.ceil(100 * r.spread)}% "
            f"over {r.n_ok} reps" for r in bad.itertuples()]


def speedups(stats: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Median throughput divided by a one-thread baseline, per workload/allocator/threads.

    baseline=None: each allocator's own run at the smallest thread count (self-relative);
    baseline='glibc': glibc's median at the smallest thread count of that workload (the paper's
    style, where every curve is divided by one allocator's uniprocessor run).
    Adds columns speedup, speedup_q1, speedup_q3 (the quartiles), base_threads; NaN when no
    baseline exists.
    """
    out = stats.copy()
    out["speedup"] = math.nan
    out["speedup_q1"] = math.nan
    out["speedup_q3"] = math.nan
    out["base_threads"] = np.nan
    for w, g in out.groupby("workload"):
        t0 = g["threads"].min()
        for a, ga in g.groupby("allocator"):
            ref_alloc = a if baseline is None else baseline
            ref = g[(g["allocator"] == ref_alloc) & (g["threads"] == t0)]["median"]
            base = float(ref.iloc[0]) if len(ref) else math.nan
            if not (base > 0):
                continue
            idx = ga.index
            out.loc[idx, "speedup"] = ga["median"] / base
            out.loc[idx, "speedup_q1"] = ga["q1"] / base
            out.loc[idx, "speedup_q3"] = ga["q3"] / base
            out.loc[idx, "base_threads"] = t0
    return out


def max_threads_stats(stats: pd.DataFrame) -> pd.DataFrame:
    """The rows of `stats` at the largest thread count of each workload."""
    if stats.empty:
        return stats
    tmax = stats.groupby("workload")["threads"].transform("max")
    return stats[stats["threads"] == tmax].reset_index(drop=True)


def fmt_bytes(n: float) -> str:
    if n is None or not math.isfinite(n):
        return "n/a"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def machine_line(machine: dict) -> str:
    """One line describing the machine of a run, for figure captions."""
    cpu = machine.get("cpu_model") or "unknown CPU"
    cores = machine.get("cores")
    mem = machine.get("memory_bytes")
    parts = [cpu]
    if cores:
        parts.append(f"{cores} cores")
    if isinstance(mem, (int, float)) and mem > 0:
        parts.append(f"{fmt_bytes(mem)} RAM")
    if machine.get("kernel"):
        parts.append(f"Linux {machine['kernel']}")
    return ", ".join(parts)
