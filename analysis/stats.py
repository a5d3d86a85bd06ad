"""The statistics every report uses: per-cell medians and quartiles, the leaderboard's relative
scores, and bootstrap 95% confidence intervals for scores and for ratios B/A. The leaderboard,
the figures and `compare` all call these, so every number a user sees carries the same kind of
interval.

The bootstrap resamples the repetitions *within each cell* (with replacement, as many as the cell
has), recomputes the cell's median, and recomputes whatever was derived from the medians (a
score over every cell, a ratio); the interval is the 2.5th..97.5th percentile of N_BOOT such
replicates. The generator has a fixed seed, so the same data always gives the same interval.
A cell with one repetition has no spread to resample: its interval is a point, which understates
the noise (reports warn when cells have fewer than MIN_REPS_FOR_CI successful repetitions).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
N_BOOT = 1000
SEED = 20261201
MIN_REPS_FOR_CI = 3
# A failed cell scores FAILURE_FACTOR x the worst successful relative score in that cell.
FAILURE_FACTOR = 0.5


# ----------------------------------------------------------------------------------------------
# one sample

def quartiles(values) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of the finite values; NaNs when there are none."""
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return float(q1), float(med), float(q3)


def geometric_mean(values) -> float:
    """exp(mean(log v)); 0 if any value is 0; NaN for an empty input or a negative value."""
    v = np.asarray(list(values), dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0 or (v < 0).any():
        return math.nan
    if (v == 0).any():
        return 0.0
    return float(np.exp(np.mean(np.log(v))))


def geometric_mean_along(a: np.ndarray, axis: int) -> np.ndarray:
    """geometric_mean over one axis of an array (NaNs ignored; 0 if any value is 0)."""
    a = np.asarray(a, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), np.nan)
        n = np.sum(~np.isnan(a), axis=axis)
        mean = np.nansum(logs, axis=axis) / np.where(n > 0, n, 1)
    out = np.exp(mean)
    out = np.where(np.any(a == 0, axis=axis), 0.0, out)
    out = np.where(np.any(a < 0, axis=axis) | (n == 0), np.nan, out)
    return out


def bootstrap_medians(values, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """n_boot medians of resamples (with replacement, same size) of `values`."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return np.full(n_boot, np.nan)
    if v.size == 1:
        return np.full(n_boot, v[0])
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    return np.median(v[idx], axis=1)


def interval(samples, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The central `confidence` percentile interval of bootstrap replicates (NaNs ignored)."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return math.nan, math.nan
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(s, [tail, 100 - tail])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------------------------
# cells and relative scores

def _ordered(names) -> list[str]:
    from .summary import ordered_allocators
    return ordered_allocators(names)


def cell_index(df: pd.DataFrame) -> pd.MultiIndex:
    """Every (workload, threads) cell of the table, workloads in the fixed order."""
    from .summary import ordered_workloads
    cells = df[["workload", "threads"]].drop_duplicates()
    order = ordered_workloads(cells["workload"].unique())
    cells = cells.assign(w=cells["workload"].map(order.index)).sort_values(["w", "threads"])
    return pd.MultiIndex.from_frame(cells[["workload", "threads"]])


def cell_medians(df: pd.DataFrame, value: str, allocators=None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(medians, failed): two tables indexed by (workload, threads), a column per allocator
    (default: every allocator with a run that was not skipped). medians: median of `value` over
    the successful repetitions (NaN: none). failed: True where the allocator fails the cell: a
    repetition there failed (any failure status), or none succeeded."""
    from .load import FAILED_STATUSES
    if allocators is None:
        allocators = _ordered(df.loc[df["status"] != "skipped", "allocator"].unique())
    allocators = list(allocators)
    index = cell_index(df)
    ok = df[(df["status"] == "ok") & df[value].notna()]
    med = (ok.groupby(["workload", "threads", "allocator"])[value].median()
           .unstack("allocator").reindex(index=index, columns=allocators))
    bad = (df[df["status"].isin(FAILED_STATUSES)]
           .groupby(["workload", "threads", "allocator"]).size()
           .unstack("allocator").reindex(index=index, columns=allocators))
    failed = bad.notna() | med.isna()
    return med.astype(float), failed


def cell_samples(df: pd.DataFrame, value: str) -> dict[tuple, np.ndarray]:
    """(workload, threads, allocator) -> the successful repetitions' values of `value`."""
    ok = df[(df["status"] == "ok") & df[value].notna()]
    return {k: g[value].to_numpy(dtype=float)
            for k, g in ok.groupby(["workload", "threads", "allocator"])}


def relative_array(medians: np.ndarray, failed: np.ndarray, higher_is_better: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Relative scores from medians of shape (..., cells, allocators) and a failed mask of shape
    (cells, allocators). Returns (relative, kept): relative has the shape of `medians`; kept
    (cells,) is False for cells where every allocator failed (they carry no information).

    relative = median / best median in the cell (higher is better) or best / median (lower is
    better); a failed cell scores FAILURE_FACTOR x the worst successful relative in that cell.
    """
    m = np.asarray(medians, dtype=float)
    good = ~np.asarray(failed, dtype=bool)
    kept = good.any(axis=-1)
    masked = np.where(good, m, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: handled below
        if higher_is_better:
            best = np.nanmax(masked, axis=-1, keepdims=True)
            rel = np.where(best > 0, masked / best, 1.0)
        else:
            best = np.nanmin(masked, axis=-1, keepdims=True)
            rel = np.where(masked > 0, best / masked, 1.0)
        rel = np.where(good, rel, np.nan)
        worst = np.nanmin(rel, axis=-1, keepdims=True)
    rel = np.where(good, rel, FAILURE_FACTOR * worst)
    rel = np.where(kept[:, None], rel, np.nan)
    return rel, kept


def relative_scores(medians: pd.DataFrame, failed: pd.DataFrame,
                    higher_is_better: bool = True) -> pd.DataFrame:
    """Relative score per cell (rows) and allocator (columns), failures filled as documented in
    relative_array. Rows where every allocator failed are dropped."""
    rel, kept = relative_array(medians.to_numpy(dtype=float), failed.to_numpy(dtype=bool),
                               higher_is_better)
    out = pd.DataFrame(rel, index=medians.index, columns=medians.columns)
    return out[kept]


# ----------------------------------------------------------------------------------------------
# scores with intervals

def score_replicates(df: pd.DataFrame, value: str, allocators, higher_is_better: bool,
                     n_boot: int = N_BOOT, seed: int = SEED
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(point, replicates) of every allocator's score on `value`: the geometric mean of its
    relative scores over the cells that are not all-failed. point has shape (allocators,),
    replicates (n_boot, allocators): the same score after resampling the repetitions of every
    (cell, allocator) within the cell. Failures stay where they were observed."""
    allocators = list(allocators)
    med, failed = cell_medians(df, value, allocators)
    fmask = failed.to_numpy(dtype=bool)
    rel, kept = relative_array(med.to_numpy(dtype=float), fmask, higher_is_better)
    point = geometric_mean_along(rel[kept], axis=0) if kept.any() else \
        np.full(len(allocators), np.nan)
    samples = cell_samples(df, value)
    rng = np.random.default_rng(seed)
    boot = np.full((n_boot, len(med.index), len(allocators)), np.nan)
    for ci, (w, t) in enumerate(med.index):
        for ai, a in enumerate(allocators):
            vals = samples.get((w, t, a))
            if vals is not None and not fmask[ci, ai]:
                boot[:, ci, ai] = bootstrap_medians(vals, n_boot, rng)
    brel, _ = relative_array(boot, fmask, higher_is_better)
    reps = geometric_mean_along(brel[:, kept, :], axis=1) if kept.any() else \
        np.full((n_boot, len(allocators)), np.nan)
    return np.asarray(point, dtype=float), np.asarray(reps, dtype=float)


def tie_groups(order: list[str], lo: dict, hi: dict) -> dict[str, tuple[int, bool]]:
    """Ranks with ties, for allocators already sorted best first. An allocator joins the group of
    the one above it when its interval overlaps the interval of that group's first member;
    every member of a group gets the group's first position as its rank. Returns
    name -> (rank, tied), tied = the group has more than one member."""
    groups: list[list[str]] = []
    for name in order:
        if groups:
            lead = groups[-1][0]
            if _overlap(lo.get(name), hi.get(name), lo.get(lead), hi.get(lead)):
                groups[-1].append(name)
                continue
        groups.append([name])
    out = {}
    position = 1
    for g in groups:
        for name in g:
            out[name] = (position, len(g) > 1)
        position += len(g)
    return out


def _overlap(lo1, hi1, lo2, hi2) -> bool:
    vals = (lo1, hi1, lo2, hi2)
    if any(v is None or not math.isfinite(v) for v in vals):
        return False
    return lo1 <= hi2 and lo2 <= hi1


# ----------------------------------------------------------------------------------------------
# ratios B / A

def ratio_replicates(a_values, b_values, n_boot: int, rng: np.random.Generator
                     ) -> tuple[float, np.ndarray]:
    """(median(B) / median(A), n_boot replicates of it with A's and B's repetitions resampled
    independently)."""
    a = np.asarray(a_values, dtype=float)
    b = np.asarray(b_values, dtype=float)
    if a.size == 0 or b.size == 0:
        return math.nan, np.full(n_boot, np.nan)
    ma = bootstrap_medians(a, n_boot, rng)
    mb = bootstrap_medians(b, n_boot, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = np.where(ma > 0, mb / ma, np.nan)
    base = float(np.median(a))
    return (float(np.median(b)) / base if base > 0 else math.nan), reps
