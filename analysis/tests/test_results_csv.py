import csv

from analysis.__main__ import main
from analysis.load import load_results
from analysis.results_csv import COLUMNS, results_table
from analysis.tests.synthetic import make_doc, make_run, write

MIMALLOC_BENCH = ["benchmark", "allocator", "elapsed", "rss", "user", "sys", "page_faults"]


def test_csv_one_row_per_run_with_benchres_columns_first(tmp_path, capsys):
    d = tmp_path / "run-1"
    runs = [make_run("larson", "halloc", 2, 0, peak_rss=8 << 20),
            make_run("larson", "halloc", 2, 1, status="failed",
                     error="killed by signal 11\nstderr: /a/very/long/path/lib.so: boom"),
            make_run("threadtest", "glibc", 1, 0)]
    del runs[2]["user_seconds"]                      # an older record: empty field, no crash
    write(make_doc(runs), d / "run.json")
    assert main(["csv", str(d)]) == 0
    assert str(d / "results.csv") in capsys.readouterr().out
    with open(d / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:7] == MIMALLOC_BENCH
    assert {"threads", "repetition", "status"} <= set(rows[0])
    assert len(rows) == 3
    r = rows[0]
    assert (r["benchmark"], r["allocator"], r["threads"], r["repetition"]) == \
        ("larson", "halloc", "2", "0")
    assert float(r["elapsed"]) == 0.5 and float(r["rss"]) == 8192.0   # KiB
    assert float(r["user"]) == 0.4 and float(r["sys"]) == 0.05
    assert float(r["page_faults"]) == 6000.0
    assert rows[1]["status"] == "failed" and rows[1]["elapsed"] == ""
    assert rows[1]["error"] == "killed by signal 11 stderr: /a/very/long/path/lib.so: boom"
    assert rows[2]["user"] == ""


def test_results_table_columns(write_json):
    df = load_results([write_json(make_doc([make_run(counters=False)]))])
    t = results_table(df)
    assert list(t.columns) == COLUMNS and t["page_faults"].isna().all()
