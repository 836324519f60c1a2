"""hydra's ``-launcher-exec`` program: start an MPI proxy on another node, without ssh.

hydra calls ``PROGRAM [ssh options] HOST COMMAND...`` once per remote host.
This program asks the control plane to have the node agent of HOST run
COMMAND, then waits and exits with COMMAND's exit code, as ssh would.
"""

import os
import signal
import socket
import sys
import threading

from launcher import env as envvars
from launcher.client import ControlClient, ControlPlaneError


def split_ssh_arguments(argv):
    """``['-x', 'host', 'cmd', ...]`` -> ``('host', 'cmd ...')``: hydra quotes for a remote shell."""
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        index += 1
    if index + 1 >= len(argv):
        raise ValueError(f"expected [ssh options] HOST COMMAND..., got {argv!r}")
    return argv[index], " ".join(argv[index + 1:])


def main(argv=None):
    """Entry point, called by hydra."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        host, command = split_ssh_arguments(argv)
    except ValueError as exc:
        sys.exit(f"launcher.remote_exec: {exc}")
    done = threading.Event()
    result = {"returncode": 255}

    def on_message(msg_type, body):
        if msg_type == "exec_done":
            result["returncode"] = body["returncode"]
            done.set()

    environ = os.environ
    client = ControlClient(
        environ[envvars.CONTROL_ENDPOINT], environ[envvars.SECRET].encode(),
        {"role": "exec", "job": environ.get(envvars.JOB_ID, ""),
         "restart": int(environ.get(envvars.RESTART_COUNT, "0")),
         "host": socket.gethostname(), "pid": os.getpid()},
        heartbeat_interval=float(environ.get(envvars.HEARTBEAT_INTERVAL, "1")),
        on_message=on_message, server_timeout=float(environ.get(envvars.HEARTBEAT_TIMEOUT, "30")),
        on_lost=done.set)
    try:
        client.connect(timeout=30)
    except ControlPlaneError as exc:
        sys.exit(f"launcher.remote_exec: {exc}")
    # hydra kills its launcher processes on cleanup; the node agent then
    # stops the proxy when the launcher tells it to.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    client.send("exec_request", {"host": host, "argv": [command]})
    done.wait()
    client.close()
    sys.exit(result["returncode"])


if __name__ == "__main__":
    main()
