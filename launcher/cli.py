"""``disttorch-run``: torchrun's command line, on MPI.

Every option can also be set from the environment as ``PET_<OPTION>`` (as
torchrun does), e.g. ``PET_NPROC_PER_NODE=4``. Dashed and underscored
spellings are both accepted. Under ``srun`` (one task per node), the node
count, node rank and master address come from SLURM when not given.
"""

import argparse
import glob
import logging
import os
import subprocess
import sys
import uuid

from launcher import env as envvars
from launcher import protocol
from launcher.config import LaunchConfig

# (flags, options, help); ``dest`` is derived from the first flag.
_OPTIONS = [
    (["--nproc-per-node"], {"default": "1"},
     "workers per node: an int, 'auto' (GPUs if any, else CPUs), 'cpu' or 'gpu' (one per GPU)"),
    (["--nnodes"], {"default": None}, "number of nodes (N, or N:N; elastic ranges are not supported)"),
    (["--node-rank"], {"default": None, "type": int}, "rank of this node, 0 runs the control plane"),
    (["--master-addr"], {"default": None}, "address of node 0 (default 127.0.0.1 on one node)"),
    (["--master-port"], {"default": None, "type": int},
     "control-plane port (default: a free port on one node, 29500 on several)"),
    (["--rdzv-endpoint"], {"default": None}, "HOST:PORT of node 0; overrides --master-addr/--master-port"),
    (["--rdzv-id"], {"default": None}, "job id; every node of a job must give the same one"),
    (["--rdzv-backend"], {"default": "static"}, "accepted for torchrun compatibility; the control plane is always used"),
    (["--rdzv-timeout"], {"default": 300.0, "type": float}, "seconds node 0 waits for the other nodes"),
    (["--hostfile"], {"default": None},
     "ssh mode: start every node from here with hydra over ssh; one host per line (HOST or HOST:SLOTS, "
     "slots ignored: each host runs --nproc-per-node workers); needs --master-addr reachable from the hosts"),
    (["--ssh"], {"default": "ssh"}, "program hydra runs as `PROGRAM HOST COMMAND` to reach a host in ssh mode"),
    (["--standalone"], {"action": "store_true"}, "single node on loopback with a free port and a fresh job id"),
    (["--max-restarts"], {"default": 0, "type": int}, "restarts of the worker group after a failure"),
    (["--monitor-interval"], {"default": 0.1, "type": float}, "seconds between checks of the workers"),
    (["--hang-timeout"], {"default": 300.0, "type": float},
     "a rank that reports no activity through launcher.worker for this long is hung"),
    (["--heartbeat-interval"], {"default": 1.0, "type": float}, "seconds between heartbeats"),
    (["--heartbeat-timeout"], {"default": 30.0, "type": float},
     "a rank supervisor or node agent silent this long is lost"),
    (["--stop-grace"], {"default": 10.0, "type": float}, "seconds between SIGTERM and SIGKILL when stopping workers"),
    (["--secret-file"], {"default": None},
     "file holding the job secret (or set DISTTORCH_SECRET); required with more than one node"),
    (["--log-dir"], {"default": None}, "write each rank's output to LOG_DIR/attempt_N/RANK/{stdout,stderr}.log"),
    (["--redirects", "-r"], {"default": "0"},
     "send output to the log files only: 0 none, 1 stdout, 2 stderr, 3 both, or per local rank 0:3,1:2"),
    (["--tee", "-t"], {"default": "0"}, "also copy output to the log files (same values as --redirects)"),
    (["--local-ranks-filter"], {"default": None}, "show console output of these local ranks only, e.g. 0,1"),
    (["--module", "-m"], {"action": "store_true"}, "run the script as a Python module (python -m)"),
    (["--no-python"], {"action": "store_true"}, "run the script directly, not through Python"),
]


def _parser():
    parser = argparse.ArgumentParser(
        prog="disttorch-run", description="Start, watch and restart a data-parallel training job.",
        epilog="Every option can also be set as PET_<OPTION> in the environment, e.g. PET_NPROC_PER_NODE=2.")
    for flags, options, text in _OPTIONS:
        long_flag = flags[0]
        dest = long_flag[2:].replace("-", "_")
        spellings = list(flags)
        if "-" in long_flag[2:]:
            spellings.append("--" + dest)
        env_value = os.environ.get("PET_" + dest.upper())
        if env_value is not None:
            options = dict(options)
            if options.get("action") == "store_true":
                options["default"] = env_value.lower() in ("1", "true", "yes")
            else:
                options["default"] = options.get("type", str)(env_value)
        parser.add_argument(*spellings, dest=dest, help=text, **options)
    parser.add_argument("script", help="training script (or module with -m, or program with --no-python)")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the script")
    return parser


def gpu_count():
    """GPUs visible to this process (``CUDA_VISIBLE_DEVICES`` respected)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([item for item in visible.split(",") if item.strip() and item.strip() != "-1"])
    return len(glob.glob("/proc/driver/nvidia/gpus/*"))


def resolve_nproc(value):
    """Turn ``--nproc-per-node`` into a number of workers."""
    if value == "cpu":
        return os.cpu_count() or 1
    if value == "gpu":
        count = gpu_count()
        if count == 0:
            raise ValueError("--nproc-per-node gpu: no GPU is visible on this node")
        return count
    if value == "auto":
        return gpu_count() or os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"--nproc-per-node must be an int, auto, cpu or gpu, got {value!r}") from None
    if count < 1:
        raise ValueError(f"--nproc-per-node must be at least 1, got {count}")
    return count


def _resolve_nnodes(value):
    low, _, high = str(value).partition(":")
    if high and high != low:
        raise ValueError(f"--nnodes {value}: elastic node ranges are not supported; give a fixed count")
    nnodes = int(low)
    if nnodes < 1:
        raise ValueError(f"--nnodes must be at least 1, got {nnodes}")
    return nnodes


def _slurm_defaults(args):
    """Fill node count, node rank and master address from an srun step (one task per node)."""
    environ = os.environ
    if "SLURM_STEP_ID" not in environ or args.nnodes is not None:
        return
    nodes = int(environ.get("SLURM_STEP_NUM_NODES", environ.get("SLURM_NNODES", "1")))
    if int(environ.get("SLURM_STEP_NUM_TASKS", nodes)) != nodes:
        raise ValueError("under srun, run disttorch-run as one task per node (--ntasks-per-node=1)")
    args.nnodes = str(nodes)
    if args.node_rank is None:
        args.node_rank = int(environ["SLURM_NODEID"])
    if args.master_addr is None and args.rdzv_endpoint is None and nodes > 1:
        args.master_addr = _slurm_first_node_address(environ["SLURM_STEP_NODELIST"])
    if args.rdzv_id is None:
        args.rdzv_id = environ.get("SLURM_JOB_ID")


def _slurm_first_node_address(nodelist):
    """NodeAddr of the first node of a SLURM node list (node names need not resolve)."""
    def scontrol(*args):
        return subprocess.run(["scontrol", *args], capture_output=True, text=True, check=True).stdout

    first = scontrol("show", "hostnames", nodelist).split()[0]
    for field in scontrol("show", "node", "-o", first).split():
        if field.startswith("NodeAddr="):
            return field[len("NodeAddr="):]
    return first


def read_hostfile(path):
    """Hosts of an mpirun-style host file, in order (``HOST`` or ``HOST:SLOTS`` per line, ``#`` comments)."""
    with open(path) as handle:
        hosts = [line.split("#", 1)[0].strip().split(":", 1)[0] for line in handle]
    hosts = [host for host in hosts if host]
    if not hosts:
        raise ValueError(f"the host file {path} lists no host")
    return hosts


def _secret(args, nnodes):
    if args.secret_file:
        with open(args.secret_file) as handle:
            secret = handle.read().strip()
        if not secret:
            raise ValueError(f"the secret file {args.secret_file} is empty")
        return secret
    if os.environ.get("DISTTORCH_SECRET"):
        return os.environ["DISTTORCH_SECRET"]
    if nnodes > 1:
        raise ValueError(
            "a job on several nodes needs a shared secret: generate one with\n"
            "  python -c 'import secrets; print(secrets.token_hex(32))'\n"
            "and give it to every node as DISTTORCH_SECRET or in a file named by --secret-file")
    return protocol.new_secret()


def build_config(argv=None):
    """Parse the command line into a :class:`~launcher.config.LaunchConfig`."""
    args = _parser().parse_args(argv)
    if args.module and args.no_python:
        raise ValueError("-m/--module and --no-python cannot be combined")
    # Checked here so a bad spec fails once, not in every rank's supervisor.
    envvars.parse_std_spec(args.redirects, "--redirects")
    envvars.parse_std_spec(args.tee, "--tee")
    envvars.parse_ranks_filter(args.local_ranks_filter)
    if (args.redirects != "0" or args.tee != "0") and not args.log_dir:
        raise ValueError("--redirects and --tee write to per-rank files: give --log-dir as well")
    _slurm_defaults(args)
    hosts = None
    if args.hostfile:
        hosts = read_hostfile(args.hostfile)
        if args.nnodes is not None and _resolve_nnodes(args.nnodes) != len(hosts):
            raise ValueError(f"--nnodes {args.nnodes} but {args.hostfile} lists {len(hosts)} hosts")
        if args.node_rank:
            raise ValueError("with --hostfile, disttorch-run runs once, on node 0: drop --node-rank")
        args.nnodes = str(len(hosts))
    nnodes = _resolve_nnodes(args.nnodes or "1")
    if args.standalone:
        if nnodes != 1:
            raise ValueError("--standalone runs a single node; drop --nnodes or --standalone")
        args.master_addr, args.master_port, args.rdzv_id = "127.0.0.1", 0, uuid.uuid4().hex[:12]
    master_addr, master_port = args.master_addr, args.master_port
    if args.rdzv_endpoint:
        host, _, port = args.rdzv_endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--rdzv-endpoint must be HOST:PORT, got {args.rdzv_endpoint!r}")
        master_addr, master_port = host, int(port)
    if master_port is None:
        master_port = 0 if nnodes == 1 else 29500
    node_rank = args.node_rank or 0
    if not 0 <= node_rank < nnodes:
        raise ValueError(f"--node-rank must be in 0..{nnodes - 1}, got {node_rank}")
    if args.no_python:
        command = [args.script]
    else:
        command = [sys.executable, "-u", "-m", "launcher.runner", "module" if args.module else "script", args.script]
    return LaunchConfig(
        command=command + args.script_args,
        nproc_per_node=resolve_nproc(args.nproc_per_node),
        nnodes=nnodes, node_rank=node_rank,
        master_addr=master_addr or "127.0.0.1", master_port=master_port,
        job_id=args.rdzv_id or "none",
        # In ssh mode hydra carries the generated secret to the hosts with the environment.
        secret=_secret(args, 1 if hosts else nnodes),
        max_restarts=args.max_restarts, monitor_interval=args.monitor_interval,
        hang_timeout=args.hang_timeout, heartbeat_interval=args.heartbeat_interval,
        heartbeat_timeout=args.heartbeat_timeout, stop_grace=args.stop_grace,
        rdzv_timeout=args.rdzv_timeout, hosts=hosts, ssh=args.ssh, log_dir=args.log_dir,
        redirects=args.redirects, tee=args.tee, local_ranks_filter=args.local_ranks_filter)


def main(argv=None):
    """Entry point of ``disttorch-run`` and ``python -m launcher``."""
    from launcher.agent import MasterAgent, install_signal_handlers
    from launcher.node import NodeAgent

    # The control plane logs refused and malformed messages as warnings.
    logging.basicConfig(format="disttorch-run: %(message)s", level=logging.WARNING)
    try:
        config = build_config(argv)
        agent = MasterAgent(config) if config.node_rank == 0 else NodeAgent(config)
    except (ValueError, RuntimeError, OSError) as exc:
        sys.exit(f"disttorch-run: error: {exc}")
    install_signal_handlers(agent)
    try:
        returncode = agent.run()
    except (TimeoutError, RuntimeError) as exc:
        sys.exit(f"disttorch-run: error: {exc}")
    sys.exit(returncode)
