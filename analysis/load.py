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
STATUSES = ("ok", "failed", "timeout", "skipped", "corrupt", "wrong_output")
# Statuses that count as a failure of the allocator (skipped = not run, e.g. .so not found):
# corrupt = a workload's verify found a wrong byte; wrong_output = a program's output differs
# from glibc's.
FAILED_STATUSES = ("failed", "timeout", "corrupt", "wrong_output")

WORKLOADS = ("threadtest", "shbench", "larson", "cache-scratch", "cache-thrash", "prodcons",
             "barnes-hut", "size-mix", "mass-alloc", "large-buffers")
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
    "user_seconds": (("number",), False, True),
    "sys_seconds": (("number",), False, True),
    "kind": (("str",), False, True),
    "metric": (("dict",), False, True),
    "output_digest": (("str",), False, True),
    "output_matches_glibc": (("bool",), False, True),
    "page_faults": (("number",), False, True),
    "allocator_library": (("str",), False, True),
    "sharing": (("dict",), False, True),
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
    "user_seconds": "user_seconds",
    "sys_seconds": "sys_seconds",
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
    elif isinstance(doc.get("allocators"), list):
        for i, rec in enumerate(doc["allocators"]):
            if isinstance(rec, dict):
                problems += [f"allocators[{i}]{p}" for p in _validate_check(rec.get("check"))]
    if "micro" in doc and doc["micro"] is not None and not isinstance(doc["micro"], dict):
        problems.append(f'"micro" must be an object, got {_kind(doc["micro"])}')
    runs = doc.get("runs")
    if isinstance(runs, list):
        for i, run in enumerate(runs):
            problems += [f"runs[{i}]{p}" for p in _validate_run(run)]
    return problems


def _validate_check(check: Any) -> list[str]:
    """allocators[].check: null (the gate was not run) or {"passed": bool, "checks": [...]}."""
    if check is None:
        return []
    if not isinstance(check, dict):
        return [f'.check must be an object or null, got {_kind(check)}']
    problems = []
    if not isinstance(check.get("passed"), bool):
        problems.append(".check.passed must be true or false, got "
                        f'{_describe(check.get("passed"))}')
    checks = check.get("checks", [])
    if not isinstance(checks, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) for c in checks):
        problems.append('.check.checks must be an array of objects with a string "name"')
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
    if (status == "ok" and "throughput_ops_per_s" in run and run["throughput_ops_per_s"] is None
            and run.get("kind") != "program"):  # a program's measure is its metric
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


PARTIAL_SUFFIX = ".partial.jsonl"


def result_files(paths: Iterable[Path | str] | Path | str) -> list[Path]:
    """Expand folders into their results files (sorted): every run*.json, and every
    run*.json.partial.jsonl whose finished run*.json is not there (an interrupted sweep).
    Files are kept as given."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("run*.json"))
            done = {f.name for f in found}
            found += sorted(f for f in p.glob("run*.json" + PARTIAL_SUFFIX)
                            if f.name[:-len(PARTIAL_SUFFIX)] not in done)
            if not found:
                raise SchemaError(p, ["the folder holds no run*.json results file (nor a "
                                      f"run*.json{PARTIAL_SUFFIX} of an interrupted sweep)"],
                                  header="no results")
            files += sorted(found)
        elif p.exists():
            files.append(p)
        else:
            raise SchemaError(p, ["no such file or folder"], header="no results")
    return files


def is_partial(path: Path | str) -> bool:
    return str(path).endswith(PARTIAL_SUFFIX)


def read_partial(path: Path | str) -> tuple[dict, list[str]]:
    """An interrupted sweep's run.json.partial.jsonl -> (a results document, notes). Line 1 is
    {"header": {"schema", "machine", "config", "allocators"}}, every later line one run record.
    A last line cut short (the sweep was killed mid-write) is left out with a note; any other
    bad line is an error."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(path, [f"cannot read: {exc}"]) from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise SchemaError(path, ["file is empty (the sweep stopped before its first run)"])
    try:
        first = json.loads(lines[0])
    except json.JSONDecodeError:
        first = None
    if not isinstance(first, dict) or not isinstance(first.get("header"), dict):
        raise SchemaError(path, ['line 1 is not a {"header": {...}} object: this partial file '
                                 "was written by an allocbench without resumable partial "
                                 "files, and cannot be read (rerun the sweep)"])
    doc = dict(first["header"])
    doc["runs"] = []
    notes = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            doc["runs"].append(json.loads(line))
        except json.JSONDecodeError as exc:
            if n == len(lines):
                notes.append(f"{path}: the last line ({n}) is cut short and was left out "
                             "(the sweep was interrupted while writing it)")
                break
            raise SchemaError(path, [f"line {n}: invalid JSON: {exc.msg}"]) from None
    return doc, notes


def _shard(config: dict) -> tuple[int, int]:
    sh = config.get("shard")
    if isinstance(sh, dict) and isinstance(sh.get("index"), int) \
            and isinstance(sh.get("count"), int):
        return sh["index"], sh["count"]
    return 1, 1


# Config keys that legitimately differ between the shards of one sweep.
_PER_SHARD_KEYS = ("shard", "command", "resumed")


def check_same_sweep(docs: list[tuple[Path, dict]]) -> tuple[list[str], list[int], int]:
    """Files merged into one table must be the shards of one sweep. Returns (problems, missing
    shard indices, shard count). problems (an error: SchemaError) name every file whose config
    (apart from the shard index and the command line) or git commit differs from the first
    file's, and every shard index claimed by two files; missing lists the shard indices of the
    sweep that no file holds (a warning: the table is incomplete)."""
    problems: list[str] = []
    if not docs:
        return problems, [], 1
    p0, d0 = docs[0]
    c0 = {k: v for k, v in d0["config"].items() if k not in _PER_SHARD_KEYS}
    commit0 = d0["machine"].get("git_commit")
    count0 = _shard(d0["config"])[1]
    seen: dict[int, Path] = {}
    for path, doc in docs:
        c = {k: v for k, v in doc["config"].items() if k not in _PER_SHARD_KEYS}
        diffs = [f"{k} ({json.dumps(c0.get(k))} vs {json.dumps(c.get(k))})"
                 for k in sorted(set(c0) | set(c)) if c0.get(k) != c.get(k)]
        index, count = _shard(doc["config"])
        if count != count0:
            diffs.append(f"shard count ({count0} vs {count})")
        commit = doc["machine"].get("git_commit")
        if commit != commit0:
            diffs.append(f"git commit ({commit0} vs {commit})")
        if diffs and path is not p0:
            problems.append(f"{path.name} is not from the same sweep as {p0.name}: it differs "
                            "in " + ", ".join(diffs))
        if index in seen:
            problems.append(f"{seen[index].name} and {path.name} both hold shard {index} of "
                            f"{count}")
        seen.setdefault(index, path)
    missing = [i for i in range(1, count0 + 1) if i not in seen]
    return problems, missing, count0


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
        row["kind"] = run.get("kind") or "synthetic"
        metric = run.get("metric") if isinstance(run.get("metric"), dict) else {}
        row["metric_name"] = metric.get("name")
        value = metric.get("value")
        row["metric_value"] = float(value) if isinstance(value, (int, float)) else math.nan
        row["higher_is_better"] = metric.get("higher_is_better")
        row["output_digest"] = run.get("output_digest")
        v = run.get("page_faults")
        row["page_faults"] = float(v) if v is not None else math.nan
        row["sharing"] = run.get("sharing")  # the false-sharing tracer's counts, or None
        rows.append(row)
    return rows


def load_results(paths: Iterable[Path | str] | Path | str) -> pd.DataFrame:
    """One or more results files/folders -> one long-form DataFrame, a row per run record.

    Columns: run_id, file, workload, allocator, threads, repetition, status, error, exit_status,
    signal, ops, seconds, throughput, peak_rss, baseline_rss, peak_live, blowup, user_seconds,
    sys_seconds (floats, NaN where null or absent), params, samples, counters_unavailable
    (objects), kind ("synthetic" when absent), sharing (the
    false-sharing tracer's dict, or None), counter.<name> (float per counter, NaN when
    null), failed (bool: a failure status), duplicate (bool: the same workload/allocator/threads/
    repetition seen more than once across the files).

    `df.attrs` carries "machine" (of the first file), "config" (merged: the union of workloads,
    allocators, threads), "allocators" (name -> allocator record, with its "check" when the
    gate ran), "micro" (allocator -> Google Benchmark report), "files", "partial" (the partial
    files read), "missing_shards", "shard_count" and "warnings".

    Files merged into one table must be the shards of one sweep (check_same_sweep): otherwise
    SchemaError. Missing shards and partial files are warnings, kept in attrs for the reports.
    """
    files = result_files(paths)
    rows: list[dict] = []
    machine: dict = {}
    config: dict = {}
    allocators: dict[str, dict] = {}
    micro: dict[str, dict] = {}
    notes: list[str] = []
    docs: list[tuple[Path, dict]] = []
    partial: list[str] = []
    for path in files:
        if is_partial(path):
            doc, more = read_partial(path)
            notes += more
            partial.append(str(path))
        else:
            doc = read_document(path)
        problems = validate_document(doc)
        if problems:
            raise SchemaError(path, problems)
        docs.append((path, doc))
    problems, missing, shard_count = check_same_sweep(docs)
    if problems:
        raise SchemaError(files[0].parent if len({f.parent for f in files}) == 1 else files[0],
                          problems, header="these files are not the shards of one sweep")
    if missing:
        notes.append(f"INCOMPLETE: shard(s) {', '.join(map(str, missing))} of {shard_count} "
                     "are missing; the tables hold only the shards that are there")
    for path in partial:
        notes.append(f"PARTIAL: {path} is an interrupted sweep's record; the runs it did not "
                     "reach are missing from every table")
    for path, doc in docs:
        if not machine:
            machine = dict(doc["machine"])
        elif doc["machine"].get("hostname") != machine.get("hostname"):
            notes.append(f"{path}: machine {doc['machine'].get('hostname')!r} differs from "
                         f"{machine.get('hostname')!r} of the first file")
        _merge_config(config, doc["config"])
        for rec in doc.get("allocators") or []:
            if isinstance(rec, dict) and isinstance(rec.get("name"), str):
                allocators.setdefault(rec["name"], rec)
        for name, rep in (doc.get("micro") or {}).items():
            micro.setdefault(name, rep)
        rows += _run_rows(doc, path)

    base_cols = ["run_id", "file", "workload", "allocator", "threads", "repetition", "status",
                 "error", "exit_status", "signal", *(_NUMERIC.values()), "params", "samples",
                 "counters_unavailable", "kind", "metric_name", "metric_value",
                 "higher_is_better", "output_digest", "page_faults", "sharing"]
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=base_cols)
    counter_cols = sorted(c for c in df.columns if c.startswith("counter."))
    df = df[base_cols + counter_cols]
    for col in (*_NUMERIC.values(), "metric_value", "page_faults"):
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
    df.attrs["micro"] = micro
    df.attrs["partial"] = partial
    df.attrs["missing_shards"] = missing
    df.attrs["shard_count"] = shard_count
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
