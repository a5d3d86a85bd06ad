"""results/<run>/results.csv: one row per run record, for use outside this toolkit.

The first seven columns are those of mimalloc-bench's benchres.csv, in its units: benchmark,
allocator, elapsed (seconds), rss (peak resident set, KiB), user and sys (CPU seconds of the
child, from wait4), page_faults (the child's page faults, from its perf software counter). Then
threads, repetition, status, and what else a run records: ops, throughput_ops_per_s,
peak_live_bytes, baseline_rss_kib, blowup, error; and for real programs (kind "program") their
metric and value and output digest. A program's page_faults falls back to its rusage count when
it has no perf counter (redis: the server). An unknown value (a failed run, an older results
file without user/sys times, no counter) is an empty field.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = ["benchmark", "allocator", "elapsed", "rss", "user", "sys", "page_faults", "threads",
           "repetition", "status", "ops", "throughput_ops_per_s", "peak_live_bytes",
           "baseline_rss_kib", "blowup", "error", "kind", "metric", "metric_value",
           "output_digest"]


def _column(df: pd.DataFrame, name: str, default) -> pd.Series:
    return df[name] if name in df else pd.Series(default, index=df.index)


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """The CSV's rows, in the order of the results file."""
    faults = df["counter.page_faults"] if "counter.page_faults" in df else pd.Series(
        float("nan"), index=df.index)
    if "page_faults" in df:  # programs: rusage's count where perf had none
        faults = faults.fillna(df["page_faults"])
    out = pd.DataFrame({
        "benchmark": df["workload"],
        "allocator": df["allocator"],
        "elapsed": df["seconds"],
        "rss": df["peak_rss"] / 1024,
        "user": df["user_seconds"],
        "sys": df["sys_seconds"],
        "page_faults": faults,
        "threads": df["threads"],
        "repetition": df["repetition"],
        "status": df["status"],
        "ops": df["ops"],
        "throughput_ops_per_s": df["throughput"],
        "peak_live_bytes": df["peak_live"],
        "baseline_rss_kib": df["baseline_rss"] / 1024,
        "blowup": df["blowup"],
        "error": df["error"].fillna("").astype(str).str.replace("\n", " ", regex=False),
        "kind": _column(df, "kind", "synthetic"),
        "metric": _column(df, "metric_name", None),
        "metric_value": _column(df, "metric_value", float("nan")),
        "output_digest": _column(df, "output_digest", None),
    })
    return out[COLUMNS]


def write_results_csv(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    results_table(df).to_csv(path, index=False, na_rep="", float_format="%.10g")
    return path
