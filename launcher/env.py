"""The environment contract between the launcher, its rank supervisors and workers.

Workers get torchrun's variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``ROLE_RANK``, ``ROLE_WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``, ``TORCHELASTIC_RESTART_COUNT``,
``TORCHELASTIC_MAX_RESTARTS``, ``TORCHELASTIC_RUN_ID``) plus the
``DISTTORCH_*`` variables below, which :mod:`launcher.worker` reads.
"""

import os

CONTROL_ENDPOINT = "DISTTORCH_CONTROL_ENDPOINT"
SECRET = "DISTTORCH_SECRET"
JOB_ID = "DISTTORCH_JOB_ID"
RESTART_COUNT = "DISTTORCH_RESTART_COUNT"
MAX_RESTARTS = "DISTTORCH_MAX_RESTARTS"
HEARTBEAT_INTERVAL = "DISTTORCH_HEARTBEAT_INTERVAL"
HEARTBEAT_TIMEOUT = "DISTTORCH_HEARTBEAT_TIMEOUT"
NPROC_PER_NODE = "DISTTORCH_NPROC_PER_NODE"
STOP_GRACE = "DISTTORCH_STOP_GRACE"
LOG_DIR = "DISTTORCH_LOG_DIR"
REDIRECTS = "DISTTORCH_REDIRECTS"
TEE = "DISTTORCH_TEE"
LOCAL_RANKS_FILTER = "DISTTORCH_LOCAL_RANKS_FILTER"

# Thread-pool variables of the BLAS/OpenMP runtimes numpy and torch may load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_defaults(environ, nproc_per_node):
    """Return ``(variables, notice)``: one thread per worker when several share a node.

    Like torchrun, only when the user set none of them: oversubscribed BLAS
    pools make every worker slower than one thread each.
    """
    if nproc_per_node <= 1 or any(name in environ for name in THREAD_VARIABLES):
        return {}, None
    notice = (f"setting OMP_NUM_THREADS=1 (and the BLAS equivalents) for "
              f"{nproc_per_node} workers per node; set OMP_NUM_THREADS to override")
    return {name: "1" for name in THREAD_VARIABLES}, notice


def parse_std_spec(spec, flag):
    """Parse a ``--redirects``/``--tee`` value: ``"3"`` or ``"0:1,1:2"`` (local rank: streams).

    Returns:
        callable: ``local_rank -> int`` with bit 1 = stdout, bit 2 = stderr.
    """
    spec = str(spec).strip()

    def stream_bits(text):
        if text not in ("0", "1", "2", "3"):
            raise ValueError(f"{flag} expects 0 (none), 1 (stdout), 2 (stderr) or 3 (both), got {text!r}")
        return int(text)

    if ":" not in spec:
        bits = stream_bits(spec)
        return lambda local_rank: bits
    per_rank = {}
    for item in spec.split(","):
        rank_text, _, bits_text = item.partition(":")
        if not rank_text.strip().isdigit():
            raise ValueError(f"{flag} entry {item!r} must look like LOCAL_RANK:STREAMS, e.g. 0:3")
        per_rank[int(rank_text)] = stream_bits(bits_text.strip())
    return lambda local_rank: per_rank.get(local_rank, 0)


def parse_ranks_filter(spec):
    """Parse ``--local-ranks-filter`` (``"0,2"``); None or ``""`` means every rank."""
    if not spec:
        return None
    try:
        return {int(item) for item in str(spec).split(",") if item.strip()}
    except ValueError:
        raise ValueError(f"--local-ranks-filter expects comma-separated local ranks, got {spec!r}") from None


def worker_environment(rank, world_size, nproc_per_node, environ=os.environ):
    """The torchrun variables of one rank, derived from its global rank.

    Ranks are placed in blocks: node ``k`` runs ranks ``k*nproc .. k*nproc+nproc-1``,
    which is how the launcher writes its host list.
    """
    group_rank, local_rank = divmod(rank, nproc_per_node)
    return {
        "RANK": str(rank),
        "WORLD_SIZE": str(world_size),
        "LOCAL_RANK": str(local_rank),
        "LOCAL_WORLD_SIZE": str(nproc_per_node),
        "GROUP_RANK": str(group_rank),
        "ROLE_RANK": str(rank),
        "ROLE_WORLD_SIZE": str(world_size),
        "ROLE_NAME": "default",
        "TORCHELASTIC_RESTART_COUNT": environ.get(RESTART_COUNT, "0"),
        "TORCHELASTIC_MAX_RESTARTS": environ.get(MAX_RESTARTS, "0"),
        "TORCHELASTIC_RUN_ID": environ.get(JOB_ID, "none"),
    }
