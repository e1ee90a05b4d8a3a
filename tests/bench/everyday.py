#!/usr/bin/env python3
"""The everyday bench's driver (``make everyday-bench``; tests/bench/README.md says what each
figure means). Runs under ``xenapi-sim run``, which gives the one simulator in ``XENAPI_URL``, and
prints one table: small calls (calls/s and system calls per call) for every binding, the
interrupt latency of a held call, and the asyncio event-loop stall.

    everyday.py --rust EXE --c EXE --csharp EXE [--mono MONO] [--python PYTHON]
                [--seconds 2] [--rounds 3] [--calls 2000] [--hold 3] [--strace strace]

Each binding is a program of its own (so that a tracer sees only that client), speaking one
small protocol (``PROGRAM URL time SECONDS`` prints ``small NAME CALLS SECONDS``, ``PROGRAM URL
count CALLS`` makes CALLS calls between two marker system calls, ``PROGRAM URL interrupt HOLD``
prints ``interrupt NAME MS OUTCOME USABLE`` or ``interrupt NAME n/a``); Python's are the
subcommands of python/bench/small_calls.py. Exits 1 when a program fails, not when a figure misses
its target: the figures are for people to read.
"""

import argparse
import collections
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY_BENCH = os.path.join(ROOT, "python", "bench", "small_calls.py")

#: The issue's targets.
SYSCALL_BUDGET = 5.0
RATIO_TARGET = 3.0
INTERRUPT_TARGET_MS = 200.0
STALL_TARGET_MS = 20.0
#: Runs of the stall measure; the median is reported.
STALL_ROUNDS = 3
#: Calls in flight in the stall run (python/bench/small_calls.py's IN_FLIGHT).
IN_FLIGHT = 100

#: A line of ``strace -f`` output that starts a system call: an optional pid, the call's name and
#: its opening parenthesis (``<... read resumed>`` lines finish one already counted).
SYSCALL = re.compile(r"^(?:\[pid\s+\d+\]\s*|\d+\s+)?([a-z_][a-z0-9_]*)\(")
BEGIN = "/xenapi-bench-mark/begin"
END = "/xenapi-bench-mark/end"


class Binding:
    def __init__(self, key, label, command, xenapi_rs=True):
        self.key = key  # the NAME its program prints
        self.label = label
        self.command = command  # the program, to which URL MODE N are appended
        self.xenapi_rs = xenapi_rs  # ours (held to the syscall budget), or the reference
        self.rates = []
        self.syscalls = None  # (per call, Counter per call) or a reason it is missing
        self.error = None


def run(command, timeout):
    """The program's stdout lines; raises with its stderr when it fails."""
    p = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(
            "%s exited with %d: %s"
            % (os.path.basename(command[0]), p.returncode, (p.stderr or p.stdout).strip()[-400:])
        )
    return p.stdout.splitlines()


def line(lines, first, key):
    for entry in lines:
        words = entry.split()
        if len(words) >= 2 and words[0] == first and words[1] == key:
            return words[2:]
    raise RuntimeError("no line '%s %s ...' in %r" % (first, key, lines))


def count_syscalls(path):
    """System calls between the marker calls of a ``strace -f -o`` log: (total, Counter)."""
    counts = collections.Counter()
    on = False
    with open(path, errors="replace") as f:
        for entry in f:
            if BEGIN in entry:
                # The last begin marker: a runtime may reach one stat through several calls.
                on = True
                counts.clear()
                continue
            if END in entry:
                if on:
                    return sum(counts.values()), counts
                break
            if on and "resumed>" not in entry:
                m = SYSCALL.match(entry)
                if m:
                    counts[m.group(1)] += 1
    raise RuntimeError("the markers %s and %s were not both traced in %s" % (BEGIN, END, path))


def small_calls(bindings, url, seconds, rounds):
    """Calls per second, interleaved: each round runs every binding once, in turn."""
    for r in range(rounds):
        progress("small calls, round %d of %d" % (r + 1, rounds))
        for b in bindings:
            if b.error:
                continue
            try:
                lines = run(b.command + [url, "time", str(seconds)], seconds * 10 + 60)
                calls, secs = line(lines, "small", b.key)
                b.rates.append(int(calls) / float(secs))
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                b.error = str(e)


def syscalls_per_call(bindings, url, calls, strace, workdir):
    for b in bindings:
        if b.error:
            continue
        progress("system calls: %s" % b.label)
        if strace is None:
            b.syscalls = "n/a (strace is missing: make deps installs it)"
            continue
        log = os.path.join(workdir, "strace-%s.txt" % b.key)
        try:
            lines = run(
                [strace, "-f", "-qq", "-o", log] + b.command + [url, "count", str(calls)], 600
            )
            n = int(line(lines, "count", b.key)[0])
            total, counts = count_syscalls(log)
            b.syscalls = (total / n, {k: v / n for k, v in counts.items()})
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            b.syscalls = "error: %s" % e


def python_interrupt(python, client, url, hold):
    """SIGINT to a child in a held call: (ms from the signal to its report, its report)."""
    child = subprocess.Popen(
        [python, PY_BENCH, "interrupt", client, url, str(hold)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sel = selectors.DefaultSelector()
    sel.register(child.stdout, selectors.EVENT_READ)

    def next_line(timeout):
        if not sel.select(timeout):
            return None
        return child.stdout.readline().strip()

    try:
        ready = next_line(60)
        if ready != "calling":
            raise RuntimeError(
                "the %s child did not start its call: %r %s" % (client, ready, child.stderr.read())
            )
        time.sleep(0.3)  # well inside the held call
        child.send_signal(signal.SIGINT)
        t0 = time.perf_counter()
        report = next_line(hold + 30)
        ms = (time.perf_counter() - t0) * 1000
        if report is None:
            raise RuntimeError("the %s child did not report within %s s" % (client, hold + 30))
        return ms, report
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        sel.close()


def interrupts(args, url, bindings):
    """(label, figure, note) per binding."""
    rows = []
    # Ended this late, the call was not interrupted: the server's answer ended it.
    held_ms = (args.hold - 0.3) * 1000 - 500

    def row(label, ms, how, usable):
        if ms >= held_ms:
            return label, "%.0f ms" % ms, "not interrupted: the call ran until the server answered"
        mark = "ok" if ms <= INTERRUPT_TARGET_MS else "over %d ms" % INTERRUPT_TARGET_MS
        return label, "%.0f ms" % ms, "%s: %s, session %s afterwards" % (mark, how, usable)

    for client, label in (
        ("xenapi_rs", "Python xenapi_rs, SIGINT"),
        ("XenAPI", "Python XenAPI.py, SIGINT"),
    ):
        progress("interrupt: %s" % label)
        try:
            ms, report = python_interrupt(args.python, client, url, args.hold)
            words = report.split(None, 1)
            if words[0] == "interrupted":
                rows.append(row(label, ms, "KeyboardInterrupt", words[1] if len(words) > 1 else "?"))
            else:
                rows.append((label, "%.0f ms" % ms, "no KeyboardInterrupt: %s" % report))
        except (RuntimeError, OSError) as e:
            rows.append((label, "error", str(e)))
    labels = {
        "rust": "Rust, Cancel on a call-options view",
        "c": "C, xenapi_cancel per call",
        "csharp": "C#, CancellationToken",
    }
    for b in bindings:
        if b.key not in labels:
            continue
        progress("interrupt: %s" % labels[b.key])
        try:
            lines = run(b.command + [url, "interrupt", str(args.hold)], args.hold + 120)
            words = line(lines, "interrupt", b.key)
            if words[0] == "n/a":
                rows.append((labels[b.key], "n/a", "not built yet"))
            else:
                rows.append(row(labels[b.key], float(words[0]), words[1], words[2]))
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
            rows.append((labels[b.key], "error", str(e)))
    return rows


def stall(args, url):
    """The median of STALL_ROUNDS runs: a single run's figure is at the mercy of one moment
    when the machine (a VM) gave the loop's thread no CPU without saying so."""
    runs = []
    for i in range(STALL_ROUNDS):
        progress("event-loop stall, round %d of %d" % (i + 1, STALL_ROUNDS))
        try:
            words = line(run([args.python, PY_BENCH, "stall", url, str(args.seconds)], 300),
                         "stall", "python")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return "error", str(e)
        if words[0] == "n/a":
            return "n/a", "not built yet (no xenapi_rs.aio)"
        runs.append(tuple(float(w) for w in words))
    runs.sort(key=lambda r: r[1])
    worst, own, baseline, rate = runs[len(runs) // 2]
    mark = "ok" if own <= STALL_TARGET_MS else "over %d ms" % STALL_TARGET_MS
    return "%.1f ms" % own, (
        "%s (runs %s); %.1f ms in all, the rest waiting for a CPU; %.1f ms with no call in "
        "flight; %.0f calls/s" % (mark, ", ".join("%.1f" % r[1] for r in runs), worst, baseline,
                                  rate))


def progress(text):
    print("everyday-bench: %s" % text, file=sys.stderr, flush=True)


def thousands(x):
    return "{:,.0f}".format(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rust", required=True)
    ap.add_argument("--c", required=True)
    ap.add_argument("--csharp", required=True)
    ap.add_argument("--mono", default="mono")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--hold", type=float, default=3.0)
    ap.add_argument("--strace", default="strace")
    ap.add_argument("--logs", default=None, help="where the strace logs go (default: a temp dir)")
    ap.add_argument("--out", default=None, help="a file to write the table to as well")
    args = ap.parse_args()
    url = os.environ.get("XENAPI_URL")
    if not url:
        sys.exit("everyday.py runs under `xenapi-sim run`, which sets XENAPI_URL")

    bindings = [
        Binding("rust", "Rust (core)", [args.rust]),
        Binding("c", "C (libxenapi)", [args.c]),
        Binding("python-xenapi_rs", "Python xenapi_rs", [args.python, PY_BENCH, "small", "xenapi_rs"]),
        Binding("csharp", "C# (Mono)", [args.mono, args.csharp]),
        Binding("python-XenAPI", "Python XenAPI.py", [args.python, PY_BENCH, "small", "XenAPI"], False),
    ]
    strace = shutil.which(args.strace)
    workdir = args.logs or tempfile.mkdtemp(prefix="everyday-bench-")
    os.makedirs(workdir, exist_ok=True)

    small_calls(bindings, url, args.seconds, args.rounds)
    syscalls_per_call(bindings, url, args.calls, strace, workdir)
    interrupt_rows = interrupts(args, url, bindings)
    stall_figure, stall_note = stall(args, url)

    report = []

    def say(text=""):
        print(text, flush=True)
        report.append(text)

    load = os.getloadavg()[0]
    say()
    say("everyday bench: one xenapi-sim at %s, VM.get_power_state on one logged-in session" % url)
    say("calls/s: median of %d interleaved rounds of %g s, and their range (load average %.1f"
        " on %d CPUs when it ended)" % (args.rounds, args.seconds, load, os.cpu_count() or 1))
    say("syscalls: every system call the client process makes (all threads, strace -f) over %d"
        % args.calls)
    say("calls after a warm-up, per call; target at most %g for xenapi-rs, XenAPI.py for reference"
        % SYSCALL_BUDGET)
    say()
    say("%-18s %8s  %-17s %8s %-8s %s" % ("small calls", "calls/s", "(range)", "syscalls", "", "which"))
    failed = False
    for b in bindings:
        if b.error:
            failed = True
            say("%-18s error: %s" % (b.label, b.error))
            continue
        rate = thousands(statistics.median(b.rates))
        spread = "(%s-%s)" % (thousands(min(b.rates)), thousands(max(b.rates)))
        if isinstance(b.syscalls, tuple):
            per, kinds = b.syscalls
            # By name, most first; those under one in 20 calls together as "other".
            top = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
            which = ", ".join("%s %.1f" % kv for kv in top if kv[1] >= 0.05)
            rest = sum(v for _, v in top if v < 0.05)
            if rest >= 0.005:
                which += ", other %.2f" % rest
            verdict = "" if not b.xenapi_rs else "ok" if per <= SYSCALL_BUDGET else "over %g" % SYSCALL_BUDGET
            say("%-18s %8s  %-17s %8.1f %-8s %s" % (b.label, rate, spread, per, verdict, which))
        else:
            failed |= str(b.syscalls).startswith("error")
            say("%-18s %8s  %-17s %8s %-8s %s" % (b.label, rate, spread, "-", "", b.syscalls))
    ours = next(b for b in bindings if b.key == "python-xenapi_rs")
    ref = next(b for b in bindings if b.key == "python-XenAPI")
    if ours.rates and ref.rates and len(ours.rates) == len(ref.rates):
        ratios = [a / b for a, b in zip(ours.rates, ref.rates)]
        r = statistics.median(ratios)
        say("%-18s %7.2fx  (median of the rounds' ratios, Python; target %gx: %s)"
            % ("xenapi_rs/XenAPI.py", r, RATIO_TARGET, "ok" if r >= RATIO_TARGET else "not yet"))
    say()
    say("interrupt latency: a held call (event.from on a quiet simulator, %g s), interrupted" % args.hold)
    say("300 ms in; from the signal or cancel to the call's end (target %d ms)" % INTERRUPT_TARGET_MS)
    for label, figure, note in interrupt_rows:
        failed |= figure == "error"
        say("  %-36s %9s  %s" % (label, figure, note))
    say()
    say("event-loop stall: xenapi_rs.aio, %d calls in flight on one session for %g s, the longest"
        % (IN_FLIGHT, args.seconds))
    say("gap between ticks of a 1 ms ticker less the time the loop's thread waited for a CPU")
    say("(Linux's schedstat: the machine's share, with the simulator on the same CPUs); median of %d"
        " runs; target %d ms" % (STALL_ROUNDS, STALL_TARGET_MS))
    failed |= stall_figure == "error"
    say("  %-36s %9s  %s" % ("Python xenapi_rs.aio", stall_figure, stall_note))
    if strace:
        say()
        say("strace logs: %s" % workdir)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(report) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
