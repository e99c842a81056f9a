"""What the code interpreter's sandboxed kernels cost: start-up, per execution, in parallel, idle.

Run: python benchmarks/code_interpreter.py [--runs N] [--sessions N]

Needs the sandbox extra (pip install -e '.[sandbox]') and a machine where ``probe()`` works.
Rows, each a median of N where it says so:

- cold start: a new session's first execution (``pass``) with no kernel started ahead: bwrap,
  the launcher and an IPython kernel booting, then one round trip;
- first execution with a spare: the same when the executor had started a kernel ahead (default);
- warm execution: ``pass`` in a running session, against a bare ``python -c pass`` (the ratio:
  how many interpreter start-ups one execution costs);
- executions/s: N sessions at once, each running a small computation in a loop;
- idle kernel memory: RSS and PSS of one idle sandbox (bwrap's two processes and the kernel);
- end to end: a run through the SDK over HTTP on the deterministic engine whose message has one
  fenced block (one execution in the thread's warm kernel), against a run without code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import openai

from assistctl.local import LocalConfig, start_in_process
from assistctl.local.sandbox import ExecutionStatus, Limits, probe
from assistctl.local.sandbox.executor import CodeExecutor

WORK = "total = sum(i * i for i in range(1000))"


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def must_run(executor: CodeExecutor, session: str, code: str) -> None:
    result = executor.execute(session, code)
    if result.status is not ExecutionStatus.OK:
        raise SystemExit(f"execution failed: {result.tool_logs}")


def cold_starts(runs: int, prestart: bool) -> float:
    """Median first-execution time of ``runs`` new sessions, one after another."""
    samples = []
    with CodeExecutor(Limits(), prestart=prestart) as executor:
        for index in range(runs):
            session = f"cold-{index}"
            if prestart:
                time.sleep(2.0)  # let the warmer have the spare ready, as between real requests
            samples.append(seconds(lambda name=session: must_run(executor, name, "pass")))
            executor.close_session(session)
    return statistics.median(samples)


def bare_python(runs: int) -> float:
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return statistics.median(
        seconds(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
        for _ in range(runs)
    )


def warm_execution(executor: CodeExecutor, runs: int) -> float:
    must_run(executor, "warm", "pass")
    return statistics.median(
        seconds(lambda: must_run(executor, "warm", "pass")) for _ in range(runs)
    )


def throughput(executor: CodeExecutor, sessions: int, per_session: int) -> float:
    names = [f"parallel-{index}" for index in range(sessions)]
    for name in names:
        must_run(executor, name, "pass")

    def loop(name: str) -> None:
        for _ in range(per_session):
            must_run(executor, name, WORK)

    threads = [threading.Thread(target=loop, args=(name,)) for name in names]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sessions * per_session / (time.perf_counter() - start)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def memory_kib(pid: int, field: str, source: str) -> int:
    try:
        for line in (Path("/proc") / str(pid) / source).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def idle_kernel_memory(executor: CodeExecutor) -> tuple[float, float]:
    """Median RSS and PSS (MiB) of the sandboxes this process started (each a process tree)."""
    must_run(executor, "idle", "pass")
    time.sleep(1.0)
    rss, pss = [], []
    for top in children(os.getpid()):
        tree, stack = [], [top]
        while stack:
            pid = stack.pop()
            tree.append(pid)
            stack += children(pid)
        rss.append(sum(memory_kib(pid, "VmRSS", "status") for pid in tree) / 1024)
        pss.append(sum(memory_kib(pid, "Pss", "smaps_rollup") for pid in tree) / 1024)
    return statistics.median(rss), statistics.median(pss)


def end_to_end(runs: int) -> tuple[float, float]:
    """Median seconds of a run with one execution and of a run without, in one thread each."""
    with start_in_process(None, config=LocalConfig(code_interpreter="sandbox")) as server:
        client = openai.OpenAI(api_key="x", base_url=server.base_url)
        bot = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
        medians = []
        for text in ("```python\ntotal = 6 * 7\n```", "hello"):
            thread = client.beta.threads.create()

            def run(thread_id: str = thread.id, content: str = text) -> None:
                client.beta.threads.messages.create(thread_id, role="user", content=content)
                done = client.beta.threads.runs.create_and_poll(
                    thread_id=thread_id, assistant_id=bot.id, poll_interval_ms=5
                )
                if done.status != "completed":
                    raise SystemExit(f"run failed: {done.last_error}")

            run()  # the kernel starts here
            medians.append(statistics.median(seconds(run) for _ in range(runs)))
    return medians[0], medians[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="samples per median (default 9)")
    parser.add_argument("--sessions", type=int, default=8, help="parallel sessions (default 8)")
    args = parser.parse_args()
    found = probe()
    if not found.works:
        print(f"no sandbox on this machine: {found.reason}", file=sys.stderr)
        return 1
    print(found.reason, end="\n\n")

    cold = cold_starts(args.runs, prestart=False)
    spare = cold_starts(args.runs, prestart=True)
    python = bare_python(args.runs * 3)
    with CodeExecutor(Limits(), prestart=False) as executor:
        warm = warm_execution(executor, args.runs * 10)
        rate = throughput(executor, args.sessions, per_session=50)
        rss, pss = idle_kernel_memory(executor)
    with_code, without = end_to_end(args.runs)

    rows = [
        ("cold start (first execution, no spare)", f"{cold * 1000:.0f} ms"),
        ("first execution with a spare kernel", f"{spare * 1000:.0f} ms"),
        ("warm execution of `pass`", f"{warm * 1000:.1f} ms"),
        ("bare `python -c pass`", f"{python * 1000:.1f} ms"),
        ("warm execution / bare python", f"{warm / python:.2f}x"),
        (f"executions/s, {args.sessions} sessions at once", f"{rate:.0f}"),
        ("idle kernel RSS (sandbox tree)", f"{rss:.0f} MiB"),
        ("idle kernel PSS (sandbox tree)", f"{pss:.0f} MiB"),
        ("run with one execution (SDK over HTTP)", f"{with_code * 1000:.0f} ms"),
        ("run without code", f"{without * 1000:.0f} ms"),
        ("run with code / run without", f"{with_code / without:.2f}x"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'measure':<{width}}  value")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
