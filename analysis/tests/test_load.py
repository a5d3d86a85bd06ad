import json
import math

import pytest

from analysis.load import SchemaError, load_results, validate_document
from analysis.tests.synthetic import make_check, make_doc, make_run, sweep, write


def test_good_file_one_row_per_run(write_json):
    doc = make_doc([make_run("larson", "halloc", 1, 0), make_run("larson", "halloc", 2, 0),
                    make_run("larson", "glibc", 1, 0)])
    df = load_results([write_json(doc)])
    assert len(df) == 3
    assert set(df["allocator"]) == {"halloc", "glibc"}
    assert df["threads"].dtype.kind == "i"
    assert df["throughput"].dtype.kind == "f"
    assert (df["status"] == "ok").all()
    assert not df["failed"].any()
    assert df.attrs["machine"]["cores"] == 2
    assert df.attrs["config"]["threads"] == [1, 2]


def test_columns_follow_schema_values(write_json):
    run = make_run("threadtest", "jemalloc", 4, 1, throughput=2.5e6, peak_rss=10 << 20)
    df = load_results(write_json(make_doc([run])))
    r = df.iloc[0]
    assert r["throughput"] == 2.5e6
    assert r["peak_rss"] == float(10 << 20)
    assert r["blowup"] == pytest.approx(((10 << 20) - (2 << 20)) / (1 << 20))
    assert r["repetition"] == 1
    assert len(r["samples"]) == 6
    assert r["counter.cycles"] == 1000.0


def test_truncated_file_says_truncated(write_json):
    text = json.dumps(sweep(), indent=1)
    path = write_json(None, raw=text[: len(text) // 2])
    with pytest.raises(SchemaError) as err:
        load_results([path])
    msg = str(err.value)
    assert str(path) in msg
    assert "invalid JSON" in msg and "truncated" in msg


def test_empty_file(write_json):
    path = write_json(None, raw="")
    with pytest.raises(SchemaError, match="empty"):
        load_results([path])


def test_wrong_schema_version(write_json):
    doc = make_doc([make_run()])
    doc["schema"] = "allocbench-2"
    with pytest.raises(SchemaError) as err:
        load_results([write_json(doc)])
    assert '"allocbench-2"' in str(err.value) and "allocbench-1" in str(err.value)


def test_missing_top_level_and_run_keys(write_json):
    doc = make_doc([make_run()])
    del doc["machine"]
    del doc["runs"][0]["threads"]
    with pytest.raises(SchemaError) as err:
        load_results([write_json(doc)])
    problems = err.value.problems
    assert 'missing key "machine"' in problems
    assert any('runs[0]' in p and 'missing key "threads"' in p for p in problems)


def test_wrong_types_are_named(write_json):
    runs = [make_run(), make_run(repetition=1), make_run(repetition=2)]
    runs[0]["throughput_ops_per_s"] = "1234.5"          # string, not number
    runs[1]["threads"] = True                           # bool is not an int
    runs[2]["counters"]["cycles"] = "many"
    with pytest.raises(SchemaError) as err:
        load_results([write_json(make_doc(runs))])
    msg = str(err.value)
    assert 'runs[0]' in msg and '"throughput_ops_per_s" must be number, got str "1234.5"' in msg
    assert 'runs[1]' in msg and '"threads" must be int' in msg
    assert 'counter "cycles" must be a number or null' in msg


def test_bad_status_and_ok_without_throughput():
    runs = [make_run(status="crashed"), make_run(repetition=1)]
    runs[1]["throughput_ops_per_s"] = None
    problems = validate_document(make_doc(runs))
    assert any('"status" is "crashed"' in p for p in problems)
    assert any('status is "ok" but "throughput_ops_per_s" is null' in p for p in problems)


def test_top_level_not_object(write_json):
    with pytest.raises(SchemaError, match="top level must be a JSON object"):
        load_results([write_json([1, 2, 3])])


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(SchemaError, match="no such file"):
        load_results([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SchemaError, match="no run\\*.json"):
        load_results([tmp_path / "empty"])


def test_failed_run_is_kept(write_json):
    runs = [make_run(), make_run(allocator="student", status="failed"),
            make_run(allocator="slow", status="timeout")]
    df = load_results([write_json(make_doc(runs))])
    assert len(df) == 3
    failed = df[df["allocator"] == "student"].iloc[0]
    assert failed["status"] == "failed" and failed["failed"]
    assert math.isnan(failed["throughput"])
    assert failed["error"] == "failed: synthetic"
    assert failed["signal"] == 11
    assert df.set_index("allocator").loc["slow", "failed"]


def test_null_counters_become_nan(write_json):
    runs = [make_run(counters=False), make_run(repetition=1, counters=False)]
    df = load_results([write_json(make_doc(runs))])
    assert df["counter.cycles"].isna().all()
    assert "EOPNOTSUPP" in df.iloc[0]["counters_unavailable"]["cycles"]


def test_shard_merge(tmp_path):
    d = tmp_path / "run-1"
    a = make_doc([make_run("larson", "halloc", 1, 0)], threads=[1, 2], shard=(1, 2))
    b = make_doc([make_run("larson", "halloc", 2, 0)], threads=[1, 2], shard=(2, 2))
    write(a, d / "run.shard-1-of-2.json")
    write(b, d / "run.shard-2-of-2.json")
    (d / "notes.json").write_text("not results")  # ignored: not run*.json
    df = load_results([d])
    assert sorted(df["threads"]) == [1, 2]
    assert df.attrs["config"]["threads"] == [1, 2]
    assert len(df.attrs["config"]["shards"]) == 2
    assert set(df["run_id"]) == {"run-1"}
    assert not df["duplicate"].any()


def test_duplicate_cells_are_flagged(tmp_path):
    d = tmp_path / "dup"
    write(make_doc([make_run("larson", "halloc", 1, 0)], shard=(1, 2)), d / "run.shard-1-of-2.json")
    write(make_doc([make_run("larson", "halloc", 1, 0)], shard=(2, 2)), d / "run.shard-2-of-2.json")
    with pytest.warns(UserWarning, match="duplicate"):
        df = load_results([d])
    assert len(df) == 2 and df["duplicate"].all()
    assert any("larson/halloc/1t/rep0" in w for w in df.attrs["warnings"])


def test_bad_file_among_shards_names_that_file(tmp_path):
    d = tmp_path / "mixed"
    write(make_doc([make_run()]), d / "run.shard-1-of-2.json")
    (d / "run.shard-2-of-2.json").write_text('{"schema": "allocbench-1", "runs": [')
    with pytest.raises(SchemaError) as err:
        load_results([d])
    assert "run.shard-2-of-2.json" in str(err.value)
    assert "run.shard-1-of-2.json" not in str(err.value)


def test_run_id_follows_the_latest_symlink(tmp_path):
    write(make_doc([make_run()]), tmp_path / "20261126-041000" / "run.json")
    (tmp_path / "latest").symlink_to("20261126-041000")
    df = load_results([tmp_path / "latest"])
    assert df.attrs["run_id"] == "20261126-041000"
    assert set(df["run_id"]) == {"20261126-041000"}


# ---- additions of issue 9: new statuses and fields, partial runs, shards of one sweep --------

def _partial(path, doc, runs=None, cut=None):
    """Write doc as an interrupted sweep's partial file: a header line, then a run a line."""
    header = {k: doc[k] for k in ("schema", "machine", "config", "allocators")}
    lines = [json.dumps({"header": header})]
    lines += [json.dumps(r) for r in (doc["runs"] if runs is None else runs)]
    text = "\n".join(lines) + "\n"
    if cut:
        text = text[:-cut]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_new_statuses_and_fields_load(write_json):
    runs = [make_run(), make_run(repetition=1, status="corrupt", error="verify: block 3"),
            make_run(repetition=2, status="wrong_output", error="digest differs",
                     kind="program", metric={"name": "req/s", "value": 10.0,
                                             "higher_is_better": True},
                     output_digest="ab12", sharing=None)]
    doc = make_doc(runs, checks={"halloc": make_check(False, [("alignment", "0x...08")])},
                   config={"verify": True, "check": True, "params": ["size=16"],
                           "resumed": False}, machine={"git_dirty": True})
    df = load_results([write_json(doc)])
    assert df["failed"].tolist() == [False, True, True]
    assert df.iloc[0]["user_seconds"] == 0.4 and df.iloc[0]["sys_seconds"] == 0.05
    assert df["kind"].tolist() == ["synthetic", "synthetic", "program"]
    assert df.attrs["allocators"]["halloc"]["check"]["passed"] is False
    assert df.attrs["config"]["params"] == ["size=16"]


def test_old_files_without_the_new_fields_still_load(write_json):
    runs = [make_run(), make_run(repetition=1)]
    for r in runs:
        del r["user_seconds"], r["sys_seconds"]
    df = load_results([write_json(make_doc(runs))])
    assert df["user_seconds"].isna().all() and "check" not in df.attrs["allocators"]["halloc"]
    assert df.attrs["micro"] == {} and df.attrs["partial"] == []


def test_bad_check_record_is_named(write_json):
    doc = make_doc([make_run()], checks={"halloc": {"passed": "yes", "checks": [1]}})
    with pytest.raises(SchemaError) as err:
        load_results([write_json(doc)])
    assert "allocators[0].check.passed must be true or false" in str(err.value)
    assert "allocators[0].check.checks must be an array" in str(err.value)


def test_partial_file_is_read_when_no_run_json(tmp_path):
    d = tmp_path / "interrupted"
    doc = make_doc([make_run("larson", "halloc", 1, r) for r in range(3)],
                   config={"reps": 5})
    _partial(d / "run.json.partial.jsonl", doc)
    df = load_results([d])
    assert len(df) == 3 and df.attrs["partial"] == [str(d / "run.json.partial.jsonl")]
    assert any(w.startswith("PARTIAL") for w in df.attrs["warnings"])
    # a finished run.json wins over a stale partial file beside it
    write(doc, d / "run.json")
    assert load_results([d]).attrs["partial"] == []


def test_partial_file_cut_mid_line_keeps_the_complete_records(tmp_path):
    d = tmp_path / "killed"
    doc = make_doc([make_run("larson", "halloc", 1, r) for r in range(3)])
    _partial(d / "run.json.partial.jsonl", doc, cut=40)
    df = load_results([d])
    assert len(df) == 2
    assert any("cut short" in w for w in df.attrs["warnings"])


def test_partial_file_without_header_or_with_a_bad_middle_line(tmp_path):
    old = tmp_path / "old" / "run.json.partial.jsonl"
    old.parent.mkdir()
    old.write_text('0 {"workload": "larson"}\n')     # the format before the header line
    with pytest.raises(SchemaError, match="not a .*header"):
        load_results([old.parent])
    bad = tmp_path / "bad"
    doc = make_doc([make_run("larson", "halloc", 1, r) for r in range(3)])
    p = _partial(bad / "run.json.partial.jsonl", doc)
    lines = p.read_text().splitlines()
    lines[2] = "{oops"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match="line 3: invalid JSON"):
        load_results([bad])


def test_shards_complete_partial_and_missing(tmp_path):
    d = tmp_path / "cluster"
    cfg = dict(threads=[1, 2, 4])
    write(make_doc([make_run("larson", "halloc", 1, 0)], shard=(1, 3), **cfg),
          d / "run.shard-1-of-3.json")
    _partial(d / "run.shard-3-of-3.json.partial.jsonl",
             make_doc([make_run("larson", "halloc", 4, 0)], shard=(3, 3), **cfg))
    df = load_results([d])
    assert sorted(df["threads"]) == [1, 4]
    assert df.attrs["missing_shards"] == [2] and df.attrs["shard_count"] == 3
    assert any("INCOMPLETE: shard(s) 2 of 3 are missing" in w for w in df.attrs["warnings"])
    assert len(df.attrs["partial"]) == 1


def test_shards_of_different_sweeps_are_refused(tmp_path):
    d = tmp_path / "mixed"
    write(make_doc([make_run("larson", "halloc", 1, 0)], threads=[1, 2], shard=(1, 2),
                   machine={"git_commit": "aaaa"}), d / "run.shard-1-of-2.json")
    write(make_doc([make_run("larson", "halloc", 2, 0)], threads=[1, 2], reps=5, shard=(2, 2),
                   machine={"git_commit": "bbbb"}), d / "run.shard-2-of-2.json")
    with pytest.raises(SchemaError) as err:
        load_results([d])
    msg = str(err.value)
    assert "not the shards of one sweep" in msg
    assert "run.shard-2-of-2.json is not from the same sweep as run.shard-1-of-2.json" in msg
    assert "reps (1 vs 5)" in msg and "git commit (aaaa vs bbbb)" in msg


def test_two_files_claiming_one_shard_are_refused(tmp_path):
    d = tmp_path / "twice"
    write(make_doc([make_run("larson", "halloc", 1, 0)], shard=(1, 2)), d / "run.shard-1-of-2.json")
    write(make_doc([make_run("larson", "halloc", 1, 1)], shard=(1, 2)), d / "run-copy.json")
    with pytest.raises(SchemaError, match="both hold shard 1 of 2"):
        load_results([d])
