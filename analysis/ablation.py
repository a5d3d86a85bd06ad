"""What each of halloc's changes to the paper's policy buys, and how halloc stands against the
best peer, from one run.

Ablation: halloc-paper, the steps halloc-abl-* (allocator/src/policy.h: each adds one change
to the step before) and halloc. Per workload, a step's throughput and peak RSS over
halloc-paper's, as the geometric mean over the thread counts of the per-cell median ratios.

Versus peers: per (workload, threads) cell, halloc's median throughput over the best peer's
(>= 1.000 means halloc is at least as fast) and its median peak RSS over the smallest peer's,
each with a bootstrap interval, so a cell that two noisy runs put on either side of 1 reads as
level rather than as a win or a loss.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import summary as S
from .conditions import alerts, condition_lines
from .leaderboard import _md_table
from .stats import (MIN_REPS_FOR_CI, N_BOOT, SEED, cell_medians, cell_samples,
                    geometric_mean, interval, ratio_replicates)
from .load import PEERS

BASELINE = "halloc-paper"
STEPS = (
    ("halloc-paper", "the paper: S = 8 KiB, K = 4, 2P heaps (a thread takes the least loaded)"),
    ("halloc-abl-s64k", "+ 64 KiB superblocks (K = 64, reserve 16 empty)"),
    ("halloc-abl-heaps", "+ a heap of its own for each thread"),
    ("halloc-abl-cache", "+ per-thread caches; remote frees batched, posted lock-free"),
    (
        "halloc",
        "+ superblocks of 2-4 S and 4 cached blocks for the largest classes, emptied "
        "superblocks leave at once, freed memory kept for reuse (large mappings; superblock "
        "pages for 1 s) (= halloc)",
    ),
)


def _ratio_table(df: pd.DataFrame, value: str, over: str) -> pd.DataFrame:
    """Rows: the steps present; columns: workloads and 'all'. Geometric mean over thread counts
    of median(value) / median(value of `over`) in the same cell; NaN where a cell is missing."""
    med, failed = cell_medians(df, value)
    med = med.mask(failed)
    steps = [s for s, _ in STEPS if s in med.columns]
    workloads = S.ordered_workloads(med.index.get_level_values("workload").unique())
    out = pd.DataFrame(index=steps, columns=workloads + ["all"], dtype=float)
    for step in steps:
        ratios = (med[step] / med[over]).dropna()
        for w in workloads:
            r = ratios[ratios.index.get_level_values("workload") == w]
            out.loc[step, w] = geometric_mean(r) if len(r) else math.nan
        out.loc[step, "all"] = geometric_mean(ratios) if len(ratios) else math.nan
    return out


def ablation_tables(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(throughput, peak RSS), each relative to halloc-paper; empty without halloc-paper."""
    if BASELINE not in set(df["allocator"]):
        return pd.DataFrame(), pd.DataFrame()
    return _ratio_table(df, "throughput", BASELINE), _ratio_table(df, "peak_rss", BASELINE)


# halloc's peak RSS may be at most this much over the smallest peer's (issue 11's bound).
RSS_BOUND = 1.2


def _throughput_verdict(lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return "ahead" if lo > 1 else "behind" if hi < 1 else "level"


def _rss_verdict(lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return "within" if hi <= RSS_BOUND else "over" if lo > RSS_BOUND else "unclear"


def versus_best_peer(df: pd.DataFrame, allocator: str = "halloc") -> pd.DataFrame:
    """Per cell: the best peer by median throughput, allocator/best-peer throughput, the
    smallest peer by median peak RSS, allocator/smallest-peer peak RSS; each ratio with its
    bootstrap 95% interval (both sides' repetitions resampled, stats.ratio_replicates) and a
    verdict: throughput ahead / level / behind (the interval above 1, across it, below it), RSS
    within / unclear / over RSS_BOUND (the same against the bound). With fewer than
    MIN_REPS_FOR_CI repetitions on either side there is no interval and no verdict."""
    cols = ["workload", "threads", "best_peer", "throughput_ratio", "throughput_lo",
            "throughput_hi", "throughput_verdict", "smallest_peer", "rss_ratio", "rss_lo",
            "rss_hi", "rss_verdict"]
    tmed, tfail = cell_medians(df, "throughput")
    rmed, rfail = cell_medians(df, "peak_rss")
    peers = [p for p in PEERS if p in tmed.columns]
    if allocator not in tmed.columns or not peers:
        return pd.DataFrame(columns=cols)
    samples = {v: cell_samples(df, v) for v in ("throughput", "peak_rss")}
    rng = np.random.default_rng(SEED)

    def ratio(value: str, medians: pd.DataFrame, cell, peer, failed: bool, verdict) -> list:
        if peer is None or failed:
            return [math.nan, math.nan, math.nan, "n/a"]
        point = medians.loc[cell, allocator] / medians.loc[cell, peer]
        theirs = samples[value].get((*cell, peer), [])
        mine = samples[value].get((*cell, allocator), [])
        if min(len(theirs), len(mine)) < MIN_REPS_FOR_CI:  # no spread to tell noise by
            return [point, math.nan, math.nan, "too few reps"]
        lo, hi = interval(ratio_replicates(theirs, mine, N_BOOT, rng)[1])
        return [point, lo, hi, verdict(lo, hi)]

    rows = []
    for cell in tmed.index:
        t = tmed.loc[cell, peers].mask(tfail.loc[cell, peers]).dropna()
        r = rmed.loc[cell, peers].mask(rfail.loc[cell, peers]).dropna()
        best = t.idxmax() if len(t) else None
        small = r.idxmin() if len(r) else None
        rows.append([cell[0], int(cell[1]), best]
                    + ratio("throughput", tmed, cell, best, tfail.loc[cell, allocator],
                            _throughput_verdict)
                    + [small]
                    + ratio("peak_rss", rmed, cell, small, rfail.loc[cell, allocator],
                            _rss_verdict))
    return pd.DataFrame(rows, columns=cols)


def _f(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def _with_interval(point: float, lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return _f(point)
    return f"{_f(point)} [{lo:.2f}, {hi:.2f}]"


def has_ablation(df: pd.DataFrame) -> bool:
    """The run has the ablation steps (halloc-abl-*) beside halloc-paper: without them a table
    of halloc-paper and halloc alone would credit the whole gain to the last step."""
    names = set(df.loc[df["status"] != "skipped", "allocator"])
    return BASELINE in names and any(n.startswith("halloc-abl-") for n in names)


def render_markdown(df: pd.DataFrame) -> str:
    run_id = df.attrs.get("run_id", "")
    parts = [f"# halloc: ablation and peers, run {run_id}", ""]
    parts += condition_lines(df) + [""]
    if alerts(df):
        parts += [f"**{a}**  " for a in alerts(df)] + [""]
    tput, rss = ablation_tables(df)
    if tput.empty:
        parts += ["No ablation: the run has no halloc-paper (run `make ablation`).", ""]
    else:
        what = dict(STEPS)
        for title, table, note in (
                ("Throughput over halloc-paper", tput, "higher is better"),
                ("Peak RSS over halloc-paper", rss, "lower is better")):
            parts += [f"## {title}", "",
                      f"Geometric mean over the thread counts of the per-cell median ratio; "
                      f"{note}. Each row adds one change to the row above.", ""]
            header = ["step", "change"] + list(table.columns)
            rows = [[s, what[s]] + [_f(table.loc[s, c]) for c in table.columns]
                    for s in table.index]
            parts += [_md_table(header, rows), ""]
    vs = versus_best_peer(df)
    if len(vs):
        parts += ["## halloc against the best peer, per cell", "",
                  "Throughput: halloc's median over the fastest peer's (>= 1.00: halloc is at "
                  "least as fast). Peak RSS: halloc's median over the smallest peer's. In "
                  "brackets the bootstrap 95% interval (both sides' repetitions resampled); "
                  "throughput is *ahead* or *behind* when the interval lies above or below 1 and "
                  f"*level* when it holds 1; RSS is *within* or *over* when the interval lies at "
                  f"or below {RSS_BOUND} or above it, *unclear* when it holds {RSS_BOUND}.", ""]
        rows = [[r.workload, str(r.threads), str(r.best_peer),
                 _with_interval(r.throughput_ratio, r.throughput_lo, r.throughput_hi),
                 r.throughput_verdict, str(r.smallest_peer),
                 _with_interval(r.rss_ratio, r.rss_lo, r.rss_hi), r.rss_verdict]
                for r in vs.itertuples()]
        parts += [_md_table(["workload", "threads", "fastest peer", "halloc / fastest",
                             "throughput", "smallest peer", "halloc / smallest", "RSS"], rows),
                  ""]
        tally = []
        for column, words in (("throughput_verdict", ("ahead", "level", "behind")),
                              ("rss_verdict", ("within", "unclear", "over"))):
            counts = vs[column].value_counts()
            rest = len(vs) - sum(counts.get(w, 0) for w in words)
            tally.append(", ".join([f"{counts.get(w, 0)} {w}" for w in words]
                                   + ([f"{rest} without a verdict"] if rest else [])))
        parts += [f"Cells: throughput {tally[0]}; RSS {tally[1]} (of {len(vs)}).", ""]
    return "\n".join(parts)
