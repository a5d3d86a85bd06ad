"""Compare two runs: per cell and per allocator, run B over run A with a bootstrap 95%
confidence interval (analysis.stats), and a verdict a developer can gate on.

ratio       throughput: median(B) / median(A) in a cell (< 1: B is slower); peak RSS likewise
            (> 1: B uses more memory). Per allocator: the geometric mean of the cell ratios over
            the cells both runs have with successful repetitions and no failure.
interval    the repetitions of A and of B resampled independently within each cell, the ratio
            (and the geometric mean over cells) recomputed, N_BOOT times, fixed seed.
regression  an allocator whose throughput interval lies wholly below 1 - threshold (slower) or
            whose peak-RSS interval lies wholly above 1 + threshold (larger); also a cell that
            fails in B but not in A, and an allocator that passed the correctness gate in A and
            fails it in B. Any regression: exit status 1.
Per-cell verdicts are shown but do not gate: with many cells a few cross the line by chance.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import stats as ST
from . import summary as S
from .conditions import alerts, condition_lines
from .leaderboard import _md_table, correctness

DEFAULT_THRESHOLD = 0.05


def parse_threshold(text: str) -> float:
    """'5%', '5' or '0.05' -> 0.05. ValueError for anything else or outside (0, 1)."""
    t = str(text).strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError(f"--threshold {text!r}: expected a percentage such as 5% or a "
                         "fraction such as 0.05") from None
    if not t.endswith("%") and value >= 1:
        value /= 100  # '5' means 5%
    if not 0 < value < 1:
        raise ValueError(f"--threshold {text!r}: must be between 0% and 100%")
    return value


def _ran(df: pd.DataFrame) -> list[str]:
    return S.ordered_allocators(df.loc[df["status"] != "skipped", "allocator"].unique())


def pairs_to_compare(a: pd.DataFrame, b: pd.DataFrame, pair: str | None = None
                     ) -> list[tuple[str, str]]:
    """[(allocator in A, allocator in B)]: every allocator that ran in both, or the one pair
    'OLD:NEW' (e.g. halloc-paper:halloc, to compare two allocators of one run)."""
    if pair:
        old, sep, new = pair.partition(":")
        if not sep or not old or not new:
            raise ValueError(f"--pair {pair!r}: expected OLD:NEW, e.g. halloc-paper:halloc")
        missing = [f"{n} (not in run {'A' if d is a else 'B'})" for n, d in ((old, a), (new, b))
                   if n not in _ran(d)]
        if missing:
            raise ValueError("--pair: " + ", ".join(missing))
        return [(old, new)]
    common = [x for x in _ran(a) if x in set(_ran(b))]
    return [(x, x) for x in common]


def _verdict(lo: float, hi: float, threshold: float, higher_is_worse: bool) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    if higher_is_worse:
        if lo > 1 + threshold:
            return "LARGER"
        if hi < 1 - threshold:
            return "smaller"
    else:
        if hi < 1 - threshold:
            return "SLOWER"
        if lo > 1 + threshold:
            return "faster"
    return "same"


def compare(a: pd.DataFrame, b: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD,
            pair: str | None = None, n_boot: int = ST.N_BOOT, seed: int = ST.SEED
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, allocators). cells: a row per (allocator pair, workload, threads) both runs have:
    thr_ratio/_lo/_hi, rss_ratio/_lo/_hi, thr_verdict, rss_verdict, note (failed in A or B).
    allocators: a row per pair: cells compared, the same ratio columns (geometric means over
    those cells), verdicts, newly_failed (cells that fail in B only), gate ("passed in A,
    FAILED in B" etc.), regression (bool)."""
    rng = np.random.default_rng(seed)
    gate_a, gate_b = correctness(a), correctness(b)
    cell_rows, alloc_rows = [], []
    for old, new in pairs_to_compare(a, b, pair):
        label = old if old == new else f"{old} -> {new}"
        ta = a[a["allocator"] == old]
        tb = b[b["allocator"] == new]
        _, fa = ST.cell_medians(ta, "throughput", [old]) if len(ta) else (None, None)
        _, fb = ST.cell_medians(tb, "throughput", [new]) if len(tb) else (None, None)
        fail_a = {c for c, v in fa[old].items() if v} if fa is not None else set()
        fail_b = {c for c, v in fb[new].items() if v} if fb is not None else set()
        cells_a = set(fa.index) if fa is not None else set()
        cells_b = set(fb.index) if fb is not None else set()
        common = [c for c in ST.cell_index(pd.concat([ta, tb])) if c in cells_a and c in cells_b]
        samples = {v: (ST.cell_samples(ta, v), ST.cell_samples(tb, v))
                   for v in ("throughput", "peak_rss")}
        reps = {"throughput": [], "peak_rss": []}
        points = {"throughput": [], "peak_rss": []}
        newly_failed = []
        for (w, t) in common:
            row = {"allocator": label, "workload": w, "threads": int(t), "note": ""}
            if (w, t) in fail_a or (w, t) in fail_b:
                row["note"] = ("failed in A and B" if (w, t) in fail_a and (w, t) in fail_b else
                               "FAILED in B only" if (w, t) in fail_b else "failed in A only")
                if (w, t) in fail_b and (w, t) not in fail_a:
                    newly_failed.append(f"{w} {t}t")
                for key in ("thr", "rss"):
                    row.update({f"{key}_ratio": math.nan, f"{key}_lo": math.nan,
                                f"{key}_hi": math.nan, f"{key}_verdict": "n/a"})
                cell_rows.append(row)
                continue
            for value, key, worse in (("throughput", "thr", False), ("peak_rss", "rss", True)):
                sa, sb = samples[value]
                point, boot = ST.ratio_replicates(sa.get((w, t, old), []),
                                                  sb.get((w, t, new), []), n_boot, rng)
                lo, hi = ST.interval(boot)
                row.update({f"{key}_ratio": point, f"{key}_lo": lo, f"{key}_hi": hi,
                            f"{key}_verdict": _verdict(lo, hi, threshold, worse)})
                if math.isfinite(point):
                    points[value].append(point)
                    reps[value].append(boot)
            cell_rows.append(row)
        arow = {"allocator": label, "cells": len(common) - len(
            [c for c in common if c in fail_a or c in fail_b]), "newly_failed": newly_failed}
        for value, key, worse in (("throughput", "thr", False), ("peak_rss", "rss", True)):
            if points[value]:
                point = ST.geometric_mean(points[value])
                boot = ST.geometric_mean_along(np.vstack(reps[value]), axis=0)
                lo, hi = ST.interval(boot)
            else:
                point = lo = hi = math.nan
            arow.update({f"{key}_ratio": point, f"{key}_lo": lo, f"{key}_hi": hi,
                         f"{key}_verdict": _verdict(lo, hi, threshold, worse)})
        sa_, sb_ = gate_a.get(old, {}).get("state"), gate_b.get(new, {}).get("state")
        arow["gate"] = f"{sa_ or 'not checked'} in A, {sb_ or 'not checked'} in B"
        arow["regression"] = (arow["thr_verdict"] == "SLOWER" or arow["rss_verdict"] == "LARGER"
                              or bool(newly_failed) or (sb_ == "failed" and sa_ != "failed"))
        alloc_rows.append(arow)
    return pd.DataFrame(cell_rows), pd.DataFrame(alloc_rows)


def _ci(p, lo, hi) -> str:
    if not math.isfinite(p):
        return "n/a"
    return f"{p:.3f} [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else f"{p:.3f}"


def config_differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """What the two runs were measured under differently (config apart from the command line and
    shards, and the machine's CPU, cores, kernel, compiler)."""
    ca, cb = a.attrs.get("config") or {}, b.attrs.get("config") or {}
    skip = {"command", "shard", "shards", "allocators", "resumed"}
    out = [f"{k}: {ca.get(k)!r} vs {cb.get(k)!r}" for k in sorted(set(ca) | set(cb))
           if k not in skip and ca.get(k) != cb.get(k)]
    ma, mb = a.attrs.get("machine") or {}, b.attrs.get("machine") or {}
    out += [f"machine {k}: {ma.get(k)!r} vs {mb.get(k)!r}"
            for k in ("cpu_model", "cores", "kernel", "compiler") if ma.get(k) != mb.get(k)]
    return out


def render_markdown(a: pd.DataFrame, b: pd.DataFrame, cells: pd.DataFrame,
                    allocs: pd.DataFrame, threshold: float, names=("A", "B")) -> str:
    parts = [f"# Compare: B = {names[1]} over A = {names[0]}", ""]
    for tag, df, name in (("A", a, names[0]), ("B", b, names[1])):
        parts += [f"**{tag}** ({name}): " + " ".join(condition_lines(df))]
        parts += [f"**{tag}: {x}**" for x in alerts(df)]
        parts.append("")
    diffs = config_differences(a, b)
    if diffs:
        parts += ["**The runs differ in: " + "; ".join(diffs) + ".**", ""]
    parts += [f"Ratio = B / A of the median over repetitions; [lo, hi] = bootstrap 95% "
              f"confidence interval ({ST.N_BOOT} resamples of the repetitions within each cell, "
              f"fixed seed); per allocator, the geometric mean over the cells both runs "
              f"completed. Threshold {threshold:.1%}: SLOWER when the throughput interval lies "
              f"wholly below {1 - threshold:.3f}, LARGER when the peak-RSS interval lies wholly "
              f"above {1 + threshold:.3f}. A cell that fails only in B, or a gate failed only in "
              "B, is a regression too.", ""]
    rows = [[r.allocator, str(r.cells), _ci(r.thr_ratio, r.thr_lo, r.thr_hi), r.thr_verdict,
             _ci(r.rss_ratio, r.rss_lo, r.rss_hi), r.rss_verdict,
             ", ".join(r.newly_failed) or "-", r.gate] for r in allocs.itertuples()]
    parts += ["## Per allocator", "",
              _md_table(["allocator", "cells", "throughput B/A [95% CI]", "verdict",
                         "peak RSS B/A [95% CI]", "verdict", "failing in B only",
                         "correctness gate"], rows), ""]
    if len(cells):
        rows = [[r.allocator, r.workload, str(r.threads), _ci(r.thr_ratio, r.thr_lo, r.thr_hi),
                 r.thr_verdict, _ci(r.rss_ratio, r.rss_lo, r.rss_hi), r.rss_verdict,
                 r.note or "-"] for r in cells.itertuples()]
        parts += ["## Per cell", "", _md_table(["allocator", "workload", "threads",
                                                "throughput B/A [95% CI]", "verdict",
                                                "peak RSS B/A [95% CI]", "verdict", "note"],
                                               rows), ""]
    reg = allocs[allocs["regression"]] if len(allocs) else allocs
    if len(reg):
        parts += [f"**Result: {len(reg)} regression(s): " + ", ".join(reg["allocator"])
                  + " (exit status 1).**", ""]
    else:
        parts += ["**Result: no significant regression (exit status 0).**", ""]
    return "\n".join(parts)
