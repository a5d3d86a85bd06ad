"""One pure function per figure: a results table in (from load.load_results), a matplotlib
Figure out, no I/O. Every figure uses the same order, colour and marker per allocator
(summary.allocator_styles), says in its title whether higher or lower is better, marks failed
runs with an x on the bottom edge instead of dropping them, and carries a footnote when the
repetitions of a point vary by more than 10%."""
from __future__ import annotations

import math
import textwrap
from collections import Counter

import matplotlib
import matplotlib.patches  # noqa: F401

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

from . import summary as S  # noqa: E402
from .conditions import alerts  # noqa: E402
from .load import FAILED_STATUSES, counter_names  # noqa: E402

FAILED_MARK = {"marker": "x", "s": 60, "linewidths": 2.0, "zorder": 5, "clip_on": False}


# ----------------------------------------------------------------------------------------------
# helpers

def _new_figure(width: float, height: float) -> Figure:
    # Figure() directly, not pyplot: nothing is kept alive in pyplot's registry.
    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig: Figure, notes: list[str], width_chars: int | None = None,
            legend_styles: dict | None = None, legend_handles: list | None = None) -> Figure:
    """Put footnotes under the axes (and optionally one legend for the whole figure above
    them), reserving room for both in the layout."""
    width_chars = width_chars or int(fig.get_figwidth() * 17)
    lines: list[str] = []
    for n in notes:
        lines += textwrap.wrap(n, width_chars) or [""]
    height_in = fig.get_figheight()
    bottom = min(0.45, (len(lines) * 0.15 + 0.08) / height_in) if lines else 0.0
    top = 0.0
    handles = list(legend_handles or [])
    if legend_styles:
        handles += [plt.Line2D([], [], color=st["color"], marker=st["marker"],
                               linestyle=st["linestyle"], label=st.get("label", a))
                    for a, st in legend_styles.items()]
        handles.append(plt.Line2D([], [], color="#444444", marker="x", linestyle="none",
                                  label="failed run"))
    if handles:
        ncol = min(len(handles), 9)
        rows = math.ceil(len(handles) / ncol)
        y = 1.0
        if fig._suptitle is not None:  # title first, the legend under it
            fig._suptitle.set_y(1.0 - 0.04 / height_in)
            fig._suptitle.set_va("top")
            y = 1.0 - 0.3 / height_in
        top = 1.0 - y + (rows * 0.22 + 0.1) / height_in
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, y), ncol=ncol,
                   fontsize=8, frameon=False)
    if lines or handles:
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom - top))
    if lines:
        fig.text(0.01, bottom - 0.02 / height_in, "\n".join(lines), fontsize=7.5, va="top",
                 ha="left", color="#333333")
    return fig


def _threads_axis(ax, threads) -> None:
    threads = sorted({int(t) for t in threads})
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(threads))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    if len(threads) == 1:
        ax.set_xlim(threads[0] / 1.5, threads[0] * 1.5)
    ax.set_xlabel("threads (log2 scale)")


def _scale(values) -> tuple[float, str]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    top = max(finite) if finite else 1.0
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if top >= scale:
            return scale, unit
    return 1.0, ""


def _mark_failures(ax, xs, style, label=None) -> None:
    """An x on the bottom edge of the axes at each x where the allocator failed."""
    if len(xs) == 0:
        return
    ax.scatter(xs, [0.0] * len(xs), transform=ax.get_xaxis_transform(), color=style["color"],
               label=label, **FAILED_MARK)


def _present(df: pd.DataFrame) -> list[str]:
    """Allocators with at least one run that was not skipped, in the fixed order."""
    ran = df.loc[df["status"] != "skipped", "allocator"].unique()
    return S.ordered_allocators(ran)


def _styles(df: pd.DataFrame) -> dict[str, dict]:
    """The fixed styles of the allocators present, each with its legend label: an allocator
    that failed the correctness gate is labelled "(INCORRECT)" (its curve is drawn, but is not
    a result to compare)."""
    styles = S.allocator_styles(_present(df))
    info = df.attrs.get("allocators") or {}
    for a, st in styles.items():
        check = (info.get(a) or {}).get("check")
        bad = isinstance(check, dict) and check.get("passed") is False
        st["label"] = f"{a} (INCORRECT)" if bad else a
    return styles


def _skipped_note(df: pd.DataFrame) -> list[str]:
    allocs = set(df["allocator"].unique())
    ran = set(df.loc[df["status"] != "skipped", "allocator"].unique())
    gone = S.ordered_allocators(allocs - ran)
    if not gone:
        return []
    reasons = []
    for a in gone:
        err = df.loc[df["allocator"] == a, "error"].dropna()
        reasons.append(f"{a} ({err.iloc[0]})" if len(err) else a)
    return ["not run (skipped): " + "; ".join(reasons)]


def _variation_note(stats: pd.DataFrame, what: str) -> list[str]:
    warns = S.variation_warnings(stats)
    if not warns:
        return []
    shown = "; ".join(warns[:4]) + (f"; +{len(warns) - 4} more" if len(warns) > 4 else "")
    return [f"warning: {what} repetitions vary by more than "
            f"{100 * S.VARIATION_THRESHOLD:.0f}% (max-min over median) in {len(warns)} "
            f"point(s): {shown}"]


def _failure_note(stats: pd.DataFrame) -> list[str]:
    bad = stats[stats["n_failed"] > 0]
    if bad.empty:
        return []
    items = [f"{r.allocator}@{r.threads}t ({r.n_failed}/{r.n})" for r in bad.itertuples()]
    shown = ", ".join(items[:6]) + (f", +{len(items) - 6} more" if len(items) > 6 else "")
    return [f"x on the bottom edge = failed or timed-out runs: {shown}"]


def _legend(ax, outside: bool = True, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if outside:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  frameon=False, **kw)
    else:
        ax.legend(handles, labels, fontsize=8, **kw)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10,
            color="#666666", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_curves(ax, stats: pd.DataFrame, styles: dict, col: str = "median",
                 lo: str = "q1", hi: str = "q3", scale: float = 1.0,
                 failures: bool = True) -> None:
    """A line per allocator (median) with an interquartile band; failures as x on the bottom
    edge."""
    for a in styles:
        g = stats[stats["allocator"] == a].sort_values("threads")
        if g.empty:
            continue
        st = styles[a]
        ok = g[g[col].notna()]
        if len(ok):
            ax.plot(ok["threads"], ok[col] / scale, label=st.get("label", a), color=st["color"],
                    marker=st["marker"], linestyle=st["linestyle"], markersize=5, linewidth=1.6)
            if lo and len(ok) > 0 and (ok[hi] > ok[lo]).any():
                ax.fill_between(ok["threads"], ok[lo] / scale, ok[hi] / scale,
                                color=st["color"], alpha=0.15 if len(styles) <= 4 else 0.09,
                                linewidth=0)
        if failures:
            failed = g[g["n_failed"] > 0]["threads"].tolist()
            _mark_failures(ax, failed, st, label=None if len(ok) else f"{a} (failed)")


# ----------------------------------------------------------------------------------------------
# throughput and speedup

def throughput_figure(df: pd.DataFrame, workload: str) -> Figure:
    """Throughput against threads for one workload: median line and interquartile band per
    allocator."""
    d = df[df["workload"] == workload]
    stats = S.cell_stats(d, "throughput")
    styles = _styles(d)
    fig = _new_figure(8.0, 4.8)
    ax = fig.add_subplot()
    if stats["median"].notna().sum() == 0:
        _empty(ax, f"no successful {workload} runs")
    scale, unit = _scale(stats["max"].tolist())
    _draw_curves(ax, stats, styles, scale=scale)
    _threads_axis(ax, d["threads"].unique())
    ax.set_ylabel(f"throughput ({unit}ops/s)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{workload}: throughput vs threads (higher is better)\n"
                 "line = median over repetitions, band = interquartile range", fontsize=10)
    _legend(ax)
    notes = _failure_note(stats) + _variation_note(stats, "throughput") + _skipped_note(d)
    return _finish(fig, notes)


def speedup_figure(df: pd.DataFrame, workload: str, cores: int | None = None) -> Figure:
    """Two panels: speedup over the allocator's own 1-thread run, and over glibc's 1-thread run
    (the paper's baseline style)."""
    d = df[df["workload"] == workload]
    stats = S.cell_stats(d, "throughput")
    styles = _styles(d)
    cores = cores or (df.attrs.get("machine") or {}).get("cores")
    fig = _new_figure(12.0, 4.8)
    axes = fig.subplots(1, 2)
    threads = sorted(d["threads"].unique())
    t0 = threads[0] if threads else 1
    panels = [(S.speedups(stats, None), f"over its own {t0}-thread run"),
              (S.speedups(stats, "glibc"), f"over glibc at {t0} thread(s)")]
    notes = []
    for ax, (sp, what) in zip(axes, panels):
        if sp["speedup"].notna().sum() == 0:
            _empty(ax, "no baseline: glibc has no successful\n"
                   f"{t0}-thread {workload} run" if "glibc" in what else "no data")
        _draw_curves(ax, sp, styles, col="speedup", lo="speedup_q1", hi="speedup_q3")
        if threads:
            ideal = [min(t, cores) / t0 if cores else t / t0 for t in threads]
            ax.plot(threads, ideal, color="#999999", linestyle=":", linewidth=1.2,
                    label=f"ideal on {cores} cores" if cores else "ideal (linear)")
        _threads_axis(ax, threads)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("speedup (x)")
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{workload}: speedup {what}\n(higher is better)", fontsize=10)
    _legend(axes[1])
    if cores and threads and max(threads) > cores:
        notes.append(f"This machine has {cores} cores: above {cores} threads the runs are "
                     "oversubscribed, so flat curves there are expected.")
    notes += _failure_note(stats) + _variation_note(stats, "throughput")
    return _finish(fig, notes)


# ----------------------------------------------------------------------------------------------
# memory

def bar_legend_handles(stats: pd.DataFrame, styles: dict) -> list:
    """A legend patch per allocator in its own colour; an allocator with no successful run
    (no bar anywhere) gets a hollow, hatched patch that says so, never another's colour."""
    handles = []
    for a, st in styles.items():
        has = stats.loc[stats["allocator"] == a, "median"].notna().any()
        if has:
            handles.append(matplotlib.patches.Patch(facecolor=st["color"],
                                                    label=st.get("label", a)))
        else:
            handles.append(matplotlib.patches.Patch(
                facecolor="none", edgecolor=st["color"], hatch="///",
                label=f"{st.get('label', a)} (no successful run)"))
    return handles


def _grouped_bars(ax, stats: pd.DataFrame, styles: dict, workloads: list[str],
                  scale: float = 1.0, log: bool = False) -> None:
    allocs = list(styles)
    n = max(1, len(allocs))
    width = 0.8 / n
    x = np.arange(len(workloads))
    for i, a in enumerate(allocs):
        g = stats[stats["allocator"] == a].set_index("workload")
        xs = x - 0.4 + width * (i + 0.5)
        med = np.array([g["median"].get(w, np.nan) for w in workloads], dtype=float) / scale
        lo = np.array([g["q1"].get(w, np.nan) for w in workloads], dtype=float) / scale
        hi = np.array([g["q3"].get(w, np.nan) for w in workloads], dtype=float) / scale
        ok = ~np.isnan(med)
        if ok.any():  # an empty bar call would still add a legend entry, in the default colour
            ax.bar(xs[ok], med[ok], width=width * 0.95, color=styles[a]["color"],
                   yerr=np.vstack([med[ok] - lo[ok], hi[ok] - med[ok]]), capsize=1.5,
                   error_kw={"linewidth": 0.8, "ecolor": "#333333"})
        failed = [xs[j] for j, w in enumerate(workloads)
                  if g["n_failed"].get(w, 0) > 0]
        _mark_failures(ax, failed, styles[a])
    ax.set_xticks(x)
    ax.set_xticklabels(workloads, rotation=0 if len(workloads) < 5 else 20, ha="center" if
                       len(workloads) < 5 else "right")
    if log:
        ax.set_yscale("log")
    ax.grid(True, axis="y", alpha=0.3)


def _allocator_bars(ax, g: pd.DataFrame, styles: dict) -> None:
    """One workload's bars, one per allocator in the fixed order and colour (median, whisker
    interquartile range), on the axes' own scale; an x where the allocator failed; no x labels (the
    figure's legend names the colours)."""
    g = g.set_index("allocator")
    allocs = list(styles)
    xs = np.arange(len(allocs))
    med = np.array([g["median"].get(a, np.nan) for a in allocs], dtype=float)
    lo = np.array([g["q1"].get(a, np.nan) for a in allocs], dtype=float)
    hi = np.array([g["q3"].get(a, np.nan) for a in allocs], dtype=float)
    ok = ~np.isnan(med)
    if ok.any():
        ax.bar(xs[ok], med[ok], width=0.8,
               color=[styles[a]["color"] for a in np.array(allocs)[ok]],
               yerr=np.vstack([med[ok] - lo[ok], hi[ok] - med[ok]]), capsize=1.5,
               error_kw={"linewidth": 0.8, "ecolor": "#333333"})
    else:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", color="#666666",
                fontsize=8)
    for j, a in enumerate(allocs):
        if g["n_failed"].get(a, 0) > 0:
            _mark_failures(ax, [xs[j]], styles[a])
    ax.axhline(0.0, color="#444444", linewidth=0.6)
    ax.set_xticks([])
    ax.set_xlim(-0.7, len(allocs) - 0.3)
    ax.tick_params(labelsize=7)
    ax.grid(True, axis="y", alpha=0.3)


def memory_figure(df: pd.DataFrame) -> Figure:
    """Memory blowup (a small panel per workload, each on its own scale) and peak RSS per
    workload and allocator, at each workload's largest thread count (bars = median over
    repetitions, whiskers = interquartile range)."""
    d = df
    workloads = S.ordered_workloads(d["workload"].unique())
    styles = _styles(d)
    n = max(1, len(workloads))
    fig = _new_figure(max(9.0, 1.9 * n + 2.5), 7.5)
    mosaic = [[f"b:{w}" for w in workloads] or ["b:"], ["rss"] * n]
    axd = fig.subplot_mosaic(mosaic, height_ratios=[1, 1.2])
    bl = S.max_threads_stats(S.cell_stats(d, "blowup"))
    rss = S.max_threads_stats(S.cell_stats(d, "peak_rss"))
    tmax = d.groupby("workload")["threads"].max()
    tdesc = ", ".join(f"{w} {tmax[w]}" for w in workloads)
    for i, w in enumerate(workloads):
        ax = axd[f"b:{w}"]
        _allocator_bars(ax, bl[bl["workload"] == w], styles)
        ax.set_title(w, fontsize=9)
        if i == 0:
            ax.set_ylabel("blowup (x)", fontsize=8)
    fig.suptitle("memory blowup = (peak RSS - baseline RSS) / peak live bytes, own scale per "
                 "workload (lower is better)", fontsize=10)
    ax = axd["rss"]
    if rss["median"].notna().any():
        _grouped_bars(ax, rss, styles, workloads, scale=float(1 << 20))
    else:
        _empty(ax, "no peak RSS values")
    ax.set_ylabel("peak RSS (MiB)")
    ax.set_title("peak resident set size (lower is better)", fontsize=10)
    ax.legend(handles=bar_legend_handles(rss, styles), loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    notes = [f"At the largest thread count of each workload ({tdesc}); bar = median over "
             "repetitions, whisker = interquartile range. Blowup is large where the workload "
             "holds little live memory (a few KiB in cache-scratch/cache-thrash), and can be "
             "below 0 when the peak RSS stays under the idle baseline."]
    notes += _failure_note(rss) + _variation_note(rss, "peak RSS") + _skipped_note(d)
    return _finish(fig, notes)


def _representative(g: pd.DataFrame) -> pd.Series | None:
    """The successful repetition with the median peak RSS (the one a timeline shows)."""
    ok = g[(g["status"] == "ok") & g["samples"].map(len).gt(0)]
    if ok.empty:
        return None
    ok = ok.sort_values("peak_rss")
    return ok.iloc[(len(ok) - 1) // 2]


def timeline_figure(df: pd.DataFrame, workload: str = "prodcons") -> Figure:
    """RSS and live bytes over time (the memory samples) for one workload at its largest thread
    count: a panel per allocator (same y scale), RSS as a line in the allocator's colour, the
    live bytes the workload holds as a grey area; the gap between them is the allocator's
    overhead. One repetition per allocator: the one with the median peak RSS."""
    d = df[df["workload"] == workload]
    styles = _styles(d)
    if d.empty or not styles:
        fig = _new_figure(8.0, 3.0)
        _empty(fig.add_subplot(), f"no {workload} runs in this results set")
        return fig
    tmax = int(d["threads"].max())
    d = d[d["threads"] == tmax]
    n = len(styles)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig = _new_figure(3.4 * ncols + 0.5, 2.6 * nrows + 1.0)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    notes = []
    top = 0.0
    for ax, (a, st) in zip(axes, styles.items()):
        ax.set_title(a, fontsize=9, color=st["color"])
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
        rep = _representative(d[d["allocator"] == a])
        if rep is None:
            failed = d[(d["allocator"] == a)]["status"].isin(FAILED_STATUSES).any()
            ax.text(0.5, 0.5, f"failed at {tmax} threads" if failed else "no samples",
                    transform=ax.transAxes, ha="center", va="center", color="#aa0000"
                    if failed else "#666666")
            continue
        t = np.array([s.get("t", np.nan) for s in rep["samples"]], dtype=float)
        # the sampler writes -1 where it could not read a value
        rss = np.array([s.get("rss_bytes") if (s.get("rss_bytes") or 0) >= 0 else np.nan
                        for s in rep["samples"]], dtype=float) / (1 << 20)
        live = np.array([s.get("live_bytes") if (s.get("live_bytes") or 0) >= 0 else np.nan
                         for s in rep["samples"]], dtype=float) / (1 << 20)
        ax.fill_between(t, 0, live, color="#bbbbbb", alpha=0.8, linewidth=0, step="post",
                        label="live bytes")
        ax.plot(t, rss, color=st["color"], linewidth=1.6, label="RSS")
        top = np.nanmax(np.concatenate([rss, live, [top]]))
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[:n]:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("MiB", fontsize=8)
        ax.set_xlabel("time (s)", fontsize=8)
    handles = [plt.Line2D([], [], color="#444444", linewidth=1.6, label="RSS (allocator colour)"),
               matplotlib.patches.Patch(color="#bbbbbb", label="live bytes (the workload's)")]
    axes[0].set_ylim(0, top * 1.08 if top > 0 else 1.0)  # shared by every panel
    fig.suptitle(f"{workload} at {tmax} threads: resident memory (line) over the bytes the "
                 "workload holds (grey); lower RSS is better", fontsize=10)
    notes.append("One repetition per allocator (the one with the median peak RSS). Time axes "
                 "differ: the work is the same, so a faster allocator's run is shorter.")
    return _finish(fig, notes, legend_handles=handles)


# ----------------------------------------------------------------------------------------------
# perf counters

def _common_reason(df: pd.DataFrame, names) -> str:
    """The most frequent reason the harness gave for a missing counter (names=None: any)."""
    reasons = Counter(r for m in df["counters_unavailable"] for k, r in m.items()
                      if names is None or k in names)
    return reasons.most_common(1)[0][0] if reasons else ""


def counters_figure(df: pd.DataFrame) -> Figure:
    """Each available perf counter divided by the operations the workload counted, per workload
    and allocator, at the largest thread count (lower is better)."""
    names = counter_names(df)
    workloads = S.ordered_workloads(df["workload"].unique())
    styles = _styles(df)
    if not names:
        fig = _new_figure(8.0, 3.0)
        ax = fig.add_subplot()
        why = _common_reason(df[df["status"] == "ok"], None)
        why = "\n".join(textwrap.wrap(why, 80)) if why else "the results hold no counter values"
        _empty(ax, f"no perf counters in this run\n{why}")
        ax.set_title("perf counters per operation (lower is better)", fontsize=10)
        return fig
    nrows, ncols = len(names), len(workloads)
    fig = _new_figure(max(8.0, 1.7 * ncols + 1.5), 1.9 * nrows + 1.4)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, name in enumerate(names):
        d = df.copy()
        d["per_op"] = d[f"counter.{name}"] / d["ops"]
        st = S.max_threads_stats(S.cell_stats(d, "per_op"))
        for j, w in enumerate(workloads):
            ax = axes[i][j]
            _allocator_bars(ax, st[st["workload"] == w], styles)
            if i == 0:
                ax.set_title(w, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{name}\nper op", fontsize=8)
    fig.suptitle("perf counters per operation, own scale per panel (lower is better)",
                 fontsize=10)
    missing = sorted({k for m in df["counters_unavailable"] for k in m} - set(names))
    notes = ["At the largest thread count of each workload; counters cover the whole child "
             "process, divided by the operations the workload counted."]
    if missing:
        why = _common_reason(df[df["status"] == "ok"], missing)
        notes.append("unavailable: " + ", ".join(missing) + (f" ({why})" if why else ""))
    return _finish(fig, notes, legend_styles=styles)


# ----------------------------------------------------------------------------------------------
# overview

def overview_figure(df: pd.DataFrame) -> Figure:
    """One page: throughput against threads for every workload, and peak RSS at the largest
    thread count, with one shared legend."""
    workloads = S.ordered_workloads(df["workload"].unique())
    styles = _styles(df)
    n = len(workloads) + 2  # + peak RSS panel + legend panel
    ncols = 3 if n > 4 else 2
    nrows = math.ceil(n / ncols)
    fig = _new_figure(4.2 * ncols, 3.3 * nrows + 0.9)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    noisy: list[str] = []
    for ax, w in zip(axes, workloads):
        d = df[df["workload"] == w]
        stats = S.cell_stats(d, "throughput")
        scale, unit = _scale(stats["median"].tolist())
        _draw_curves(ax, stats, styles, scale=scale, lo=None)  # bands: per-workload figures
        _threads_axis(ax, d["threads"].unique())
        ax.set_xlabel("threads", fontsize=8)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(f"{unit}ops/s", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{w} throughput (higher is better)", fontsize=9)
        if (stats["spread"] > S.VARIATION_THRESHOLD).any():
            noisy.append(w)
    ax = axes[len(workloads)]
    rss = S.max_threads_stats(S.cell_stats(df, "peak_rss"))
    if rss["median"].notna().any():
        _grouped_bars(ax, rss, styles, workloads, scale=float(1 << 20))
        ax.tick_params(labelsize=7)
    else:
        _empty(ax, "no peak RSS values")
    ax.set_ylabel("MiB", fontsize=8)
    ax.set_title("peak RSS at max threads (lower is better)", fontsize=9)
    legend_ax = axes[len(workloads) + 1]
    legend_ax.axis("off")
    for extra in axes[len(workloads) + 2:]:
        extra.set_visible(False)
    handles = [plt.Line2D([], [], color=st["color"], marker=st["marker"],
                          linestyle=st["linestyle"], label=st.get("label", a))
               for a, st in styles.items()]
    handles.append(plt.Line2D([], [], color="#444444", marker="x", linestyle="none",
                              label="failed run"))
    legend_ax.legend(handles=handles, loc="center", fontsize=9, frameon=False,
                     ncol=2 if len(handles) > 7 else 1, title="allocator")
    machine = df.attrs.get("machine") or {}
    run_id = df.attrs.get("run_id", "")
    fig.suptitle(f"allocbench run {run_id}: {S.machine_line(machine)}", fontsize=10)
    notes = alerts(df) + ["Lines: median over repetitions (the per-workload figures add "
                          "interquartile bands); x: failed runs."]
    if noisy:
        notes.append(f"warning: some repetitions vary by more than "
                     f"{100 * S.VARIATION_THRESHOLD:.0f}% in {', '.join(noisy)} "
                     "(see the per-workload figures).")
    notes += _skipped_note(df)
    return _finish(fig, notes)


# ----------------------------------------------------------------------------------------------
# microbenchmarks

def micro_figure(df: pd.DataFrame) -> Figure:
    """The microbenchmarks' time per iteration: a group of horizontal bars per benchmark, one
    bar per allocator, log scale (lower is better). Allocators whose micro run is not a
    measurement (it failed, or the allocator failed the correctness gate) are named in a
    footnote, never drawn."""
    from .micro import micro_problems, micro_table
    table = micro_table(df)
    problems = micro_problems(df)
    if table.empty:
        fig = _new_figure(8.0, 3.0)
        ax = fig.add_subplot()
        _empty(ax, "no microbenchmark results in this run")
        ax.set_title("microbenchmarks: time per iteration (lower is better)", fontsize=10)
        return _finish(fig, [f"not measured: {a}: {why}" for a, why in problems.items()])
    styles = S.allocator_styles(table.columns)
    n, k = len(table.index), len(styles)
    fig = _new_figure(10.0, min(30.0, 0.08 * n * k + 0.3 * n + 1.5))
    ax = fig.add_subplot()
    height = 0.8 / k
    ys = np.arange(n)
    for i, (a, st) in enumerate(styles.items()):
        vals = table[a].to_numpy(dtype=float)
        ok = ~np.isnan(vals)
        ax.barh(ys[ok] - 0.4 + height * (i + 0.5), vals[ok], height=height * 0.95,
                color=st["color"], label=a)
    ax.set_yticks(ys)
    ax.set_yticklabels(table.index, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ns per iteration (Google Benchmark real time, log scale)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title("microbenchmarks: time per iteration (lower is better)", fontsize=10)
    _legend(ax)
    notes = [f"not measured: {a}: {why}" for a, why in problems.items()]
    return _finish(fig, notes)


# ----------------------------------------------------------------------------------------------
# the set of figures for a run

def run_figures(df: pd.DataFrame) -> dict[str, Figure]:
    """Every figure of a run, keyed by file stem, in a fixed order."""
    out: dict[str, Figure] = {"overview": overview_figure(df)}
    workloads = S.ordered_workloads(df["workload"].unique())
    for w in workloads:
        out[f"throughput-{w}"] = throughput_figure(df, w)
    for w in workloads:
        out[f"speedup-{w}"] = speedup_figure(df, w)
    out["memory"] = memory_figure(df)
    if "prodcons" in workloads:
        out["timeline-prodcons"] = timeline_figure(df, "prodcons")
    out["counters"] = counters_figure(df)
    if df.attrs.get("micro"):
        out["micro"] = micro_figure(df)
    return out
