"""The microbenchmarks (harness/micro, Google Benchmark) of a run: a time per benchmark and
allocator, and which allocators' micro results are not measurements.

The sweep stores Google Benchmark's JSON report per allocator under the results' "micro" key
(`{"context": ..., "benchmarks": [...]}`), or an empty report with an "error" when the run
failed. A micro run under a library that does not really serve malloc would silently measure
glibc (LD_PRELOAD of a library without malloc changes nothing), and nothing in the report
itself shows it. What makes it evident is the correctness gate: `allocators[].check` records
whether the library serves malloc and the rest of the family, and whether it is correct at all.
So an allocator whose gate failed gets no micro numbers here, only the reason; one that was not
checked is shown with a note that it was not.
"""
from __future__ import annotations

import math

import pandas as pd

from . import summary as S

_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# The gate's check that the library serves malloc, free, calloc, ... itself (allocbench check).
SERVES_CHECK = "serves-all"


def micro_times(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of the measured microbenchmarks: allocator, benchmark, threads, ns (Google
    Benchmark's real time per iteration, in ns; the median when it has repetitions), items_per_s.
    Allocators whose micro run failed or whose gate failed are left out (see micro_problems)."""
    cols = ["allocator", "benchmark", "threads", "ns", "items_per_s"]
    rows = []
    skip = set(micro_problems(df))
    for name, report in (df.attrs.get("micro") or {}).items():
        if name in skip or not isinstance(report, dict):
            continue
        for b in report.get("benchmarks") or []:
            if not isinstance(b, dict) or b.get("run_type", "iteration") != "iteration":
                continue
            t = b.get("real_time")
            unit = _TO_NS.get(b.get("time_unit", "ns"))
            if not isinstance(t, (int, float)) or unit is None or b.get("error_occurred"):
                continue
            rows.append({"allocator": name, "benchmark": b.get("run_name") or b.get("name"),
                         "threads": b.get("threads", 1), "ns": float(t) * unit,
                         "items_per_s": b.get("items_per_second", math.nan)})
    out = pd.DataFrame(rows, columns=cols)
    if out.empty:
        return out
    return (out.groupby(["allocator", "benchmark"], sort=False, as_index=False)
            .agg({"threads": "first", "ns": "median", "items_per_s": "median"}))


def micro_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rows: benchmarks in the order the report lists them; columns: allocators in the fixed
    order; values: ns per iteration (lower is better)."""
    t = micro_times(df)
    if t.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(t["benchmark"]))
    wide = t.pivot(index="benchmark", columns="allocator", values="ns").reindex(order)
    return wide[S.ordered_allocators(wide.columns)]


def micro_problems(df: pd.DataFrame) -> dict[str, str]:
    """Allocators with a micro report that is not a measurement -> why: the micro run failed
    (the harness's error), or the allocator failed the correctness gate."""
    out = {}
    allocs = df.attrs.get("allocators") or {}
    for name, report in (df.attrs.get("micro") or {}).items():
        check = (allocs.get(name) or {}).get("check")
        if isinstance(check, dict) and check.get("passed") is False:
            failed = [c.get("name", "?") for c in check.get("checks") or []
                      if isinstance(c, dict) and c.get("passed") is False]
            why = ("it does not serve the malloc family itself, so these would be glibc's "
                   "numbers" if SERVES_CHECK in failed else "the speed of a wrong allocator "
                   "is not a result")
            out[name] = ("not measured: failed the correctness gate ("
                         + (", ".join(failed) or "see Incorrect") + f"): {why}")
        elif isinstance(report, dict) and report.get("error"):
            out[name] = f"error: {report['error']}"
        elif not isinstance(report, dict):
            out[name] = "error: the micro report is not an object"
    return out


def micro_unchecked(df: pd.DataFrame) -> list[str]:
    """Allocators with micro numbers whose gate was not run (they may be glibc's numbers if the
    library does not serve malloc)."""
    allocs = df.attrs.get("allocators") or {}
    t = micro_times(df)
    names = list(dict.fromkeys(t["allocator"])) if len(t) else []
    return [a for a in names if a != "glibc" and (allocs.get(a) or {}).get("check") is None]
