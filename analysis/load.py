"""Load allocbench results JSON (schema `allocbench-1`, harness/SCHEMA.md) into one tidy table.

`load_results(paths)` is the only entry point the rest of the analysis uses. It takes result
files and/or run folders (a folder contributes every `run*.json` in it, so the shards
`run.shard-i-of-n.json` of one sweep merge into one table), checks each document against the
schema and returns a long-form DataFrame: one row per run record, one column per variable.

A file that does not follow the schema raises `SchemaError`, whose message names the file and
lists what is wrong with it (truncated JSON, wrong schema version, a missing key, a string where
a number belongs, ...). Failed, timed-out and skipped runs are kept as rows (status column);
nothing is dropped here.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

SCHEMA = "allocbench-1"
STATUSES = ("ok", "failed", "timeout", "skipped")
# Statuses that count as a failure of the allocator (skipped = not run, e.g. .so not found).
FAILED_STATUSES = ("failed", "timeout")

WORKLOADS = ("threadtest", "shbench", "larson", "cache-scratch", "cache-thrash", "prodcons")
HALLOC_VARIANTS = ("halloc", "halloc-paper", "halloc-serial")
PEERS = ("glibc", "jemalloc", "tcmalloc", "mimalloc", "tbbmalloc")
KNOWN_ALLOCATORS = HALLOC_VARIANTS + PEERS

# Per run record: key -> (accepted kinds, required, nullable).
# "int" excludes bools; "number" is int or float (finite); "str", "dict", "list" as in JSON.
_RUN_FIELDS: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    "workload": (("str",), True, False),
    "allocator": (("str",), True, False),
    "threads": (("int",), True, False),
    "repetition": (("int",), True, False),
    "status": (("str",), True, False),
    "error": (("str",), True, True),
    "throughput_ops_per_s": (("number",), True, True),
    "peak_rss_bytes": (("number",), True, True),
    "ops": (("number",), False, True),
    "seconds": (("number",), False, True),
    "baseline_rss_bytes": (("number",), False, True),
    "peak_live_bytes": (("number",), False, True),
    "blowup": (("number",), False, True),
    "exit_status": (("int",), False, True),
    "signal": (("int",), False, True),
    "params": (("dict",), False, True),
    "samples": (("list",), False, True),
    "counters": (("dict",), False, True),
    "counters_unavailable": (("dict",), False, True),
}

# Numeric columns of the table, renamed from the JSON keys where the name is long.
_NUMERIC = {
    "ops": "ops",
    "seconds": "seconds",
    "throughput_ops_per_s": "throughput",
    "peak_rss_bytes": "peak_rss",
    "baseline_rss_bytes": "baseline_rss",
    "peak_live_bytes": "peak_live",
    "blowup": "blowup",
}

MAX_PROBLEMS_SHOWN = 12


class SchemaError(ValueError):
    """A results file that cannot be read or does not follow the allocbench-1 schema."""

    def __init__(self, path: Path | str, problems: list[str],
                 header: str = f"not a valid {SCHEMA} results file"):
        self.path = str(path)
        self.problems = list(problems)
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        more = len(self.problems) - len(shown)
        lines = [f"{self.path}: {header}:"]
        lines += [f"  - {p}" for p in shown]
        if more > 0:
            lines.append(f"  ... and {more} more problem(s)")
        super().__init__("\n".join(lines))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _matches(value: Any, kinds: tuple[str, ...]) -> bool:
    k = _kind(value)
    for want in kinds:
        if want == k:
            return True
        if want == "number" and k in ("int", "float"):
            return math.isfinite(value)
    return False


def _describe(value: Any) -> str:
    text = json.dumps(value) if _kind(value) in ("str", "int", "float", "bool") else _kind(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{_kind(value)} {text}" if _kind(value) in ("str", "bool") else text


def read_document(path: Path | str) -> dict:
    """Read and parse one results file; SchemaError if it is missing, empty or not JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(path, ["file not found"], header="no results") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(path, [f"cannot read: {exc}"]) from None
    if not text.strip():
        raise SchemaError(path, ["file is empty (the sweep may have been interrupted)"])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        body = text.rstrip()
        truncated = exc.pos >= len(body) - 1 or body[-1] not in "}]"
        hint = " - the file looks truncated (sweep interrupted?)" if truncated else ""
        raise SchemaError(
            path, [f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}"]
        ) from None


def validate_document(doc: Any) -> list[str]:
    """Every schema problem of a parsed document, as readable strings (empty list = valid)."""
    if not isinstance(doc, dict):
        return [f"top level must be a JSON object, got {_kind(doc)}"]
    problems: list[str] = []
    schema = doc.get("schema")
    if schema is None:
        problems.append(f'missing key "schema" (expected "{SCHEMA}")')
    elif schema != SCHEMA:
        problems.append(f'schema is {json.dumps(schema)}, expected "{SCHEMA}" (this analysis '
                        f"reads only {SCHEMA})")
        return problems  # another version: the rest would be noise
    for key, kind in (("machine", "dict"), ("config", "dict"), ("runs", "list")):
        if key not in doc:
            problems.append(f'missing key "{key}"')
        elif _kind(doc[key]) != kind:
            problems.append(f'"{key}" must be a JSON {"object" if kind == "dict" else "array"}, '
                            f"got {_kind(doc[key])}")
    if "allocators" in doc and not isinstance(doc["allocators"], list):
        problems.append(f'"allocators" must be an array, got {_kind(doc["allocators"])}')
    runs = doc.get("runs")
    if isinstance(runs, list):
        for i, run in enumerate(runs):
            problems += [f"runs[{i}]{p}" for p in _validate_run(run)]
    return problems


def _validate_run(run: Any) -> list[str]:
    if not isinstance(run, dict):
        return [f": must be an object, got {_kind(run)}"]
    problems = []
    label = ""
    if isinstance(run.get("workload"), str) and isinstance(run.get("allocator"), str):
        label = f' ({run["workload"]}/{run["allocator"]}/{run.get("threads")}t)'
    for key, (kinds, required, nullable) in _RUN_FIELDS.items():
        if key not in run:
            if required:
                problems.append(f'{label}: missing key "{key}"')
            continue
        value = run[key]
        if value is None:
            if not nullable:
                problems.append(f'{label}: "{key}" is null')
            continue
        if not _matches(value, kinds):
            want = " or ".join("number" if k == "number" else k for k in kinds)
            problems.append(f'{label}: "{key}" must be {want}, got {_describe(value)}')
    status = run.get("status")
    if isinstance(status, str) and status not in STATUSES:
        problems.append(f'{label}: "status" is {json.dumps(status)}, expected one of '
                        f'{", ".join(STATUSES)}')
    for key in ("threads",):
        if _kind(run.get(key)) == "int" and run[key] < 1:
            problems.append(f'{label}: "{key}" must be >= 1, got {run[key]}')
    if _kind(run.get("repetition")) == "int" and run["repetition"] < 0:
        problems.append(f'{label}: "repetition" must be >= 0, got {run["repetition"]}')
    if status == "ok" and "throughput_ops_per_s" in run and run["throughput_ops_per_s"] is None:
        problems.append(f'{label}: status is "ok" but "throughput_ops_per_s" is null')
    counters = run.get("counters")
    if isinstance(counters, dict):
        for name, value in counters.items():
            if value is not None and not _matches(value, ("number",)):
                problems.append(f'{label}: counter "{name}" must be a number or null, '
                                f"got {_describe(value)}")
    samples = run.get("samples")
    if isinstance(samples, list):
        for j, s in enumerate(samples):
            if not isinstance(s, dict) or not _matches(s.get("t"), ("number",)):
                problems.append(f'{label}: samples[{j}] must be an object with a number "t"')
                break
    return problems


def result_files(paths: Iterable[Path | str] | Path | str) -> list[Path]:
    """Expand folders into their run*.json files (sorted); files are kept as given."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("run*.json"))
            if not found:
                raise SchemaError(p, ["the folder holds no run*.json results file"],
                                  header="no results")
            files += found
        elif p.exists():
            files.append(p)
        else:
            raise SchemaError(p, ["no such file or folder"], header="no results")
    return files


def _run_rows(doc: dict, path: Path) -> list[dict]:
    rows = []
    run_id = path.resolve().parent.name  # results/latest -> the run it points to
    for run in doc["runs"]:
        row = {
            "run_id": run_id,
            "file": str(path),
            "workload": run["workload"],
            "allocator": run["allocator"],
            "threads": int(run["threads"]),
            "repetition": int(run["repetition"]),
            "status": run["status"],
            "error": run.get("error"),
            "exit_status": run.get("exit_status"),
            "signal": run.get("signal"),
        }
        for key, col in _NUMERIC.items():
            v = run.get(key)
            row[col] = float(v) if v is not None else math.nan
        row["params"] = run.get("params") or {}
        row["samples"] = run.get("samples") or []
        counters = run.get("counters") or {}
        for name, v in counters.items():
            row[f"counter.{name}"] = float(v) if v is not None else math.nan
        row["counters_unavailable"] = run.get("counters_unavailable") or {}
        rows.append(row)
    return rows


def load_results(paths: Iterable[Path | str] | Path | str) -> pd.DataFrame:
    """One or more results files/folders -> one long-form DataFrame, a row per run record.

    Columns: run_id, file, workload, allocator, threads, repetition, status, error, exit_status,
    signal, ops, seconds, throughput, peak_rss, baseline_rss, peak_live, blowup (floats, NaN
    where null), params, samples, counters_unavailable (objects), counter.<name> (float per
    counter, NaN when null), failed (bool), duplicate (bool: the same workload/allocator/threads/
    repetition seen more than once across the files).

    `df.attrs` carries "machine" (of the first file), "config" (merged: the union of workloads,
    allocators, threads), "allocators" (name -> allocator record), "files" and "warnings".
    """
    files = result_files(paths)
    rows: list[dict] = []
    machine: dict = {}
    config: dict = {}
    allocators: dict[str, dict] = {}
    notes: list[str] = []
    for path in files:
        doc = read_document(path)
        problems = validate_document(doc)
        if problems:
            raise SchemaError(path, problems)
        if not machine:
            machine = dict(doc["machine"])
        elif doc["machine"].get("hostname") != machine.get("hostname"):
            notes.append(f"{path}: machine {doc['machine'].get('hostname')!r} differs from "
                         f"{machine.get('hostname')!r} of the first file")
        _merge_config(config, doc["config"])
        for rec in doc.get("allocators") or []:
            if isinstance(rec, dict) and isinstance(rec.get("name"), str):
                allocators.setdefault(rec["name"], rec)
        rows += _run_rows(doc, path)

    base_cols = ["run_id", "file", "workload", "allocator", "threads", "repetition", "status",
                 "error", "exit_status", "signal", *(_NUMERIC.values()), "params", "samples",
                 "counters_unavailable"]
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=base_cols)
    counter_cols = sorted(c for c in df.columns if c.startswith("counter."))
    df = df[base_cols + counter_cols]
    for col in _NUMERIC.values():
        df[col] = df[col].astype(float)
    for col in counter_cols:
        df[col] = df[col].astype(float)
    df["threads"] = df["threads"].astype(int)
    df["repetition"] = df["repetition"].astype(int)
    df["failed"] = df["status"].isin(FAILED_STATUSES)
    key = ["workload", "allocator", "threads", "repetition"]
    df["duplicate"] = df.duplicated(key, keep=False) if len(df) else pd.Series(dtype=bool)
    if df["duplicate"].any():
        dups = df[df["duplicate"]].drop_duplicates(key)
        cells = ", ".join(f"{r.workload}/{r.allocator}/{r.threads}t/rep{r.repetition}"
                          for r in dups.head(5).itertuples())
        more = f" (+{len(dups) - 5} more)" if len(dups) > 5 else ""
        msg = (f"duplicate run records (same workload/allocator/threads/repetition in more than "
               f"one place; all are kept): {cells}{more}")
        notes.append(msg)
        warnings.warn(msg, stacklevel=2)
    for name in df["allocator"].unique():
        allocators.setdefault(name, {"name": name, "path": None, "version": None,
                                     "found": True, "note": None})
    df.attrs["machine"] = machine
    df.attrs["config"] = config
    df.attrs["allocators"] = allocators
    df.attrs["files"] = [str(f) for f in files]
    df.attrs["warnings"] = notes
    df.attrs["run_id"] = files[0].resolve().parent.name if files else ""
    return df.reset_index(drop=True)


def _merge_config(into: dict, new: dict) -> None:
    for key, value in new.items():
        if key in ("workloads", "allocators", "threads") and isinstance(value, list):
            merged = list(into.get(key, []))
            merged += [v for v in value if v not in merged]
            into[key] = sorted(merged) if key == "threads" else merged
        elif key == "shard":
            into.setdefault("shards", []).append(value)
        else:
            into.setdefault(key, value)


COUNTER_ORDER = ("cycles", "instructions", "cache_references", "cache_misses",
                 "l1d_load_misses", "page_faults", "context_switches", "task_clock_ns")


def counter_names(df: pd.DataFrame) -> list[str]:
    """Names of the perf counters that have at least one value in the table (schema order
    first, then any others sorted)."""
    have = [c[len("counter."):] for c in df.columns
            if c.startswith("counter.") and df[c].notna().any()]
    return [c for c in COUNTER_ORDER if c in have] + sorted(c for c in have
                                                             if c not in COUNTER_ORDER)


def allocator_kind(name: str) -> str:
    """'halloc' for our variants and ablation steps (halloc-abl-*), 'peer' for the known
    allocators, 'user' for any other .so."""
    if name in HALLOC_VARIANTS or name.startswith("halloc-abl-"):
        return "halloc"
    if name in PEERS:
        return "peer"
    return "user"
