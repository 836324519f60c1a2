"""Control-plane server: the ROUTER socket on ``MASTER_ADDR:MASTER_PORT``.

This module owns the transport rules (authentication, size limit, sequence
order, hello-first, which role may send what); :class:`launcher.job.JobState`
owns what the messages mean. A bad frame is logged and dropped and the
server keeps serving: one broken or hostile peer must never take the job
down.
"""

import logging
import os
import queue
import socket
import threading
import time

import zmq

from launcher import protocol

log = logging.getLogger("launcher.server")

# What each role may send after its hello.
ALLOWED = {
    "agent": {"heartbeat", "spawn_exit", "bye"},
    "shim": {"heartbeat", "exit", "bye"},
    "worker": {"heartbeat", "progress", "barrier", "bye"},
    "exec": {"heartbeat", "exec_request", "bye"},
}


class Peer:
    """What the server knows about one connected client."""

    def __init__(self, identity, hello):
        self.identity = identity
        self.role = hello["role"]
        self.job = hello["job"]
        self.host = hello["host"]
        self.pid = hello["pid"]
        self.rank = hello.get("rank")
        self.node_rank = hello.get("node_rank")
        self.nproc_per_node = hello.get("nproc_per_node")
        self.restart = hello["restart"]
        self.session = protocol.new_session()
        self.last_seq = 0
        self.last_seen = time.monotonic()


class ControlServer:
    """Serve the control plane of one job on a background thread.

    Args:
        host (str): address to bind (the master address; loopback for one node).
        port (int): TCP port; 0 picks a free one (see :attr:`port`).
        secret (bytes): the job secret.
        job (launcher.job.JobState): receives every valid message.
    """

    def __init__(self, host, port, secret, job):
        self._secret = secret
        self._job = job
        self._socket = zmq.Context.instance().socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 500)
        # libzmq drops a peer announcing a larger frame before allocating it.
        self._socket.setsockopt(zmq.MAXMSGSIZE, protocol.MAX_MESSAGE_BYTES)
        self._socket.setsockopt(zmq.ROUTER_MANDATORY, 0)
        try:
            # zmq binds to addresses or interface names, not host names.
            address = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)[0][4][0]
            bind_host = f"[{address}]" if ":" in address else address
            if port:
                self._socket.bind(f"tcp://{bind_host}:{port}")
            else:
                port = self._socket.bind_to_random_port(f"tcp://{bind_host}")
        except (zmq.ZMQError, socket.gaierror) as exc:
            self._socket.close(linger=0)
            raise RuntimeError(
                f"cannot bind the control plane to {host}:{port} ({exc}); pick another "
                "--master-port or check that --master-addr is an address of this machine") from None
        self.host = host
        self.port = port
        self.peers = {}
        self._sent = 0
        self._outbox = queue.SimpleQueue()
        self._wake_read, self._wake_write = os.pipe()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="disttorch-control-server", daemon=True)
        job.attach(self)

    @property
    def endpoint(self):
        """``tcp://HOST:PORT`` for clients."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    def start(self):
        """Start serving."""
        self._thread.start()

    def push(self, identity, msg_type, body=None):
        """Send a message to one peer; thread-safe."""
        self._outbox.put((identity, msg_type, body))
        os.write(self._wake_write, b"x")

    def close(self):
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._stopping.set()
            os.write(self._wake_write, b"x")
            self._thread.join(timeout=5)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self):
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._wake_read, zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                ready = dict(poller.poll(500))
                if self._wake_read in ready:
                    os.read(self._wake_read, 4096)
                self._flush()
                while self._socket.poll(0):
                    self._handle(self._socket.recv_multipart(copy=True))
            self._flush()
        finally:
            self._socket.close()

    def _flush(self):
        while True:
            try:
                identity, msg_type, body = self._outbox.get_nowait()
            except queue.Empty:
                return
            self._sent += 1
            # Answers to a hello (welcome, refused) go out before the peer knows a session.
            peer = self.peers.get(identity)
            session = peer.session if peer is not None and msg_type != "welcome" else ""
            frame = protocol.encode(self._secret, msg_type, self._sent, body, session)
            self._socket.send_multipart([identity, frame])

    def _handle(self, frames):
        identity = frames[0]
        if len(frames) != 2:
            log.warning("rejected %d-frame message from peer %s: expected one frame",
                        len(frames) - 1, identity.hex())
            return
        peer = self.peers.get(identity)
        try:
            msg_type, seq, body = protocol.decode(self._secret, frames[1], peer.session if peer else "")
        except protocol.AuthenticationError as exc:
            log.warning("refused peer %s: %s", identity.hex(), exc)
            self.push(identity, "refused", {"reason": "authentication failed: wrong job secret"})
            return
        except protocol.ProtocolError as exc:
            log.warning("rejected message from peer %s: %s", identity.hex(), exc)
            return
        reason = self._order_error(peer, msg_type, seq, body)
        if reason:
            log.warning("rejected %s from peer %s: %s", msg_type, identity.hex(), reason)
            return
        if msg_type == "hello":
            peer = Peer(identity, body)
            refusal = self._job.on_hello(peer)
            if refusal:
                log.warning("refused %s %s from %s: %s", peer.role, peer.rank, peer.host, refusal)
                self.push(identity, "refused", {"reason": refusal})
                return
            self.peers[identity] = peer
            peer.last_seq = seq
            self.push(identity, "welcome", {"restart": peer.restart, "session": peer.session})
            return
        peer.last_seq = seq
        peer.last_seen = time.monotonic()
        if msg_type == "heartbeat":
            self.push(identity, "ack")
        if msg_type == "bye":
            del self.peers[identity]
        self._job.on_message(peer, msg_type, body)

    @staticmethod
    def _order_error(peer, msg_type, seq, body):
        if peer is None:
            if msg_type != "hello":
                return "a peer must say hello first"
            if body["role"] not in ALLOWED:
                return f"unknown role {body['role'][:32]!r}"
            return None
        if msg_type == "hello":
            return "hello sent twice"
        if seq <= peer.last_seq:
            return f"sequence {seq} after {peer.last_seq}: replayed or out of order"
        if msg_type not in ALLOWED[peer.role]:
            return f"a {peer.role} may not send {msg_type}"
        return None
