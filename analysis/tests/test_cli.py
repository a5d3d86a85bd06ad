import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import paper as P
from analysis.__main__ import main
from analysis.figures import run_figures
from analysis.load import load_results
from analysis.tests import synthetic

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("results") / "20261126-041000"
    doc = synthetic.sweep(workloads=("larson", "prodcons"),
                          allocators=("halloc", "glibc", "student"), threads=(1, 2), reps=2,
                          fail={("larson", "student", 2)}, counters=False)
    synthetic.write(doc, d / "run.json")
    return d


def _ok_png(p: Path):
    data = p.read_bytes()
    assert data[:8] == PNG_MAGIC, p
    assert len(data) > 2000, p


def test_plots_writes_png_and_svg(run, capsys):
    assert main(["plots", str(run)]) == 0
    out = capsys.readouterr().out
    figs = run / "figures"
    for stem in ("overview", "throughput-larson", "speedup-larson", "memory",
                 "timeline-prodcons", "counters"):
        _ok_png(figs / f"{stem}.png")
        svg = (figs / f"{stem}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        assert str(figs / f"{stem}.png") in out


def test_leaderboard_writes_md_and_self_contained_html(run, capsys):
    assert main(["leaderboard", str(run)]) == 0
    out = capsys.readouterr().out
    md = (run / "leaderboard.md").read_text()
    page = (run / "leaderboard.html").read_text()
    assert str(run / "leaderboard.html") in out
    assert re.search(r"\| 3 \| student \| user \|", md)   # the failing .so ranks last
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(imgs) >= 3
    import base64
    assert base64.b64decode(imgs[0])[:8] == PNG_MAGIC
    assert 'src="http' not in page and "<link" not in page   # nothing outside the page


def test_paper_writes_figures_and_table(run, capsys):
    assert main(["paper", str(run), "--out", str(run / "elsewhere")]) == 0
    out = capsys.readouterr().out
    p = run / "elsewhere" / "paper"   # --out replaces RUN_DIR as the base
    for stem in ("paper-comparison", "paper-larson"):
        _ok_png(p / f"{stem}.png")
        assert (p / f"{stem}.svg").stat().st_size > 0
    # the run has larson and prodcons only: no empty panels for the paper's other workloads
    for stem in ("paper-threadtest", "paper-cache-thrash", "paper-cache-scratch",
                 "paper-shbench", "paper-barnes-hut"):
        assert not (p / f"{stem}.png").exists()
    df = load_results([run])
    assert P.keys_run(df) == ["Larson"]
    assert len(P.overview_comparison_figure(df, P.load_paper()).axes) == 2
    t4 = (p / "paper-table4.md").read_text()
    assert "Table 4" in t4 and "| Larson |" in t4 and "| threadtest |" not in t4
    assert "Not run here, so not shown: threadtest (threadtest), shbench (shbench)" in t4
    for table, says in (("table2", "Table 2"), ("table3", "--trace-sharing"),
                        ("table5-6", "Table 6"), ("verdicts", "Fig 3a")):
        assert says in (p / f"paper-{table}.md").read_text(), table
    assert str(p / "paper-table4.md") in out


def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys):
    bad = tmp_path / "run1"
    bad.mkdir()
    (bad / "run.json").write_text('{"schema": "allocbench-1", "machine": {}, "runs": [{"wor')
    assert main(["plots", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err and "truncated" in err
    assert main(["leaderboard", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (bad / "figures").exists()


def test_module_entry_point_usage_error():
    # argparse rejects an unknown command with exit status 2 (the CLI is `python3 -m analysis`)
    r = subprocess.run([sys.executable, "-m", "analysis", "frobnicate", "x"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_commands_survive_a_run_where_everything_failed(tmp_path, capsys):
    d = tmp_path / "allfailed"
    runs = [synthetic.make_run("larson", "halloc", 1, 0, status="failed"),
            synthetic.make_run("prodcons", "glibc", 1, 0, status="timeout"),
            synthetic.make_run("larson", "tbbmalloc", 1, 0, status="skipped",
                               error="libtbbmalloc.so.2 not found")]
    synthetic.write(synthetic.make_doc(runs), d / "run.json")
    # the CLI once (the cheapest command); every figure drawn in memory, at a low dpi
    assert main(["leaderboard", str(d)]) == 0
    df = load_results([d])
    paper = P.load_paper()
    figs = list(run_figures(df).values()) + [P.comparison_figure(df, paper, "Larson")]
    for fig in figs:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=30)
        assert buf.getvalue()[:8] == PNG_MAGIC
    md = (d / "leaderboard.md").read_text()
    assert "tbbmalloc" in md and "not found" in md
