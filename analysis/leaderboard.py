"""The grading-style leaderboard: correct allocators ranked by a score with a 95% confidence
interval, ties where intervals overlap; incorrect allocators listed with the checks they failed
and not ranked. The arithmetic is in analysis.stats (shared with the figures and compare);
this module picks what to rank and renders Markdown and HTML from one list of sections.

Scores
------
cell        one (workload, threads) pair of the run.
median      per allocator and cell, the median over its successful repetitions (throughput in
            ops/s; peak RSS in bytes).
relative    throughput: median / best median in the cell (1.0 = the fastest);
            memory: smallest peak RSS in the cell / this allocator's (1.0 = the leanest).
failure     an allocator *fails a cell* when any of its repetitions there failed, timed out,
            was corrupt or gave wrong output, or when it has no successful repetition there.
            A failed cell scores stats.FAILURE_FACTOR x the worst successful relative score in
            that cell, so a failure always ranks strictly below every success in that cell.
            A cell where every allocator failed is left out of all scores.
score       the geometric mean of the relative scores over all cells (1.0 = best everywhere);
            throughput, memory, and combined = geometric mean of the two.
interval    bootstrap 95% CI: the repetitions of every cell resampled, every score recomputed.
rank        by the chosen score (--rank-by); an allocator whose interval overlaps the interval of
            the first of the group above it shares that group's rank (a tie, shown "=").
Only allocators that passed the correctness gate or were not checked are scored (an incorrect
allocator takes no part, so it cannot set the best median of a cell). Allocators all of whose
runs were skipped (e.g. the .so was not found) are listed, not ranked.
"""
from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import micro as M
from . import programs
from . import stats as ST
from . import summary as S
from .conditions import alerts, condition_lines
from .load import FAILED_STATUSES, allocator_kind

# Re-exported: the arithmetic lives in stats.
FAILURE_FACTOR = ST.FAILURE_FACTOR
geometric_mean = ST.geometric_mean
cell_medians = ST.cell_medians
relative_scores = ST.relative_scores

RANK_KEYS = ("throughput", "memory", "combined")
_TIEBREAK = {"throughput": "memory", "memory": "throughput", "combined": "throughput"}


# ----------------------------------------------------------------------------------------------
# correctness

def correctness(df: pd.DataFrame) -> dict[str, dict]:
    """allocator -> {"state": "passed" | "failed" | "not checked", "failed": [(name, message)],
    "seed": int | None} from allocators[].check (null or absent: not checked)."""
    out = {}
    info = df.attrs.get("allocators") or {}
    for name in S.ordered_allocators(set(df["allocator"].unique()) | set(info)):
        check = (info.get(name) or {}).get("check")
        if not isinstance(check, dict):
            out[name] = {"state": "not checked", "failed": [], "seed": None}
            continue
        failed = [(str(c.get("name")), str(c.get("message") or ""))
                  for c in check.get("checks") or []
                  if isinstance(c, dict) and c.get("passed") is False]
        passed = check.get("passed") is True
        out[name] = {"state": "passed" if passed else "failed", "failed": failed,
                     "seed": check.get("seed")}
    return out


def incorrect_allocators(df: pd.DataFrame) -> list[str]:
    return [a for a, c in correctness(df).items() if c["state"] == "failed"]


def ranked_allocators(df: pd.DataFrame) -> list[str]:
    """Allocators with at least one run that was not skipped and that did not fail the gate, in
    the fixed order."""
    bad = set(incorrect_allocators(df))
    ran = df.loc[df["status"] != "skipped", "allocator"].unique()
    return [a for a in S.ordered_allocators(ran) if a not in bad]


# ----------------------------------------------------------------------------------------------
# scores

def scores(df: pd.DataFrame, rank_by: str = "throughput", n_boot: int = ST.N_BOOT
           ) -> pd.DataFrame:
    """One row per ranked allocator, best first: rank (position), rank_label ("2" or "2=" when
    tied), tied, allocator, kind, correctness, <key>_score/_lo/_hi for throughput, memory and
    combined, cells, failed_cells, peak_rss (the largest cell median)."""
    if rank_by not in RANK_KEYS:
        raise ValueError(f"rank_by must be one of {', '.join(RANK_KEYS)}, got {rank_by!r}")
    allocs = ranked_allocators(df)
    cols = ["rank", "rank_label", "tied", "allocator", "kind", "correctness",
            *[f"{k}_{s}" for k in RANK_KEYS for s in ("score", "lo", "hi")],
            "cells", "failed_cells", "peak_rss"]
    if not allocs:
        return pd.DataFrame(columns=cols)
    tp, tb = ST.score_replicates(df, "throughput", allocs, True, n_boot)
    mp, mb = ST.score_replicates(df, "peak_rss", allocs, False, n_boot)
    cp = np.sqrt(tp * mp)
    cb = np.sqrt(tb * mb)
    _, tfail = ST.cell_medians(df, "throughput", allocs)
    rmed, _ = ST.cell_medians(df, "peak_rss", allocs)
    state = correctness(df)
    rows = []
    for i, a in enumerate(allocs):
        row = {"allocator": a, "kind": allocator_kind(a), "correctness": state[a]["state"],
               "cells": int(len(tfail)), "failed_cells": int(tfail[a].sum()),
               "peak_rss": float(rmed[a].max()) if rmed[a].notna().any() else math.nan}
        for key, point, boot in (("throughput", tp, tb), ("memory", mp, mb),
                                 ("combined", cp, cb)):
            lo, hi = ST.interval(boot[:, i])
            row[f"{key}_score"], row[f"{key}_lo"], row[f"{key}_hi"] = float(point[i]), lo, hi
        rows.append(row)
    out = pd.DataFrame(rows)
    out = out.sort_values([f"{rank_by}_score", f"{_TIEBREAK[rank_by]}_score"], ascending=False,
                          na_position="last", kind="mergesort").reset_index(drop=True)
    key = f"{rank_by}"
    ties = ST.tie_groups(list(out["allocator"]),
                         dict(zip(out["allocator"], out[f"{key}_lo"])),
                         dict(zip(out["allocator"], out[f"{key}_hi"])))
    out.insert(0, "rank", range(1, len(out) + 1))
    out.insert(1, "rank_label", [f"{ties[a][0]}=" if ties[a][1] else str(ties[a][0])
                                 for a in out["allocator"]])
    out.insert(2, "tied", [ties[a][1] for a in out["allocator"]])
    return out[cols]


def workload_scores(df: pd.DataFrame, value: str = "throughput", allocators=None
                    ) -> pd.DataFrame:
    """Geometric mean of the relative scores per workload: rows allocators, columns workloads."""
    allocators = ranked_allocators(df) if allocators is None else allocators
    med, fail = ST.cell_medians(df, value, allocators)
    rel = ST.relative_scores(med, fail, value == "throughput")
    if rel.empty:
        return pd.DataFrame(index=med.columns)
    out = rel.groupby(level="workload", sort=False).agg(ST.geometric_mean).T
    return out[[w for w in S.ordered_workloads(out.columns)]]


def workload_intervals(df: pd.DataFrame, value: str, allocators: list[str],
                       n_boot: int = ST.N_BOOT) -> dict[tuple[str, str], tuple[float, float]]:
    """(workload, allocator) -> the bootstrap 95% interval of its per-workload score."""
    out = {}
    for w in S.ordered_workloads(df["workload"].unique()):
        _, boot = ST.score_replicates(df[df["workload"] == w], value, allocators,
                                      value == "throughput", n_boot)
        for i, a in enumerate(allocators):
            out[(w, a)] = ST.interval(boot[:, i])
    return out


def cell_rows(df: pd.DataFrame, order: list[str]) -> list[list[str]]:
    """Rows of the per-cell table: workload, threads, the best allocator and its median
    throughput, then each allocator's relative throughput (failures marked FAIL)."""
    med, failed = ST.cell_medians(df, "throughput", order)
    rel = ST.relative_scores(med, failed, True)
    rows = []
    for (w, t) in med.index:
        if (w, t) not in rel.index:
            rows.append([w, str(t), "all failed"] + ["FAIL"] * len(order))
            continue
        good = med.loc[(w, t)][~failed.loc[(w, t)]].dropna()
        best = good.idxmax()
        cells = []
        for a in order:
            r = rel.loc[(w, t), a]
            cells.append(f"FAIL {r:.3f}" if failed.loc[(w, t), a] else f"{r:.3f}")
        rows.append([w, str(t), f"{best} {_ops(good[best])}"] + cells)
    return rows


def failures(df: pd.DataFrame) -> pd.DataFrame:
    """Every run record with a failure status."""
    f = df[df["status"].isin(FAILED_STATUSES)]
    return f[["workload", "allocator", "threads", "repetition", "status", "exit_status",
              "signal", "error"]].reset_index(drop=True)


def failures_by_allocator(df: pd.DataFrame) -> dict[str, list[dict]]:
    """allocator -> its failures grouped by (status, error): each {"status", "error", "runs",
    "cells": "larson 2t (reps 0, 1); ..."}; allocators in the fixed order, groups by size."""
    fl = failures(df)
    out: dict[str, list[dict]] = {}
    for a in S.ordered_allocators(fl["allocator"].unique()):
        groups = []
        g = fl[fl["allocator"] == a].fillna({"error": ""})
        for (status, error), h in g.groupby(["status", "error"], sort=False):
            where = []
            for (w, t), c in h.groupby(["workload", "threads"], sort=False):
                reps = ", ".join(str(r) for r in sorted(c["repetition"]))
                where.append(f"{w} {t}t (rep{'s' if len(c) > 1 else ''} {reps})")
            groups.append({"status": status, "error": error, "runs": len(h),
                           "cells": "; ".join(where)})
        out[a] = sorted(groups, key=lambda x: -x["runs"])
    return out


def skipped_allocators(df: pd.DataFrame) -> dict[str, str]:
    """Allocators none of whose runs ran, with the reason (harness note or error)."""
    ran = set(df.loc[df["status"] != "skipped", "allocator"].unique())
    info = df.attrs.get("allocators", {})
    names = set(df["allocator"].unique()) | {n for n, r in info.items()
                                             if isinstance(r, dict) and r.get("found") is False}
    out = {}
    for a in S.ordered_allocators(names - ran):
        note = (info.get(a) or {}).get("note")
        errs = df.loc[df["allocator"] == a, "error"].dropna()
        out[a] = note or (errs.iloc[0] if len(errs) else "all runs skipped")
    return out


# ----------------------------------------------------------------------------------------------
# sections: the same content for both renderers

@dataclass
class Section:
    title: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    text: str = ""
    row_kinds: list[str] | None = None   # per row, the allocator's kind (styles its name)
    name_col: int = 0                    # the column that holds the allocator's name
    level: int = 2
    alert: bool = False                  # the text is a warning a reader must not miss


def _f(v, digits=3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _ci(point, lo, hi) -> str:
    if point is None or not math.isfinite(point):
        return "n/a"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return _f(point)
    return f"{point:.3f} [{lo:.3f}, {hi:.3f}]"


def _ops(v: float) -> str:
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"


def scoring_method(rank_by: str) -> str:
    return (f"Ranked by the {rank_by} score, best first. Per (workload, threads) cell and "
            "allocator, the median over the successful repetitions; throughput relative = "
            "median / best median in the cell, memory relative = smallest median peak RSS in "
            "the cell / this allocator's (1.000 = best). An allocator fails a cell when any "
            "repetition there failed, timed out, was corrupt or gave wrong output, or none "
            f"succeeded; a failed cell scores {FAILURE_FACTOR} x the worst successful relative "
            "score in that cell. Score = geometric mean of the relative scores over the cells "
            "(cells where every allocator failed are left out); combined = geometric mean of "
            "the throughput and memory scores. [lo, hi] = bootstrap 95% confidence interval "
            f"({ST.N_BOOT} resamples of the repetitions within each cell, fixed seed). "
            "Allocators whose interval overlaps that of the first allocator of the group above "
            "share its rank, marked '='. Only allocators that passed the correctness gate (or "
            "were not checked) are scored.")


def _sections(df: pd.DataFrame, rank_by: str = "throughput") -> list[Section]:
    df, program_runs = programs.split(df)  # real programs: sections of their own (programs.py)
    tail = [Section(title, header, rows, text)
            for title, header, rows, text in programs.leaderboard_sections(program_runs)]
    return (_synthetic_sections(df, rank_by) if not df.empty else []) + tail


def _synthetic_sections(df: pd.DataFrame, rank_by: str = "throughput") -> list[Section]:
    sc = scores(df, rank_by)
    state = correctness(df)
    out: list[Section] = []
    # the summary: one row per allocator, ranked first, then the incorrect and the not run
    header = ["rank", "allocator", "kind", f"{rank_by} score [95% CI]"] + \
        [f"{k} score" for k in RANK_KEYS if k != rank_by] + \
        ["correctness", "failed cells", "peak RSS"]
    rows, kinds = [], []
    for r in sc.itertuples():
        rows.append([r.rank_label, r.allocator, r.kind,
                     _ci(getattr(r, f"{rank_by}_score"), getattr(r, f"{rank_by}_lo"),
                         getattr(r, f"{rank_by}_hi"))]
                    + [_f(getattr(r, f"{k}_score")) for k in RANK_KEYS if k != rank_by]
                    + [r.correctness, f"{r.failed_cells}/{r.cells}", S.fmt_bytes(r.peak_rss)])
        kinds.append(r.kind)
    bad = incorrect_allocators(df)
    for a in bad:
        n = len(state[a]["failed"])
        ran = df[(df["allocator"] == a) & (df["status"] != "skipped")]
        if ran.empty:
            continue  # listed under "not run"
        _, afail = ST.cell_medians(ran, "throughput", [a])
        amed, _ = ST.cell_medians(ran, "peak_rss", [a])
        rows.append(["-", a, allocator_kind(a), "not ranked"] + ["-"] * (len(RANK_KEYS) - 1)
                    + [f"INCORRECT ({n} check{'s' if n != 1 else ''} failed)",
                       f"{int(afail[a].sum())}/{len(afail)}", S.fmt_bytes(amed[a].max())])
        kinds.append(allocator_kind(a))
    skipped = skipped_allocators(df)
    for a in skipped:
        rows.append(["-", a, allocator_kind(a), "not run"] + ["-"] * (len(RANK_KEYS) - 1)
                    + [state.get(a, {}).get("state", "not checked"), "-", "-"])
        kinds.append(allocator_kind(a))
    _, tfail = ST.cell_medians(df, "throughput", list(sc["allocator"]))
    dropped = int(tfail.all(axis=1).sum()) if len(tfail.columns) else 0
    text = ""
    if dropped:
        text = (f"{dropped} of {len(tfail)} cell(s) failed for every allocator and are not "
                "scored" + (" - no cell is left to score this run." if dropped == len(tfail)
                            else "."))
    if sc["tied"].any():
        text += (" '=' marks a tie: the 95% intervals overlap, so the order within the group "
                 "is not established by this run.")
    few = _few_reps(df, list(sc["allocator"]))
    if few:
        text += (f" {few} cell(s) have fewer than {ST.MIN_REPS_FOR_CI} successful repetitions: "
                 "their intervals understate the noise.")
    out.append(Section("Summary", header, rows, text.strip(), kinds, name_col=1))

    # correctness
    if bad:
        out.append(Section("Incorrect (not ranked)", text=(
            "These allocators failed the correctness gate (`allocbench check`): speed of a "
            "wrong allocator is not a result, so they are not scored.")))
        for a in bad:
            seed = state[a]["seed"]
            out.append(Section(f"{a}: failed checks", ["check", "what was wrong"],
                               [[n, m] for n, m in state[a]["failed"]]
                               or [["(none named)", "the gate reported a failure"]],
                               f"seed {seed}" if seed is not None else "", level=3))
    unchecked = [a for a in sc["allocator"] if state[a]["state"] == "not checked"]
    if unchecked and len(unchecked) == len(sc):
        out.append(Section("Not checked", text=(
            "No allocator of this run went through the correctness gate (the sweep ran with "
            "--no-check, or the results file predates the gate): the ranks assume every "
            "allocator is correct."), alert=True))
    elif unchecked:
        out.append(Section("Not checked", text=(
            f"{', '.join(unchecked)}: not checked for correctness (the gate's record is null). "
            "Their ranks assume they are correct."), alert=True))

    # per workload and per cell
    allocs = list(sc["allocator"])
    for value, title in (("throughput", "Throughput score per workload"),
                         ("peak_rss", "Memory score per workload")):
        ws = workload_scores(df, value, allocs)
        if ws.empty or not len(ws.columns):
            continue
        ci = workload_intervals(df, value, allocs)
        out.append(Section(title, ["allocator"] + list(ws.columns),
                           [[a] + [_ci(ws.loc[a, w], *ci.get((w, a), (math.nan, math.nan)))
                                   for w in ws.columns]
                            for a in allocs if a in ws.index],
                           "Geometric mean over the thread counts of each workload (1.000 = "
                           "best at every thread count), with its bootstrap 95% interval.",
                           [allocator_kind(a) for a in allocs if a in ws.index]))
    crow = cell_rows(df, allocs) if allocs else []
    if crow:
        out.append(Section("Throughput per cell, relative to the best",
                           ["workload", "threads", "best (median ops/s)"] + allocs, crow,
                           "1.000 = the best median in the cell; FAIL = a failed, timed-out, "
                           "corrupt or wrong-output repetition (or no successful one), scored "
                           "as the number after it."))

    # failures, grouped by allocator
    grouped = failures_by_allocator(df)
    total = sum(g["runs"] for gs in grouped.values() for g in gs)
    out.append(Section("Failures", text="None: every run succeeded." if not grouped else
                       f"{total} failed run(s) of {len(grouped)} allocator(s); each makes its "
                       "allocator fail that cell. Grouped by allocator and error."))
    for a, groups in grouped.items():
        runs = sum(g["runs"] for g in groups)
        out.append(Section(f"{a}: {runs} failed run(s)", ["status", "runs", "where", "error"],
                           [[g["status"], str(g["runs"]), g["cells"], g["error"]]
                            for g in groups], level=3))

    # microbenchmarks
    mt = M.micro_table(df)
    problems = M.micro_problems(df)
    if len(mt) or problems:
        text = ("Google Benchmark's real time per iteration in ns (lower is better), from the "
                "run's allocbench-micro.")
        unchecked_micro = M.micro_unchecked(df)
        if unchecked_micro:
            if all(state.get(a, {}).get("state") == "not checked" for a in mt.columns):
                text += (" None of these libraries went through the correctness gate, so "
                         "nothing shows that each serves malloc itself")
            else:
                text += (" Not checked by the correctness gate: " + ", ".join(unchecked_micro)
                         + "; nothing shows that they serve malloc themselves")
            text += " (a library that does not would show glibc's times)."
        rows = [[b] + [_f(mt.loc[b, a], 1) for a in mt.columns] for b in mt.index] \
            if len(mt) else []
        out.append(Section("Microbenchmarks", ["benchmark"] + list(mt.columns), rows, text))
        if problems:
            out.append(Section("Microbenchmarks not measured", ["allocator", "why"],
                               [[a, why] for a, why in problems.items()], level=3))

    if skipped:
        out.append(Section("Not ranked (not run)", ["allocator", "reason"],
                           [[a, why] for a, why in skipped.items()]))
    return out


def _few_reps(df: pd.DataFrame, allocs: list[str]) -> int:
    ok = df[(df["status"] == "ok") & df["allocator"].isin(allocs)]
    if ok.empty:
        return 0
    n = ok.groupby(["workload", "threads", "allocator"]).size()
    return int((n < ST.MIN_REPS_FOR_CI).sum())


# ----------------------------------------------------------------------------------------------
# rendering

def _numeric_text(text: str) -> bool:
    text = text.removeprefix("FAIL ")
    t = (text.replace("/", "").replace(".", "").replace(",", "").replace("-", "")
         .replace("[", "").replace("]", "").replace(" ", "").replace("=", ""))
    return t.isdigit() or text in ("n/a", "-")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; columns whose cells are all numbers are right-aligned."""
    esc = [[str(c).replace("|", "\\|").replace("\n", " ") for c in r] for r in rows]
    right = [bool(rows) and all(_numeric_text(r[i]) for r in esc) for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in esc]
    return "\n".join(lines)


def _header_lines(df: pd.DataFrame) -> list[str]:
    return condition_lines(df)


def render_markdown(df: pd.DataFrame, figure_links: dict[str, str] | None = None,
                    rank_by: str = "throughput") -> str:
    """The leaderboard as Markdown; figure_links maps a caption to a relative image path."""
    run_id = df.attrs.get("run_id", "")
    parts = [f"# Allocator leaderboard: run {run_id}", ""] + condition_lines(df) + [""]
    parts += [f"**{a}**" + "  " for a in alerts(df)]
    if alerts(df):
        parts.append("")
    parts += ["**How the scores are computed.** " + scoring_method(rank_by), ""]
    for s in _sections(df, rank_by):
        parts += [f"{'#' * s.level} {s.title}", ""]
        if s.text:
            parts += [f"**{s.text}**" if s.alert else s.text, ""]
        if s.rows:
            parts += [_md_table(s.header, s.rows), ""]
    if figure_links:
        parts += ["## Figures", ""]
        parts += [f"![{cap}]({path})" for cap, path in figure_links.items()]
        parts.append("")
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:4px 10px;text-align:right;vertical-align:top}
th{text-align:left}
td.text{text-align:left;max-width:60em;overflow-wrap:anywhere}
thead{background:#f2f2f2}
td.kind-halloc{border-left:4px solid #d62728}
td.kind-peer{border-left:4px solid #1f77b4}
td.kind-user{border-left:4px solid #e377c2}
td.fail{background:#f8d0d0;color:#800;font-weight:600}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
figure{margin:1em 0} figcaption{font-size:0.9em;color:#555}
p.note{color:#555;font-size:0.95em}
p.alert{background:#fff3cd;border:1px solid #e0b000;padding:6px 10px;font-weight:600}
p.method{background:#f6f8fa;border:1px solid #ddd;padding:6px 10px;font-size:0.95em}
span.legend{display:inline-block;padding:0 6px;margin-right:8px;border-left:4px solid}
"""


def figure_png_base64(fig, dpi: int = 90) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _td(text: str, cls: str = "") -> str:
    text = str(text)
    classes = [cls] if cls else []
    if text.startswith("FAIL") or text.startswith("INCORRECT"):
        classes.append("fail")
    elif not _numeric_text(text):
        classes.append("text")
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{html.escape(text)}</td>"


def _html_table(header: list[str], rows: list[list[str]], kinds: list[str] | None = None,
                name_col: int = 0) -> str:
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
           + "</tr></thead>", "<tbody>"]
    for i, r in enumerate(rows):
        cells = [_td(c, f"kind-{kinds[i]}" if kinds and j == name_col else "")
                 for j, c in enumerate(r)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def render_html(df: pd.DataFrame, figures: dict | None = None, rank_by: str = "throughput"
                ) -> str:
    """One self-contained HTML page: the tables and the figures as embedded base64 PNGs.
    `figures` maps a caption to a matplotlib Figure (or to already base64-encoded PNG text)."""
    run_id = html.escape(str(df.attrs.get("run_id", "")))
    body = [f"<h1>Allocator leaderboard: run {run_id}</h1>"]
    body += [f"<p class=note>{html.escape(line)}</p>" for line in condition_lines(df)]
    body += [f"<p class=alert>{html.escape(a)}</p>" for a in alerts(df)]
    body.append("<p class=method><b>How the scores are computed.</b> "
                f"{html.escape(scoring_method(rank_by))}</p>")
    body.append('<p class=note>Row colour by kind: <span class=legend style="border-color:'
                '#d62728">halloc (ours)</span><span class=legend style="border-color:#1f77b4">'
                'peer</span><span class=legend style="border-color:#e377c2">user-supplied'
                "</span>FAIL cells in red.</p>")
    for s in _sections(df, rank_by):
        body.append(f"<h{s.level}>{html.escape(s.title)}</h{s.level}>")
        if s.text:
            body.append(f"<p class={'alert' if s.alert else 'note'}>{html.escape(s.text)}</p>")
        if s.rows:
            body.append(_html_table(s.header, s.rows, s.row_kinds, s.name_col))
    if figures:
        body.append("<h2>Figures</h2>")
        for cap, fig in figures.items():
            data = fig if isinstance(fig, str) else figure_png_base64(fig)
            body.append(f'<figure><img alt="{html.escape(cap)}" '
                        f'src="data:image/png;base64,{data}"><figcaption>{html.escape(cap)}'
                        "</figcaption></figure>")
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>allocbench leaderboard {run_id}</title><style>{_CSS}</style></head>"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")
