"""Launcher benchmarks: start-to-first-step and failure-detection latency.

    python benchmarks/bench_launcher.py [--repeats 5]

Start-to-first-step: wall time from starting the launcher to the moment both
of 2 workers finished their first collective, for ``disttorch-run``
(MPI world, mpi4py allreduce) and ``python -m torch.distributed.run``
(gloo ``all_reduce``), alternating the two; plus the same with a script that
imports nothing, which isolates each launcher's own overhead.

Failure detection: a rank exits 1 (crash) or stops (hang) after its first
step; the latency is from that moment to the launcher's report (for
torchrun, whose report comes when it exits, to its exit). torchrun has no
hang detection. The hang latency includes the hang timeout (1 s here).

The same file is the worker script: ``bench_launcher.py worker MODE``.
"""

import argparse
import os
import selectors
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANG_TIMEOUT = 1.0


def emit(tag):
    # One write per line: the ranks of torchrun share one pipe.
    os.write(1, f"{tag} {time.time():.6f}\n".encode())


def worker(mode):
    """The benchmark's training script: one collective, then maybe a fault."""
    if mode == "bare":
        emit("FIRST_STEP")
        return
    if os.environ.get("DISTTORCH_CONTROL_ENDPOINT"):
        from mpi4py import MPI

        from launcher import worker as reporter

        with reporter.collective("allreduce"):
            MPI.COMM_WORLD.allreduce(1)
        reporter.report_progress(step=1)
    else:
        import atexit

        import torch
        import torch.distributed as dist

        dist.init_process_group("gloo")
        dist.all_reduce(torch.ones(1))
        # Without this, gloo's threads abort the interpreter at exit.
        atexit.register(dist.destroy_process_group)
    emit("FIRST_STEP")
    if os.environ.get("RANK") != "1":
        if mode in ("crash", "hang"):
            time.sleep(60)  # stopped by the launcher once rank 1's fault is found
        return
    if mode == "crash":
        emit("FAULT")
        sys.exit(1)
    if mode == "hang":
        emit("FAULT")
        time.sleep(3600)


def launch_command(launcher, mode):
    script = [os.path.abspath(__file__), "worker", mode]
    if launcher == "disttorch-run":
        return [sys.executable, "-m", "launcher", "--standalone", "--nproc-per-node", "2",
                "--hang-timeout", str(HANG_TIMEOUT), "--heartbeat-interval", "0.2", *script]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *script]


def time_to_first_step(launcher, mode):
    """Seconds from starting the launcher until both ranks finished their first step."""
    environ = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    started = time.time()
    proc = subprocess.Popen(launch_command(launcher, mode), cwd=REPO, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first_steps = [float(line.split()[-1]) for line in proc.stdout if "FIRST_STEP" in line]
    proc.wait(timeout=120)
    if proc.returncode != 0 or len(first_steps) != 2:
        raise RuntimeError(f"{launcher} {mode}: exit {proc.returncode}, first steps {first_steps}")
    return max(first_steps) - started


def detection_latency(launcher, mode):
    """Seconds from a rank's fault to the launcher's report (torchrun: to its exit)."""
    environ = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(launch_command(launcher, mode), cwd=REPO, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, "out")
    selector.register(proc.stderr, selectors.EVENT_READ, "err")
    fault_at = report_at = None
    open_streams = 2
    while open_streams:
        for key, _ in selector.select():
            line = key.fileobj.readline()
            if not line:
                selector.unregister(key.fileobj)
                open_streams -= 1
                continue
            if key.data == "out" and "FAULT" in line:
                fault_at = float(line.split()[-1])
            elif key.data == "err" and report_at is None and ("failed first" in line or " hung: " in line):
                report_at = time.time()
    proc.wait(timeout=120)
    if launcher != "disttorch-run":
        report_at = time.time()
    if fault_at is None or report_at is None:
        raise RuntimeError(f"{launcher} {mode}: no fault or no report seen")
    return report_at - fault_at


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "worker":
        worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    launchers = ("disttorch-run", "torchrun")
    print(f"2 workers, {args.repeats} alternating runs each, medians in seconds")
    for mode, title in (("collective", "start to first collective"), ("bare", "start to first line (no imports)")):
        samples = {name: [] for name in launchers}
        for _ in range(args.repeats):
            for name in launchers:
                samples[name].append(time_to_first_step(name, mode))
        ours, theirs = (statistics.median(samples[name]) for name in launchers)
        print(f"{title:34s} disttorch-run {ours:.3f}  torchrun {theirs:.3f}  ratio torchrun/disttorch-run "
              f"{theirs / ours:.1f}x")
    for mode in ("crash", "hang"):
        for name in launchers:
            if mode == "hang" and name == "torchrun":
                print(f"{'hang detection':34s} torchrun: none (waits for the gloo timeout, 30 min by default)")
                continue
            latencies = [detection_latency(name, mode) for _ in range(args.repeats)]
            extra = f" (hang timeout {HANG_TIMEOUT:g} s included)" if mode == "hang" else ""
            what = "report" if name == "disttorch-run" else "exit"
            print(f"{mode + ' detection':34s} {name}: median {statistics.median(latencies):.3f} s "
                  f"from fault to {what}{extra}")


if __name__ == "__main__":
    main()
