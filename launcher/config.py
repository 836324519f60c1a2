"""The resolved configuration of one launch (what the command line means)."""

import dataclasses


@dataclasses.dataclass
class LaunchConfig:
    """Everything the agents need to run a job; built by :mod:`launcher.cli`.

    Attributes:
        command (list of str): the worker command line (interpreter included).
        nproc_per_node (int): workers on each node.
        nnodes (int): number of nodes.
        node_rank (int): this node's rank; 0 is the master.
        master_addr (str): address of the control plane (and of node 0).
        master_port (int): its port; 0 picks a free one (single node only).
        job_id (str): rendezvous id shared by every node of the job.
        secret (str): the job secret (hex).
        max_restarts (int): how often a failed group is restarted.
        monitor_interval (float): seconds between checks of the workers.
        hang_timeout (float): a rank without activity this long is hung.
        heartbeat_interval (float): seconds between heartbeats.
        heartbeat_timeout (float): a supervisor or agent silent this long is lost.
        stop_grace (float): seconds between SIGTERM and SIGKILL.
        rdzv_timeout (float): how long the master waits for the other nodes.
        hosts (list of str or None): ssh mode: the hosts, node 0 first; hydra
            reaches them with ``ssh`` instead of asking their node agents.
        ssh (str): the program hydra reaches the hosts with in ssh mode.
        log_dir (str or None): per-rank log files go under it.
        redirects (str): torchrun ``--redirects`` spec.
        tee (str): torchrun ``--tee`` spec.
        local_ranks_filter (str or None): local ranks whose output is shown.
    """

    command: list
    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 0
    job_id: str = "none"
    secret: str = ""
    max_restarts: int = 0
    monitor_interval: float = 0.1
    hang_timeout: float = 300.0
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 30.0
    stop_grace: float = 10.0
    rdzv_timeout: float = 300.0
    hosts: object = None
    ssh: str = "ssh"
    log_dir: object = None
    redirects: str = "0"
    tee: str = "0"
    local_ranks_filter: object = None

    @property
    def world_size(self):
        """Total number of workers."""
        return self.nnodes * self.nproc_per_node
