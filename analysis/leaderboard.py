"""The grading-style leaderboard: every allocator of a run ranked by a throughput score, with a
memory score beside it. The arithmetic is in pure functions (tested by hand-computed values);
`render_markdown` and `render_html` turn the result into text.

Scores
------
cell        one (workload, threads) pair of the run.
median      per allocator and cell, the median over its successful repetitions (throughput in
            ops/s; peak RSS in bytes).
relative    throughput: median / best median in the cell (1.0 = the fastest);
            memory: smallest peak RSS in the cell / this allocator's (1.0 = the leanest).
failure     an allocator *fails a cell* when any of its repetitions there failed or timed out,
            or when it has no successful repetition there (missing or skipped). A failed cell
            scores FAILURE_FACTOR x the worst successful relative score in that cell, so a
            failure always ranks strictly below every success in that cell. A cell where every
            allocator failed carries no information and is left out of all scores.
score       the geometric mean of the relative scores over all cells (1.0 = best everywhere).
combined    the geometric mean of the throughput score and the memory score.
rank        by throughput score (ties: memory score).
Allocators all of whose runs were skipped (e.g. the .so was not found) are listed, not ranked.
"""
from __future__ import annotations

import base64
import html
import io
import math

import numpy as np
import pandas as pd

from . import summary as S
from .load import FAILED_STATUSES, allocator_kind

FAILURE_FACTOR = 0.5


# ----------------------------------------------------------------------------------------------
# arithmetic

def geometric_mean(values) -> float:
    """exp(mean(log v)); 0 if any value is 0; NaN for an empty input or a negative value."""
    v = np.asarray(list(values), dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0 or (v < 0).any():
        return math.nan
    if (v == 0).any():
        return 0.0
    return float(np.exp(np.mean(np.log(v))))


def ranked_allocators(df: pd.DataFrame) -> list[str]:
    """Allocators with at least one run that was not skipped, in the fixed order."""
    return S.ordered_allocators(df.loc[df["status"] != "skipped", "allocator"].unique())


def cell_medians(df: pd.DataFrame, value: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(medians, failed): two tables indexed by (workload, threads), a column per ranked
    allocator. medians: median of `value` over successful repetitions (NaN: none).
    failed: True where the allocator fails the cell (see the module doc)."""
    allocs = ranked_allocators(df)
    cells = (df[["workload", "threads"]].drop_duplicates()
             .sort_values(["workload", "threads"]))
    order = S.ordered_workloads(cells["workload"].unique())
    cells["w"] = cells["workload"].map(order.index)
    cells = cells.sort_values(["w", "threads"])
    index = pd.MultiIndex.from_frame(cells[["workload", "threads"]])
    ok = df[(df["status"] == "ok") & df[value].notna()]
    med = (ok.groupby(["workload", "threads", "allocator"])[value].median()
           .unstack("allocator").reindex(index=index, columns=allocs))
    bad = (df[df["status"].isin(FAILED_STATUSES)]
           .groupby(["workload", "threads", "allocator"]).size()
           .unstack("allocator").reindex(index=index, columns=allocs))
    failed = bad.notna() | med.isna()
    return med.astype(float), failed


def relative_scores(medians: pd.DataFrame, failed: pd.DataFrame,
                    higher_is_better: bool = True) -> pd.DataFrame:
    """Relative score per cell (rows) and allocator (columns), failures filled as documented.
    Rows where every allocator failed are dropped."""
    rel = pd.DataFrame(np.nan, index=medians.index, columns=medians.columns)
    keep = []
    for idx in medians.index:
        m = medians.loc[idx]
        f = failed.loc[idx]
        good = m[~f & m.notna()]
        if good.empty:
            continue
        keep.append(idx)
        if higher_is_better:
            best = good.max()
            r = good / best if best > 0 else good * 0 + 1.0
        else:
            best = good.min()
            r = best / good
        row = pd.Series(np.nan, index=medians.columns)
        row[r.index] = r
        row[f | m.isna()] = FAILURE_FACTOR * float(r.min())
        rel.loc[idx] = row
    return rel.loc[keep] if keep else rel.iloc[0:0]


def scores(df: pd.DataFrame) -> pd.DataFrame:
    """One row per ranked allocator: rank, kind, throughput_score, memory_score, combined,
    cells, failed_cells; sorted by rank."""
    tmed, tfail = cell_medians(df, "throughput")
    mmed, mfail = cell_medians(df, "peak_rss")
    trel = relative_scores(tmed, tfail, True)
    mrel = relative_scores(mmed, mfail, False)
    rows = []
    for a in tmed.columns:
        t = geometric_mean(trel[a]) if len(trel) else math.nan
        m = geometric_mean(mrel[a]) if len(mrel) else math.nan
        rows.append({"allocator": a, "kind": allocator_kind(a), "throughput_score": t,
                     "memory_score": m, "combined": geometric_mean([t, m]),
                     "cells": int(len(tfail)), "failed_cells": int(tfail[a].sum())})
    out = pd.DataFrame(rows, columns=["allocator", "kind", "throughput_score", "memory_score",
                                      "combined", "cells", "failed_cells"])
    out = out.sort_values(["throughput_score", "memory_score"], ascending=False,
                          na_position="last", kind="mergesort").reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def workload_scores(df: pd.DataFrame, value: str = "throughput") -> pd.DataFrame:
    """Geometric mean of the relative scores per workload: rows allocators, columns workloads."""
    med, fail = cell_medians(df, value)
    rel = relative_scores(med, fail, value == "throughput")
    if rel.empty:
        return pd.DataFrame(index=med.columns)
    out = rel.groupby(level="workload", sort=False).agg(geometric_mean).T
    return out[[w for w in S.ordered_workloads(out.columns)]]


def cell_rows(df: pd.DataFrame, order: list[str]) -> list[list[str]]:
    """Rows of the per-cell table: workload, threads, the best allocator and its median
    throughput, then each allocator's relative throughput (failures marked)."""
    med, failed = cell_medians(df, "throughput")
    rel = relative_scores(med, failed, True)
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
    """Every failed or timed-out run record."""
    f = df[df["status"].isin(FAILED_STATUSES)]
    return f[["workload", "allocator", "threads", "repetition", "status", "exit_status",
              "signal", "error"]].reset_index(drop=True)


def skipped_allocators(df: pd.DataFrame) -> dict[str, str]:
    """Allocators none of whose runs ran, with the reason (harness note or error)."""
    ranked = set(ranked_allocators(df))
    info = df.attrs.get("allocators", {})
    names = set(df["allocator"].unique()) | {n for n, r in info.items()
                                             if isinstance(r, dict) and r.get("found") is False}
    out = {}
    for a in S.ordered_allocators(names - ranked):
        note = (info.get(a) or {}).get("note")
        errs = df.loc[df["allocator"] == a, "error"].dropna()
        out[a] = note or (errs.iloc[0] if len(errs) else "all runs skipped")
    return out


# ----------------------------------------------------------------------------------------------
# rendering

def _f(v, digits=3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _ops(v: float) -> str:
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"


def _numeric_text(text: str) -> bool:
    text = text.removeprefix("FAIL ")
    t = text.replace("/", "").replace(".", "").replace(",", "").replace("-", "")
    return t.isdigit() or text == "n/a"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; columns whose cells are all numbers are right-aligned."""
    esc = [[str(c).replace("|", "\\|").replace("\n", " ") for c in r] for r in rows]
    right = [bool(rows) and all(_numeric_text(r[i]) for r in esc) for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in esc]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]], bold_first: set[str] = frozenset()
                ) -> str:
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
           + "</tr></thead>", "<tbody>"]
    for r in rows:
        cls = ' class="ours"' if any(c in bold_first for c in r[:2]) else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r)
                   + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _sections(df: pd.DataFrame) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, text) for each section: the same content for both renderers."""
    sc = scores(df)
    main_rows = [[str(r.rank), r.allocator, r.kind, _f(r.throughput_score),
                  _f(r.memory_score), _f(r.combined), f"{r.failed_cells}/{r.cells}"]
                 for r in sc.itertuples()]
    tmed, tfail = cell_medians(df, "throughput")
    dropped = int(tfail.all(axis=1).sum()) if len(tfail.columns) else 0
    text = ("Scores are geometric means of per-cell relative scores: 1.000 = best in every "
            "(workload, threads) cell; higher is better for every column. Ranked by "
            "throughput score.")
    if dropped:
        text += (f" {dropped} of {len(tfail)} cell(s) failed for every allocator and are not "
                 "scored" + (" - no cell is left to score this run." if dropped == len(tfail)
                             else "."))
    out = [("Ranking", ["rank", "allocator", "kind", "throughput score", "memory score",
                        "combined", "failed cells"], main_rows, text)]
    for value, title in (("throughput", "Throughput score per workload"),
                         ("peak_rss", "Memory score per workload")):
        ws = workload_scores(df, value)
        if ws.empty or not len(ws.columns):
            continue
        header = ["allocator"] + list(ws.columns)
        rows = [[a] + [_f(ws.loc[a, w]) for w in ws.columns]
                for a in sc["allocator"] if a in ws.index]
        out.append((title, header, rows, "Geometric mean over the thread counts of each "
                    "workload (1.000 = best at every thread count)."))
    crow = cell_rows(df, list(sc["allocator"]))
    if crow:
        out.append(("Throughput per cell, relative to the best", ["workload", "threads",
                    "best (median ops/s)"] + list(sc["allocator"]), crow,
                    "1.000 = the best median in the cell; 'FAIL' = a failed or timed-out "
                    "repetition (or no successful one), scored as the number after it."))
    fl = failures(df)
    frows = [[r.workload, r.allocator, str(r.threads), str(r.repetition), r.status,
              str(r.error or "")[:160]] for r in fl.itertuples()]
    out.append(("Failures", ["workload", "allocator", "threads", "rep", "status", "error"],
                frows, "None: every run succeeded." if not frows else
                f"{len(frows)} failed or timed-out run(s); each makes its allocator fail that "
                f"cell."))
    sk = skipped_allocators(df)
    if sk:
        out.append(("Not ranked (not run)", ["allocator", "reason"],
                    [[a, why] for a, why in sk.items()], ""))
    return out


DEFINITIONS = (
    "Cell = (workload, threads). Per cell and allocator, the median over successful "
    "repetitions. Throughput relative = median / best median in the cell; memory relative = "
    "smallest median peak RSS in the cell / this allocator's. An allocator fails a cell when "
    "any of its repetitions there failed or timed out, or it has no successful one; a failed "
    f"cell scores {FAILURE_FACTOR} x the worst successful relative score in that cell, so a "
    "failure always ranks below every success. Cells where every allocator failed are left "
    "out. Score = geometric mean of the relative scores over all cells; combined = geometric "
    "mean of the throughput and memory scores.")


def _header_lines(df: pd.DataFrame) -> list[str]:
    m = df.attrs.get("machine") or {}
    c = df.attrs.get("config") or {}
    reps = int(df.groupby(["workload", "allocator", "threads"]).size().max()) if len(df) else 0
    threads = sorted(df["threads"].unique())
    return [
        f"Machine: {S.machine_line(m)}; compiler {m.get('compiler', 'n/a')}; "
        f"commit {str(m.get('git_commit') or 'n/a')[:12]}; date {m.get('date', 'n/a')}.",
        f"Workloads: {', '.join(S.ordered_workloads(df['workload'].unique()))}. "
        f"Threads: {', '.join(map(str, threads))}. Repetitions: up to {reps} per cell"
        + (f"; duration {c['duration_s']} s" if c.get("duration_s") is not None else "") + ".",
    ]


def render_markdown(df: pd.DataFrame, figure_links: dict[str, str] | None = None) -> str:
    """The leaderboard as Markdown; figure_links maps a caption to a relative image path."""
    run_id = df.attrs.get("run_id", "")
    parts = [f"# Allocator leaderboard: run {run_id}", ""] + _header_lines(df) + [""]
    for title, header, rows, text in _sections(df):
        parts += [f"## {title}", ""]
        if text:
            parts += [text, ""]
        if rows:
            parts += [_md_table(header, rows), ""]
    if figure_links:
        parts += ["## Figures", ""]
        parts += [f"![{cap}]({path})" for cap, path in figure_links.items()]
        parts.append("")
    parts += ["## How the scores are computed", "", DEFINITIONS, ""]
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}
thead{background:#f2f2f2} tr.ours{font-weight:bold;background:#fff4f0}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
figure{margin:1em 0} figcaption{font-size:0.9em;color:#555}
p.note{color:#555;font-size:0.95em}
"""


def figure_png_base64(fig, dpi: int = 90) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(df: pd.DataFrame, figures: dict | None = None) -> str:
    """One self-contained HTML page: the tables and the figures as embedded base64 PNGs.
    `figures` maps a caption to a matplotlib Figure (or to already base64-encoded PNG text)."""
    run_id = html.escape(str(df.attrs.get("run_id", "")))
    ours = {a for a in df["allocator"].unique() if allocator_kind(a) == "halloc"}
    body = [f"<h1>Allocator leaderboard: run {run_id}</h1>"]
    body += [f"<p class=note>{html.escape(line)}</p>" for line in _header_lines(df)]
    for title, header, rows, text in _sections(df):
        body.append(f"<h2>{html.escape(title)}</h2>")
        if text:
            body.append(f"<p class=note>{html.escape(text)}</p>")
        if rows:
            body.append(_html_table(header, rows, ours))
    if figures:
        body.append("<h2>Figures</h2>")
        for cap, fig in figures.items():
            data = fig if isinstance(fig, str) else figure_png_base64(fig)
            body.append(f'<figure><img alt="{html.escape(cap)}" '
                        f'src="data:image/png;base64,{data}"><figcaption>{html.escape(cap)}'
                        "</figcaption></figure>")
    body += ["<h2>How the scores are computed</h2>", f"<p>{html.escape(DEFINITIONS)}</p>"]
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>allocbench leaderboard {run_id}</title><style>{_CSS}</style></head>"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")
