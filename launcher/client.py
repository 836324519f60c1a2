"""Control-plane client used by node agents, rank supervisors and workers.

One background thread owns the ZeroMQ socket (sockets are not thread-safe);
other threads hand it frames through a queue and wake it with a pipe, so a
long blocking call such as :meth:`ControlClient.barrier` never delays the
heartbeats that prove this process is alive.
"""

import logging
import os
import queue
import threading
import time

import zmq

from launcher import protocol

log = logging.getLogger("launcher.client")


class ControlPlaneError(RuntimeError):
    """The control plane refused this client or stopped answering."""


class ControlClient:
    """A connection to the launcher's control-plane server.

    Args:
        endpoint (str): ``tcp://HOST:PORT`` of the server.
        secret (bytes): the job secret; the server refuses peers without it.
        hello (dict): the ``hello`` body that identifies this peer.
        heartbeat_interval (float): seconds between heartbeats.
        heartbeat_body (callable, optional): returns the fields of each
            heartbeat (a worker sends its step and current collective).
        on_message (callable, optional): ``on_message(msg_type, body)`` for
            messages the server pushes (``stop``, ``spawn``, ``shutdown``...);
            runs on the client thread, so it must not block.
        server_timeout (float, optional): call ``on_lost`` when the server has
            been silent this long (it acknowledges every heartbeat).
        on_lost (callable, optional): called once on the client thread when
            the server is considered gone.
    """

    def __init__(self, endpoint, secret, hello, heartbeat_interval=1.0, heartbeat_body=None,
                 on_message=None, server_timeout=None, on_lost=None):
        self.endpoint = endpoint
        self._secret = secret
        self._hello = hello
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_body = heartbeat_body or dict
        self._on_message = on_message or (lambda msg_type, body: None)
        self._server_timeout = server_timeout
        self._on_lost = on_lost or (lambda: None)
        self._context = zmq.Context.instance()
        self._socket = None
        self._seq = 0
        self._session = ""
        self._seq_lock = threading.Lock()
        self._outbox = queue.SimpleQueue()
        self._wake_read, self._wake_write = os.pipe()
        self._released = {}
        self._released_lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = None
        self._last_heard = time.monotonic()

    def connect(self, timeout=30.0):
        """Send ``hello`` and wait for the server's ``welcome``.

        Raises:
            ControlPlaneError: the server refused us, answered with another
                secret, or did not answer within ``timeout`` seconds.
        """
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 2000)
        self._socket.setsockopt(zmq.MAXMSGSIZE, protocol.MAX_MESSAGE_BYTES)
        self._socket.connect(self.endpoint)
        self._socket.send(self._encode("hello", self._hello))
        if not self._socket.poll(int(timeout * 1000)):
            self._socket.close(linger=0)
            raise ControlPlaneError(
                f"no answer from the control plane at {self.endpoint} within {timeout:g} s: "
                "check MASTER_ADDR/MASTER_PORT and that the launcher on the master node is running")
        try:
            msg_type, _, body = protocol.decode(self._secret, self._socket.recv())
        except protocol.AuthenticationError:
            self._socket.close(linger=0)
            raise ControlPlaneError(
                f"the control plane at {self.endpoint} uses another job secret: give every node "
                "the same --secret (or DISTTORCH_SECRET)") from None
        if msg_type == "refused":
            self._socket.close(linger=0)
            raise ControlPlaneError(f"the control plane at {self.endpoint} refused us: {body['reason']}")
        if msg_type != "welcome":
            self._socket.close(linger=0)
            raise ControlPlaneError(f"expected welcome from {self.endpoint}, got {msg_type}")
        self._session = body["session"]
        self._last_heard = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="disttorch-control", daemon=True)
        self._thread.start()
        return body

    def send(self, msg_type, body=None):
        """Queue one message for the server; thread-safe, never blocks. Dropped after close()."""
        if self._closing.is_set():
            return
        self._outbox.put(self._encode(msg_type, body))
        os.write(self._wake_write, b"x")

    def barrier(self, name, timeout=None):
        """Block until every worker of the job has reached barrier ``name``."""
        event = threading.Event()
        with self._released_lock:
            self._released.setdefault(name, event)
            event = self._released[name]
        self.send("barrier", {"name": name})
        if not event.wait(timeout):
            raise ControlPlaneError(f"barrier {name!r} not released within {timeout} s")
        with self._released_lock:
            del self._released[name]

    def close(self):
        """Say goodbye, flush what is queued and stop the client thread."""
        if self._thread is None or self._closing.is_set():
            return
        self.send("bye")
        self._closing.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _encode(self, msg_type, body):
        with self._seq_lock:
            self._seq += 1
            return protocol.encode(self._secret, msg_type, self._seq, body, self._session)

    def _run(self):
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._wake_read, zmq.POLLIN)
        next_beat = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if now >= next_beat and not self._closing.is_set():
                    self.send("heartbeat", self._heartbeat_body())
                    next_beat = now + self._heartbeat_interval
                ready = dict(poller.poll(max(0, int((next_beat - now) * 1000)) + 1))
                if self._wake_read in ready:
                    os.read(self._wake_read, 4096)
                self._flush()
                if self._closing.is_set():
                    return
                while self._socket.poll(0):
                    self._receive(self._socket.recv())
                if self._server_timeout and time.monotonic() - self._last_heard > self._server_timeout:
                    log.error("control plane at %s silent for %.0f s", self.endpoint, self._server_timeout)
                    self._on_lost()
                    return
        finally:
            self._socket.close()

    def _flush(self):
        while True:
            try:
                frame = self._outbox.get_nowait()
            except queue.Empty:
                return
            self._socket.send(frame)

    def _receive(self, frame):
        try:
            msg_type, _, body = protocol.decode(self._secret, frame, self._session)
        except protocol.ProtocolError as exc:
            log.warning("dropped a bad message from the control plane: %s", exc)
            return
        self._last_heard = time.monotonic()
        if msg_type == "barrier_release":
            with self._released_lock:
                self._released.setdefault(body["name"], threading.Event()).set()
        elif msg_type != "ack":
            self._on_message(msg_type, body)
