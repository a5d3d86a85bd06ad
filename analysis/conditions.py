"""What a run was measured under, stated the same way at the top of every report (leaderboard,
compare, ablation, the paper table): machine, commit, parameters, and the alerts a reader must
not miss (a dirty work tree, non-default parameters, a partial run, missing shards, the gate or
verify turned off)."""
from __future__ import annotations

import pandas as pd

from . import summary as S


def _yes(value) -> bool:
    return value is True


def condition_lines(df: pd.DataFrame) -> list[str]:
    """Plain lines: machine, compiler, commit and date; workloads, threads, repetitions,
    duration; the parameter overrides."""
    m = df.attrs.get("machine") or {}
    c = df.attrs.get("config") or {}
    reps = int(df.groupby(["workload", "allocator", "threads"]).size().max()) if len(df) else 0
    threads = sorted(df["threads"].unique()) if len(df) else []
    dirty = m.get("git_dirty")
    tree = {True: " (work tree DIRTY)", False: " (clean work tree)"}.get(dirty, "")
    lines = [
        f"Machine: {S.machine_line(m)}; compiler {m.get('compiler', 'n/a')}; "
        f"commit {str(m.get('git_commit') or 'n/a')[:12]}{tree}; date {m.get('date', 'n/a')}.",
        f"Workloads: {', '.join(S.ordered_workloads(df['workload'].unique()))}. "
        f"Threads: {', '.join(map(str, threads))}. Repetitions: up to {reps} per cell"
        + (f"; duration {c['duration_s']} s" if c.get("duration_s") is not None else "") + ".",
    ]
    params = c.get("params")
    if params is None:
        lines.append("Parameters: overrides not recorded in this results file.")
    elif params:
        lines.append("Parameters: NON-DEFAULT " + ", ".join(map(str, params)) + ".")
    else:
        lines.append("Parameters: the workloads' defaults (no --param).")
    return lines


def alerts(df: pd.DataFrame) -> list[str]:
    """What makes this run differ from a plain, complete, clean, checked one; each a sentence."""
    m = df.attrs.get("machine") or {}
    c = df.attrs.get("config") or {}
    out = []
    if _yes(m.get("git_dirty")):
        out.append("DIRTY: the work tree had uncommitted changes, so the commit "
                   f"{str(m.get('git_commit') or '')[:12]} does not identify the code measured.")
    if c.get("params"):
        out.append("NON-DEFAULT PARAMETERS: " + ", ".join(map(str, c["params"]))
                   + " (results are not comparable with default runs).")
    for note in df.attrs.get("warnings", []):
        if note.startswith(("PARTIAL", "INCOMPLETE")):
            out.append(note + ".")
    if c.get("resumed") is True:
        out.append("RESUMED: the sweep was interrupted and continued (--resume); runs before "
                   "and after the interruption may have met different machine load.")
    if c.get("check") is False:
        out.append("NOT CHECKED: the sweep ran with --no-check; no allocator went through the "
                   "correctness gate, so a wrong allocator can be ranked.")
    if c.get("verify") is False:
        out.append("NO VERIFY: the workloads did not verify block contents (--no-verify); "
                   "corruption goes unnoticed.")
    return out
