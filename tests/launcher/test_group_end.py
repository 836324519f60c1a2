"""How a group ends on the node agents and the master: a stop ends the proxies of the group being
stopped, and only those (a restart may start the next attempt's proxy while they are still ending);
the ranks' own exits, not hydra's teardown, decide whether a group succeeded."""
import time

from launcher.config import LaunchConfig
from launcher.node import NodeAgent


class _Client:
    def __init__(self):
        self.sent = []

    def send(self, msg_type, body):
        self.sent.append((msg_type, body))


def _agent():
    agent = NodeAgent(LaunchConfig.__new__(LaunchConfig))
    agent._client = _Client()
    return agent


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_a_stop_spares_the_next_attempts_proxy():
    agent = _agent()
    agent._on_message("spawn", {"request": 1, "argv": ["exec sleep 30"]})
    old = agent._proxies[1]
    try:
        # the stop waits grace + 2 s for the old proxy; the next attempt starts meanwhile
        agent._on_message("stop", {"grace": 0.0, "reason": "restart"})
        agent._on_message("spawn", {"request": 2, "argv": ["exec sleep 30"]})
        new = agent._proxies[2]
        assert _wait_for(lambda: old.returncode is not None), "the stopped proxy still runs"
        time.sleep(1.5)   # past the SIGKILL that follows the stop's SIGTERM
        assert new.returncode is None and new.poll() is None, "the new attempt's proxy was stopped"
        assert ("spawn_exit", {"request": 1, "returncode": old.returncode}) in agent._client.sent
    finally:
        agent._stop_proxies(0)
    assert _wait_for(lambda: all(p.returncode is not None for p in (old, new)))


def test_a_stop_lets_proxies_that_end_in_time_end_by_themselves():
    agent = _agent()
    agent._on_message("spawn", {"request": 1, "argv": ["sleep 0.3; exit 3"]})
    proxy = agent._proxies[1]
    agent._on_message("stop", {"grace": 1.0, "reason": "done"})
    assert _wait_for(lambda: proxy.returncode is not None)
    assert proxy.returncode == 3   # its own exit status: it was not signalled


def test_hydras_teardown_error_after_clean_rank_exits_is_not_a_failure():
    # hydra (-disable-auto-cleanup) may fail to signal a proxy that already left, and exit
    # non-zero after every rank finished its work: the ranks' own exits decide
    from launcher import console as console_mod
    from launcher.agent import MasterAgent
    from launcher.job import JobState

    agent = MasterAgent.__new__(MasterAgent)
    agent.console = console_mod.Console()
    agent.job = JobState("job", 1, 2)
    agent.job.begin_group(0, 2)
    notices = []
    agent.console.notice = notices.append
    for rank in range(2):
        agent.job._ranks[rank].exit = (0, None)
    assert agent._after_exit(255) is None
    assert "exited cleanly" in notices[0] and "code 255" in notices[0]
    # one rank without a clean exit: the manager's error is the failure
    agent.job.begin_group(1, 2)
    agent.job._ranks[0].exit = (0, None)
    failure = agent._after_exit(255)
    assert failure is not None and "exited with code 255" in failure.summary
