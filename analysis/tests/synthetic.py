"""Small synthetic results documents that follow harness/SCHEMA.md exactly, for the tests
(and for trying the figures without a real sweep: `python3 -m analysis.tests.synthetic DIR`)."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

COUNTERS = ("cycles", "instructions", "cache_references", "cache_misses", "l1d_load_misses",
            "page_faults", "context_switches", "task_clock_ns")
# Relative single-thread speed and parallel efficiency of the made-up allocators.
_MODEL = {"halloc": (1.0, 0.95), "halloc-paper": (0.8, 0.9), "halloc-serial": (0.9, 0.2),
          "glibc": (0.85, 0.6), "jemalloc": (1.1, 0.9), "tcmalloc": (1.2, 0.85),
          "mimalloc": (1.3, 0.95), "tbbmalloc": (1.0, 0.8)}


def make_run(workload="larson", allocator="halloc", threads=1, repetition=0, status="ok",
             throughput=1.0e6, peak_rss=8 << 20, counters=True, samples=None, **over) -> dict:
    """One run record with every key of the schema."""
    ok = status == "ok"
    seconds = 0.5
    peak_live = 1 << 20
    baseline = 2 << 20
    rec = {
        "workload": workload, "allocator": allocator, "threads": threads,
        "repetition": repetition,
        "params": {"min_size": 10, "max_size": 500, "slots": 1000, "rounds": 100},
        "status": status,
        "exit_status": 0 if ok else (None if status == "failed" else 0),
        "signal": None if ok else (11 if status == "failed" else None),
        "error": None if ok else f"{status}: synthetic",
        "ops": int(throughput * seconds) if ok else None,
        "seconds": seconds if ok else None,
        "user_seconds": 0.4 if ok else None,
        "sys_seconds": 0.05 if ok else None,
        "throughput_ops_per_s": float(throughput) if ok else None,
        "peak_rss_bytes": int(peak_rss) if ok else None,
        "baseline_rss_bytes": baseline,
        "peak_live_bytes": peak_live if ok else None,
        "blowup": (peak_rss - baseline) / peak_live if ok else None,
        "samples": samples if samples is not None else (
            [{"t": 0.1 * i, "rss_bytes": baseline + i * (peak_rss - baseline) // 5,
              "live_bytes": i * peak_live // 5} for i in range(6)] if ok else []),
        "counters": ({c: 1000.0 * threadsval for c, threadsval in
                      zip(COUNTERS, range(1, 9))} if counters and ok else
                     {c: None for c in COUNTERS}),
        "counters_unavailable": ({} if counters and ok else
                                 {c: "perf_event_open: EOPNOTSUPP (synthetic)" for c in COUNTERS}),
    }
    rec.update(over)
    return rec


def make_check(passed=True, failed=(), seed=42) -> dict:
    """An allocators[].check record (CONTRACT.md); failed: (name, message) pairs."""
    checks = [{"name": "alignment", "passed": True, "message": ""}] if passed else []
    checks += [{"name": n, "passed": False, "message": m} for n, m in failed]
    return {"passed": passed and not failed, "seed": seed, "seconds": 1.5, "checks": checks}


def make_micro(times_ns: dict, error=None) -> dict:
    """A Google Benchmark report as the sweep stores it: benchmark name -> real time in ns."""
    rep = {"context": {"num_cpus": 2, "library_build_type": "release"},
           "benchmarks": [{"name": n, "run_name": n, "run_type": "iteration", "threads": 1,
                           "iterations": 1000, "real_time": t, "cpu_time": t,
                           "time_unit": "ns", "items_per_second": 1e9 / t}
                          for n, t in times_ns.items()]}
    if error is not None:
        rep = {"context": {}, "benchmarks": [], "error": error}
    return rep


def make_doc(runs, workloads=None, allocators=None, threads=None, reps=1, shard=(1, 1),
             checks=None, micro=None, config=None, machine=None) -> dict:
    """checks: allocator -> check record (absent: no "check" key, as in older files);
    micro: allocator -> report; config/machine: keys added to (or replacing) the defaults."""
    workloads = workloads or sorted({r["workload"] for r in runs})
    allocators = allocators or sorted({r["allocator"] for r in runs})
    threads = threads or sorted({r["threads"] for r in runs})
    doc = {
        "schema": "allocbench-1",
        "machine": {"cpu_model": "Synthetic CPU @ 2.0GHz", "cores": 2,
                    "memory_bytes": 8 << 30, "kernel": "6.1.0-test", "compiler": "g++ 12.2.0",
                    "git_commit": None, "date": "2026-11-26T04:10:00Z", "hostname": "synth"},
        "config": {"workloads": workloads, "allocators": allocators, "threads": threads,
                   "reps": reps, "duration_s": 0.5, "timeout_s": 60,
                   "shard": {"index": shard[0], "count": shard[1]},
                   "command": "allocbench sweep (synthetic)"},
        "allocators": [{"name": a, "path": f"/usr/lib/lib{a}.so", "version": None,
                        "found": True, "note": None} for a in allocators],
        "runs": runs,
    }
    for rec in doc["allocators"]:
        if checks is not None and rec["name"] in checks:
            rec["check"] = checks[rec["name"]]
    if micro is not None:
        doc["micro"] = micro
    doc["config"].update(config or {})
    doc["machine"].update(machine or {})
    return doc


def sweep(workloads=("threadtest", "larson", "prodcons"), allocators=("halloc", "glibc"),
          threads=(1, 2, 4), reps=3, seed=1, fail=(), counters=True) -> dict:
    """A whole synthetic sweep. `fail` lists (workload, allocator, threads) cells that fail."""
    rng = random.Random(seed)
    runs = []
    for w in workloads:
        for a in allocators:
            speed, eff = _MODEL.get(a, (0.7, 0.5))
            for t in threads:
                for r in range(reps):
                    par = min(t, 2) ** eff if w != "cache-thrash" else 1.0
                    thr = 1e6 * speed * par * rng.uniform(0.97, 1.03)
                    rss = (4 + 2 * t * (2 - eff)) * (1 << 20) * rng.uniform(0.98, 1.02)
                    status = "failed" if (w, a, t) in fail else "ok"
                    samples = None
                    if w == "prodcons" and status == "ok":
                        samples = [{"t": 0.05 * i,
                                    "rss_bytes": int((2 + min(i, 10) * (2 - eff)) * (1 << 20)),
                                    "live_bytes": int((i % 10) * (1 << 19))}
                                   for i in range(21)]
                    runs.append(make_run(w, a, t, r, status, thr, rss, counters=counters,
                                         samples=samples))
    return make_doc(runs, list(workloads), list(allocators), list(threads), reps)


def write(doc: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/synth-run")
    doc = sweep(workloads=("threadtest", "shbench", "larson", "cache-scratch", "cache-thrash",
                           "prodcons"),
                allocators=("halloc", "halloc-paper", "halloc-serial", "glibc", "jemalloc",
                            "tcmalloc", "mimalloc", "student42"),
                threads=(1, 2, 4, 8, 16, 32, 64), reps=5, fail={("larson", "student42", 64)})
    print(write(doc, out / "run.json"))
