"""The control-plane server under hostile input, and its clients."""

import hashlib
import hmac
import logging
import os
import random
import socket
import struct
import threading
import time

import msgpack
import pytest
import zmq

from launcher import protocol
from launcher.client import ControlClient, ControlPlaneError
from launcher.job import JobState
from launcher.server import ControlServer

SECRET = b"job-secret"


@pytest.fixture
def server():
    job = JobState("fuzz", nnodes=1, nproc_per_node=2)
    job.begin_group(0, 2)
    control = ControlServer("127.0.0.1", 0, SECRET, job)
    control.start()
    try:
        yield control
    finally:
        control.close()


def hello(rank, role="worker", job="fuzz"):
    return {"role": role, "job": job, "restart": 0, "host": "test", "pid": os.getpid(), "rank": rank}


def connect(server, rank=0, secret=SECRET, **options):
    client = ControlClient(server.endpoint, secret, hello(rank), heartbeat_interval=0.05, **options)
    client.connect(timeout=5)
    return client


def raw_dealer(server):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    return sock


def test_client_connects_and_barrier_releases(server):
    first, second = connect(server, 0), connect(server, 1)
    try:
        waiter = threading.Thread(target=first.barrier, args=("start", 5))
        waiter.start()
        second.barrier("start", timeout=5)
        waiter.join(5)
        assert not waiter.is_alive()
    finally:
        first.close()
        second.close()


def test_wrong_secret_is_refused(server, caplog):
    with caplog.at_level(logging.WARNING, logger="launcher.server"):
        with pytest.raises(ControlPlaneError, match="another job secret"):
            connect(server, secret=b"not-the-secret")
    assert "wrong job secret" in caplog.text or "does not match" in caplog.text
    assert not server.peers


def test_wrong_job_and_unknown_rank_are_refused(server):
    client = ControlClient(server.endpoint, SECRET, hello(0, job="other"))
    with pytest.raises(ControlPlaneError, match="rdzv id"):
        client.connect(timeout=5)
    client = ControlClient(server.endpoint, SECRET, hello(7))
    with pytest.raises(ControlPlaneError, match="rank 7 is not in this group"):
        client.connect(timeout=5)


def fuzz_frames(rng):
    """Hostile frames: random bytes, truncated or mistyped msgpack, bad MACs, replays."""
    frames = [rng.randbytes(rng.randrange(0, 200)) for _ in range(200)]
    valid = protocol.encode(SECRET, "hello", 1, hello(0))
    frames += [valid[:cut] for cut in range(0, len(valid), 3)]
    frames += [valid[:32] + valid[32:cut] for cut in range(33, len(valid))]
    frames.append(bytes([valid[0] ^ 1]) + valid[1:])

    def signed(obj):
        payload = msgpack.packb(obj) if not isinstance(obj, bytes) else obj
        return hmac.new(SECRET, payload, hashlib.sha256).digest() + payload

    frames += [signed(obj) for obj in (
        {"type": "hello", "seq": 1, "body": {"role": 5}},
        {"type": "hello", "seq": 1, "body": {**hello(0), "role": "admin"}},
        {"type": "heartbeat", "seq": 1, "body": {}},  # before hello
        {"type": ["hello"], "seq": 1, "body": {}},
        {"type": "hello", "seq": 1.5, "body": hello(0)},
        {"type": "hello", "seq": 1, "body": {**hello(0), "pid": "1"}},
        None, 12, "hello", [1, 2],
        b"\xdb\x7f\xff\xff\xff", b"\xc6\x7f\xff\xff\xff", b"\xdf\x7f\xff\xff\xff",
    )]
    return frames


def test_fuzzed_frames_are_rejected_and_server_keeps_serving(server, caplog):
    rng = random.Random(1234)
    sock = raw_dealer(server)
    with caplog.at_level(logging.WARNING, logger="launcher.server"):
        for frame in fuzz_frames(rng):
            sock.send(frame)
        sock.send_multipart([b"a", b"b", b"c"])
        # A frame over the size limit: libzmq drops this peer before buffering it.
        sock.send(b"\0" * (protocol.MAX_MESSAGE_BYTES * 4))
        time.sleep(0.5)
    assert "rejected" in caplog.text and "refused" in caplog.text
    assert not server.peers
    client = connect(server)
    client.close()


def test_out_of_order_and_role_violations_are_rejected(server, caplog):
    sock = raw_dealer(server)
    sock.send(protocol.encode(SECRET, "hello", 5, hello(0)))
    msg_type, _, welcome = protocol.decode(SECRET, sock.recv())
    assert msg_type == "welcome"
    session = welcome["session"]
    with caplog.at_level(logging.WARNING, logger="launcher.server"):
        sock.send(protocol.encode(SECRET, "progress", 5, {"step": 1}, session))  # replayed seq
        sock.send(protocol.encode(SECRET, "exit", 6, {"rank": 0, "returncode": 1, "signal": None, "tail": []},
                                  session))
        sock.send(protocol.encode(SECRET, "hello", 7, hello(0), session))
        time.sleep(0.3)
    assert "replayed or out of order" in caplog.text
    assert "a worker may not send exit" in caplog.text
    assert "hello sent twice" in caplog.text
    assert server._job.failure() is None
    sock.send(protocol.encode(SECRET, "progress", 8, {"step": 3}, session))
    time.sleep(0.2)
    assert server._job._ranks[0].step == 3


def test_frames_replayed_on_another_connection_are_refused(server, caplog):
    victim = raw_dealer(server)
    victim.send(protocol.encode(SECRET, "hello", 1, hello(0)))
    session = protocol.decode(SECRET, victim.recv())[2]["session"]
    captured = protocol.encode(SECRET, "progress", 2, {"step": 99}, session)
    attacker = raw_dealer(server)
    attacker.send(protocol.encode(SECRET, "hello", 1, hello(1)))  # a replayed hello gets a new session
    assert protocol.decode(SECRET, attacker.recv())[0] == "welcome"
    with caplog.at_level(logging.WARNING, logger="launcher.server"):
        attacker.send(captured)
        time.sleep(0.3)
    assert "does not match" in caplog.text
    assert server._job._ranks[0].step is None and server._job._ranks[1].step is None


def test_raw_tcp_garbage_and_huge_zmtp_lengths(server):
    for payload in (
        os.urandom(4096),
        # ZMTP 3 greeting, then a long frame header announcing 2**62 bytes.
        b"\xff" + b"\0" * 8 + b"\x7f\x03\x00" + b"NULL" + b"\0" * 16 + b"\0" + b"\0" * 31
        + b"\x02" + struct.pack(">Q", 2 ** 62),
    ):
        with socket.create_connection((server.host, server.port), timeout=5) as conn:
            conn.sendall(payload)
            time.sleep(0.1)
    client = connect(server)
    client.close()


def test_client_notices_a_silent_server():
    job = JobState("fuzz", nnodes=1, nproc_per_node=1)
    job.begin_group(0, 1)
    control = ControlServer("127.0.0.1", 0, SECRET, job)
    control.start()
    lost = threading.Event()
    client = ControlClient(control.endpoint, SECRET, hello(0), heartbeat_interval=0.05,
                           server_timeout=0.5, on_lost=lost.set)
    client.connect(timeout=5)
    control.close()
    assert lost.wait(5)
    client.close()
