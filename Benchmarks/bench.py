#!/usr/bin/env python3
"""memprof's benchmark suite: overhead ratios against the bare run and heaptrack.

    scripts/bench [--rounds N] [--only NAME,...] [--no-heaptrack] [--hour-seconds S]

Builds its workloads, then runs every variant of every workload in interleaved
rounds (bare, memprof full, memprof sample, sample preloaded, heaptrack, untraced,
bare, ...) and prints medians. "sample preloaded" runs the program with LD_PRELOAD and
MEMPROF_MODE=sample directly, without `memprof run`: its ratio is the preload's own
cost, without the CLI's start-up (see the start-up line). "untraced" is a process
the preload is loaded into but does not trace (its output file is taken, as for a
child `memprof run` leaves out): what memprof costs a program it only passes through.
Aggregate mode is measured apart (after the tables): the trace size of full and
aggregate mode as the event count grows, and an hour's worth of 1-second snapshots
(about 3,600: every 10 ms, plus the writer's wake-up granularity, over S = 42 seconds of a steady workload) with memprof's own
memory and the process's RSS over the run.
Absolute times drift on shared machines; the ratios, taken within one round-robin,
are what to compare. Peak RSS is that of the largest process of a run (the profiled
program, or memprof's / heaptrack's own helper if larger).
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "Benchmarks", "workloads")
BIN = os.path.join(ROOT, ".build", "bench")
MEMPROF = os.path.join(ROOT, ".build", "release", "memprof")
PRELOAD = os.path.join(ROOT, ".build", "preload", "libmemprof.so")
# The untraced variant's output file: taken (not empty), so the preload does not trace.
TAKEN = "taken.mprof"


def build():
    os.makedirs(BIN, exist_ok=True)
    # Like distro binaries: -O2, no frame pointers, debug info for symbolization.
    flags = ["-O2", "-g", "-fomit-frame-pointer"]
    steps = [
        ["cc", *flags, "-pthread", os.path.join(WORK, "churn.c"), "-o", os.path.join(BIN, "churn")],
        ["cc", *flags, os.path.join(WORK, "pairs.c"), "-o", os.path.join(BIN, "pairs")],
        ["c++", *flags, os.path.join(WORK, "containers.cpp"), "-o", os.path.join(BIN, "containers")],
    ]
    for step in steps:
        subprocess.run(step, check=True)
    if not os.path.exists(MEMPROF):
        sys.exit("memprof is not built: run scripts/build.sh first")


def workloads():
    sql = open(os.path.join(WORK, "workload.sql")).read()
    return {
        "churn": {
            "what": "C, 2 threads x 1M allocs, 16 B-64 KiB, depth 5-15, realloc, no frame pointers",
            "cmd": [os.path.join(BIN, "churn"), "2", "1000000"],
        },
        "containers": {
            "what": "C++ std::string / std::map / std::vector churn",
            "cmd": [os.path.join(BIN, "containers"), "100"],
        },
        "python": {
            "what": "python3.11 allocation-heavy script",
            "cmd": ["/usr/bin/python3.11", os.path.join(WORK, "workload.py")],
            "env": {"PYTHONHASHSEED": "0"},
        },
        "sqlite": {
            "what": "sqlite3 :memory: with a fixed script",
            "cmd": ["/usr/bin/sqlite3", ":memory:", sql],
        },
        "pairs": {
            "what": "1 thread, 1M malloc+free pairs at depth 10, no frame pointers",
            "cmd": [os.path.join(BIN, "pairs"), "1000000"],
        },
    }


def peak_rss(cmd, env=None):
    """Peak RSS of cmd (largest process of its tree), measured by GNU time: the
    ru_maxrss of a child forked from this Python process would include Python's own."""
    with tempfile.NamedTemporaryFile("r") as out:
        run(["/usr/bin/time", "-o", out.name, "-f", "%M", *cmd], env)
        return int(out.read().split()[-1]) * 1024


def run(cmd, env=None):
    """Runs cmd with stdio to /dev/null; returns (seconds, peak RSS bytes)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=full_env)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:3]} exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss * 1024


def variants(spec, scratch, heaptrack):
    cmd, env = spec["cmd"], spec.get("env", {})
    out = {
        "bare": (cmd, env),
        "full": ([MEMPROF, "run", "-o", os.path.join(scratch, "full.mprof"), "--", *cmd], env),
    }
    if sample_supported():
        out["sample"] = ([MEMPROF, "run", "--mode", "sample", "-o", os.path.join(scratch, "sample.mprof"), "--", *cmd],
                         env)
        out["sample-preload"] = (cmd, dict(env, LD_PRELOAD=PRELOAD, MEMPROF_MODE="sample",
                                           MEMPROF_OUTPUT=os.path.join(scratch, "preload.mprof")))
    out["aggregate"] = ([MEMPROF, "run", "--mode", "aggregate", "-o", os.path.join(scratch, "aggregate.mprof"), "--",
                         *cmd], env)
    # A process memprof does not trace: it finds its MEMPROF_OUTPUT taken, as a child
    # of `memprof run` left out (no %p in -o) does, and its hooks only pass through.
    taken = os.path.join(scratch, TAKEN)
    with open(taken, "w") as f:
        f.write("taken")
    out["untraced"] = (cmd, dict(env, LD_PRELOAD=PRELOAD, MEMPROF_OUTPUT=taken))
    if heaptrack:
        out["heaptrack"] = (["heaptrack", "-o", os.path.join(scratch, "ht"), *cmd], env)
    return out


_sample = None


def sample_supported():
    global _sample
    if _sample is None:
        help_text = subprocess.run([MEMPROF, "run", "--help"], capture_output=True, text=True).stdout
        _sample = "--mode" in help_text
    return _sample


def median(values):
    return statistics.median(values) if values else float("nan")


def measure_report(trace, heaptrack_file, rounds):
    """memprof report vs heaptrack_print on the same run: median time and peak RSS."""
    commands = {"memprof report": [MEMPROF, "report", "--format", "json", trace]}
    if heaptrack_file:
        commands["heaptrack_print"] = ["heaptrack_print", heaptrack_file]
    times = {k: [] for k in commands}
    for _ in range(rounds):
        for k, cmd in commands.items():
            times[k].append(run(cmd)[0])
    return {k: (median(times[k]), peak_rss(cmd)) for k, cmd in commands.items()}


def event_count(trace):
    out = subprocess.run([MEMPROF, "report", "--format", "json", trace], capture_output=True, text=True, check=True)
    snapshot = json.loads(out.stdout)["snapshot"]
    return snapshot["allocation_count"] + snapshot["deallocation_count"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per workload (default 5)")
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--no-heaptrack", action="store_true", help="skip heaptrack")
    parser.add_argument("--hour-seconds", type=float, default=42,
                        help="length of aggregate mode's hour-equivalent run (3,600 snapshots); 0 skips it")
    args = parser.parse_args()
    heaptrack = not args.no_heaptrack and shutil.which("heaptrack") is not None
    build()
    chosen = workloads()
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}

    print(f"memprof benchmark: {args.rounds} interleaved rounds, medians; {os.cpu_count()} cores "
          f"(shared machine: compare ratios, not absolute times)\n")
    results = {}
    for name, spec in chosen.items():
        scratch = tempfile.mkdtemp(prefix=f"memprof-bench-{name}-")
        runs = variants(spec, scratch, heaptrack)
        times = {k: [] for k in runs}
        rss = {k: 0 for k in runs}
        for _ in range(args.rounds):
            for variant, (cmd, env) in runs.items():
                fresh_output(env)
                times[variant].append(run(cmd, env)[0])
        for variant, (cmd, env) in runs.items():
            fresh_output(env)
            rss[variant] = peak_rss(cmd, env)
        med = {k: median(v) for k, v in times.items()}
        rss["preloaded"] = preloaded_rss(spec, scratch)
        trace = os.path.join(scratch, "full.mprof")
        ht_files = glob.glob(os.path.join(scratch, "ht*"))
        events = event_count(trace)
        results[name] = {
            "what": spec["what"],
            "median": med,
            "rss": rss,
            "events": events,
            "trace_bytes": os.path.getsize(trace),
            "heaptrack_bytes": os.path.getsize(ht_files[0]) if ht_files else None,
            "report": measure_report(trace, ht_files[0] if ht_files else None, max(1, args.rounds // 2)),
        }
        shutil.rmtree(scratch, ignore_errors=True)
        print_row(name, results[name])

    print_tables(results)
    startup(args.rounds)
    aggregate_growth()
    if args.hour_seconds > 0:
        aggregate_hour(args.hour_seconds)


def fmt_s(seconds):
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def fmt_mb(n):
    return f"{n / 1e6:.1f} MB"


def fmt_size(n):
    return f"{n / 1e3:.0f} KB" if n < 10e6 else f"{n / 1e6:.1f} MB"


def fresh_output(env):
    """The preload writes only into an empty MEMPROF_OUTPUT (`memprof run` makes it);
    the untraced variant's stays taken."""
    if "MEMPROF_OUTPUT" in env and os.path.basename(env["MEMPROF_OUTPUT"]) != TAKEN:
        open(env["MEMPROF_OUTPUT"], "w").close()


def preloaded_rss(spec, scratch):
    """Peak RSS of the profiled program itself under the preload (no memprof CLI)."""
    trace = os.path.join(scratch, "rss.mprof")
    open(trace, "w").close()
    env = dict(spec.get("env", {}), LD_PRELOAD=PRELOAD, MEMPROF_OUTPUT=trace)
    return peak_rss(spec["cmd"], env)


def print_row(name, r):
    m = r["median"]
    parts = [f"{k} {fmt_s(v)}" for k, v in m.items()]
    print(f"  {name}: " + ", ".join(parts), flush=True)


def print_tables(results):
    print("\n| workload | bare | memprof full | memprof sample | heaptrack | full/bare | sample/bare "
          "| sample preloaded/bare | heaptrack/bare | heaptrack/full |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        m = r["median"]

        def cell(k):
            return fmt_s(m[k]) if k in m else "-"

        ht_full = f"{m['heaptrack'] / m['full']:.1f}x" if "heaptrack" in m else "-"
        print(f"| {name} | {cell('bare')} | {cell('full')} | {cell('sample')} | {cell('heaptrack')} | "
              f"{ratio_of(m, 'full')} | {ratio_of(m, 'sample')} | {ratio_of(m, 'sample-preload')} | "
              f"{ratio_of(m, 'heaptrack')} | "
              f"{ht_full} |")

    print("\n| workload | memprof aggregate | aggregate/bare | aggregate/full | untraced (preloaded, file taken)/bare |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        m = r["median"]
        print(f"| {name} | {fmt_s(m['aggregate'])} | {m['aggregate'] / m['bare']:.2f}x | "
              f"{m['aggregate'] / m['full']:.2f}x | {ratio_of(m, 'untraced')} |")

    print("\n| workload | program RSS bare | under memprof | heaptrack run (largest process) | events "
          "| memprof trace | bytes/event | heaptrack trace | bytes/event |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        ht = r["heaptrack_bytes"]
        ht_cells = f"{fmt_size(ht)} | {ht / r['events']:.3f}" if ht else "- | -"
        print(f"| {name} | {fmt_mb(r['rss']['bare'])} | {fmt_mb(r['rss']['preloaded'])} | "
              f"{fmt_mb(r['rss'].get('heaptrack', 0))} | {r['events']:,} | {fmt_size(r['trace_bytes'])} | "
              f"{r['trace_bytes'] / r['events']:.3f} | {ht_cells} |")

    print("\n| workload | memprof report | peak RSS | heaptrack_print | peak RSS | time ratio | RSS ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        mp = r["report"]["memprof report"]
        hp = r["report"].get("heaptrack_print")
        if hp:
            print(f"| {name} | {fmt_s(mp[0])} | {fmt_mb(mp[1])} | {fmt_s(hp[0])} | {fmt_mb(hp[1])} | "
                  f"{mp[0] / hp[0]:.2f} | {mp[1] / hp[1]:.2f} |")
        else:
            print(f"| {name} | {fmt_s(mp[0])} | {fmt_mb(mp[1])} | - | - | - | - |")

    if "pairs" in results:
        m = results["pairs"]["median"]
        per = (m["full"] - m["bare"]) / 1e6 * 1e9
        print(f"\nper-event cost (pairs, depth 10, no frame pointers): {per:.0f} ns per malloc+free pair "
              f"(includes memprof run's start-up)")


def ratio_of(m, k):
    """Variant k's median against the bare run's, or - when k did not run."""
    return f"{m[k] / m['bare']:.2f}x" if k in m else "-"


def startup(rounds):
    n = max(10, rounds * 4)
    bare, traced = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(n):
            bare.append(run(["/bin/true"])[0])
            traced.append(run([MEMPROF, "run", "-o", os.path.join(scratch, "t.mprof"), "--", "/bin/true"])[0])
    print(f"\nstart-up: /bin/true {median(bare) * 1000:.1f} ms, memprof run -- /bin/true "
          f"{median(traced) * 1000:.1f} ms: +{(median(traced) - median(bare)) * 1000:.1f} ms ({n} interleaved runs)")


def dump_lines(trace, prefix):
    out = subprocess.run([MEMPROF, "dump", trace], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.startswith(prefix)]


def fields(line):
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


def aggregate_growth():
    """Trace size against the event count: full mode grows with events, aggregate mode
    with snapshots (here every 100 ms) times the stacks that changed."""
    print("\naggregate mode, trace size as events grow (churn, 2 threads, snapshots every 100 ms):")
    print("| events | full trace | aggregate trace | aggregate snapshots | aggregate bytes/snapshot | full/aggregate |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for per_thread in (250000, 1000000, 4000000):
            cmd = [os.path.join(BIN, "churn"), "2", str(per_thread)]
            full = os.path.join(scratch, "full.mprof")
            agg = os.path.join(scratch, "agg.mprof")
            run([MEMPROF, "run", "-o", full, "--", *cmd])
            run([MEMPROF, "run", "--mode", "aggregate", "--snapshot-interval", "100ms", "-o", agg, "--", *cmd])
            events = event_count(full)
            snapshots = len(dump_lines(agg, "snapshot "))
            full_size, agg_size = os.path.getsize(full), os.path.getsize(agg)
            print(f"| {events:,} | {fmt_size(full_size)} | {fmt_size(agg_size)} | {snapshots} | "
                  f"{agg_size / max(snapshots, 1):.0f} B | {full_size / agg_size:.0f}x |", flush=True)
            os.remove(full)
            os.remove(agg)


def aggregate_hour(seconds):
    """An hour of 1-second snapshots, accelerated: a steady 2-thread workload for
    `seconds`, snapshots every 10 ms. memprof's own memory (SNAPSHOT records) and the
    process's RSS (TICK records) from 10% of the run to 95% of it must stay flat."""
    steady = os.path.join(ROOT, "examples", "bin", "steady")
    interval_ms = 10
    with tempfile.TemporaryDirectory() as scratch:
        trace = os.path.join(scratch, "hour.mprof")
        start = time.perf_counter()
        run([MEMPROF, "run", "--mode", "aggregate", "--snapshot-interval", f"{interval_ms}ms", "-o", trace, "--",
             steady, f"{int(seconds)}s", "2"])
        elapsed = time.perf_counter() - start
        snaps = [fields(line) for line in dump_lines(trace, "snapshot ")]
        ticks = [fields(line) for line in dump_lines(trace, "tick ")]
        sites = [fields(line) for line in dump_lines(trace, "site ")]
        size = os.path.getsize(trace)
    end_ns = int(snaps[-1]["ns"])
    window = (end_ns * 0.10, end_ns * 0.95)
    own = [int(s["memprof_bytes"]) for s in snaps if window[0] <= int(s["ns"]) <= window[1]]
    rss = [int(t["rss"]) for t in ticks if window[0] <= int(t["ns"]) <= window[1]]
    events = sum(int(s["allocations"]) + int(s["deallocations"]) for s in sites)
    print(f"\naggregate mode, an hour of 1-second snapshots in {elapsed:.0f} s (steady, 2 threads, "
          f"snapshots every {interval_ms} ms):")
    print(f"  {len(snaps):,} snapshots, {events:,} events, trace {fmt_size(size)} "
          f"({size / len(snaps):.0f} B per snapshot, {size / events * 1e6:.1f} B per million events)")
    print(f"  memprof's own memory from 10% to 95% of the run: {min(own) / 1e6:.2f} .. {max(own) / 1e6:.2f} MB "
          f"(growth {(max(own) - min(own)) / 1e3:.0f} KB)")
    print(f"  process RSS over the same part: {min(rss) / 1e6:.2f} .. {max(rss) / 1e6:.2f} MB "
          f"(growth {(max(rss) - min(rss)) / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
