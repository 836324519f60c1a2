"""Key-value stores shared by the processes of a job (PyTorch's c10d ``Store`` API):
``HashStore`` (one process), ``FileStore`` (a file on a shared filesystem), ``TCPStore`` (a
server in one process, clients anywhere) and ``PrefixStore`` (a namespace in another store).

disttorch forms its process groups through MPI, so ``init_process_group`` needs no store;
these serve the code that uses one directly: rendezvous of its own, counters, barriers.
Values are bytes (a ``str`` is stored as UTF-8); ``get`` and ``wait`` block until the keys
exist or the store's timeout passes (``DistStoreError: Wait timeout``).
"""
import datetime
import fcntl
import os
import socket
import struct
import threading
import time
import weakref

import msgpack

from .process_group import DistNetworkError, DistStoreError

__all__ = ["Store", "HashStore", "FileStore", "TCPStore", "PrefixStore"]

_DEFAULT_TIMEOUT = datetime.timedelta(seconds=300)
_WORKERS_KEY = "__disttorch_store_workers"


def _seconds(timeout):
    return timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)


def _key(op, key):
    if not isinstance(key, str):
        raise TypeError(f"{op}(): incompatible function arguments: the key must be a str, got "
                        f"{type(key).__name__}")
    return key


def _value(op, value):
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return bytes(value)    # PyTorch accepts a list of byte values too
    raise TypeError(f"{op}(): incompatible function arguments: the value must be str or bytes, "
                    f"got {type(value).__name__}")


class _Table:
    """The store's semantics over a dict: every operation of PyTorch's ``Store``, with
    blocking reads. ``wait_for`` is how a read waits (a condition here, polling for files)."""

    def __init__(self):
        self.data = {}
        self.changed = threading.Condition()

    # each method runs with the table's state current; subclasses lock/reload around it
    def apply(self, op, args, timeout):
        with self.changed:
            if op in ("get", "wait", "multi_get"):
                keys = [args[0]] if op == "get" else list(args[0])
                if not self.changed.wait_for(lambda: all(k in self.data for k in keys),
                                             timeout):
                    raise DistStoreError("Wait timeout")
                if op == "wait":
                    return None
                return self.data[keys[0]] if op == "get" else [self.data[k] for k in keys]
            result = _mutate(self.data, op, args)
            self.changed.notify_all()
            return result


def _mutate(data, op, args):
    """Apply a non-blocking operation to ``data``; returns its result."""
    if op == "set":
        data[args[0]] = args[1]
        return None
    if op == "multi_set":
        data.update(zip(args[0], args[1]))
        return None
    if op == "add":
        key, amount = args
        try:
            current = int(data.get(key, b"0"))
        except ValueError:
            raise ValueError(f"add(): the value of key '{key}' is not an integer") from None
        data[key] = str(current + amount).encode()
        return current + amount
    if op == "append":
        data[args[0]] = data.get(args[0], b"") + args[1]
        return None
    if op == "compare_set":
        key, expected, desired = args
        if key not in data:
            if expected == b"":
                data[key] = desired
                return desired
            return expected
        if data[key] == expected:
            data[key] = desired
        return data[key]
    if op == "check":
        return all(k in data for k in args[0])
    if op == "delete_key":
        return data.pop(args[0], None) is not None
    if op == "num_keys":
        return len(data)
    raise ValueError(f"unknown store operation {op!r}")


class Store:
    """A key-value store shared by the processes of a job (``torch.distributed.Store``).

    Subclasses implement ``_call(op, args, timeout_s)``; this class checks arguments and
    converts values, so every store behaves the same.
    """

    def __init__(self, timeout=_DEFAULT_TIMEOUT):
        self.set_timeout(timeout)

    @property
    def timeout(self):
        """How long ``get``/``wait`` block before ``DistStoreError``."""
        return self._timeout

    def set_timeout(self, timeout):
        self._timeout = timeout if isinstance(timeout, datetime.timedelta) else \
            datetime.timedelta(seconds=float(timeout))

    def _call(self, op, args, timeout_s):
        raise NotImplementedError(f"{type(self).__name__} does not implement store operations")

    def _wait_s(self, timeout=None):
        return _seconds(self.timeout if timeout is None else timeout)

    def set(self, key, value):
        """Set ``key`` to ``value`` (overwriting it)."""
        self._call("set", (_key("set", key), _value("set", value)), None)

    def get(self, key):
        """The value of ``key``, waiting for it to be set."""
        return self._call("get", (_key("get", key),), self._wait_s())

    def add(self, key, amount):
        """Add ``amount`` to the integer at ``key`` (0 when unset); returns the new value."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"add(): incompatible function arguments: the amount must be an int, "
                            f"got {type(amount).__name__}")
        return self._call("add", (_key("add", key), amount), None)

    def append(self, key, value):
        """Append ``value`` to the bytes at ``key`` (set it when unset)."""
        self._call("append", (_key("append", key), _value("append", value)), None)

    def compare_set(self, key, expected_value, desired_value):
        """Set ``key`` to ``desired_value`` if its value is ``expected_value`` (or if it is
        unset and ``expected_value`` is empty); returns the value it then has (for an unset
        key left unset, ``expected_value``)."""
        return self._call("compare_set", (_key("compare_set", key),
                                          _value("compare_set", expected_value),
                                          _value("compare_set", desired_value)), None)

    def multi_get(self, keys):
        """The values of ``keys``, waiting for all of them."""
        return self._call("multi_get", ([_key("multi_get", k) for k in keys],), self._wait_s())

    def multi_set(self, keys, values):
        keys, values = list(keys), list(values)
        if len(keys) != len(values):
            raise ValueError(f"multi_set(): {len(keys)} keys but {len(values)} values")
        self._call("multi_set", ([_key("multi_set", k) for k in keys],
                                 [_value("multi_set", v) for v in values]), None)

    def wait(self, keys, timeout=None):
        """Block until every key of ``keys`` is set (``timeout`` overrides the store's)."""
        self._call("wait", ([_key("wait", k) for k in keys],), self._wait_s(timeout))

    def check(self, keys):
        """Whether every key of ``keys`` is set, without waiting."""
        return self._call("check", ([_key("check", k) for k in keys],), None)

    def delete_key(self, key):
        """Remove ``key``; True if it was set."""
        return self._call("delete_key", (_key("delete_key", key),), None)

    def num_keys(self):
        """How many keys are set."""
        return self._call("num_keys", (), None)

    def has_extended_api(self):
        return True


class HashStore(Store):
    """A store in this process's memory, for threads of one process."""

    def __init__(self):
        super().__init__()
        self._table = _Table()

    def _call(self, op, args, timeout_s):
        return self._table.apply(op, args, timeout_s)


class PrefixStore(Store):
    """``store`` with every key put under ``prefix + "/"``."""

    def __init__(self, prefix, store):
        # the timeout is the underlying store's (set_timeout passes it on)
        self._prefix = prefix + "/"
        self.underlying_store = store

    @property
    def timeout(self):
        return self.underlying_store.timeout

    def set_timeout(self, timeout):
        self.underlying_store.set_timeout(timeout)

    def _call(self, op, args, timeout_s):
        if op in ("set", "get", "add", "append", "compare_set", "delete_key"):
            args = (self._prefix + args[0],) + tuple(args[1:])
        elif op in ("multi_get", "multi_set", "wait", "check"):
            args = ([self._prefix + k for k in args[0]],) + tuple(args[1:])
        return self.underlying_store._call(op, args, timeout_s)

    def has_extended_api(self):
        return self.underlying_store.has_extended_api()


# ------------------------------------------------------------------------ FileStore
class FileStore(Store):
    """A store kept in ``file_name``, which every process of the job can open (a shared
    filesystem across machines). Each operation locks the file; blocking reads poll it.

    The file is removed when the last of ``world_size`` users (when given) is gone. As in
    PyTorch, the user count is a key of the store (``num_keys`` includes it).
    """

    _POLL_S = 0.01

    def __init__(self, file_name, world_size=-1):
        super().__init__()
        self.path = os.fspath(file_name)
        self.world_size = world_size
        # users are counted in the file itself, so the last one to go (in any process)
        # removes it
        self._call("add", ("__disttorch_file_store_users", 1), None)
        self._finalizer = weakref.finalize(self, FileStore._leave, self.path, world_size)

    def _locked(self, fn):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+b") as f:
                raw = f.read()
                data = msgpack.unpackb(raw, raw=False) if raw else {}
                result, changed = fn(data)
                if changed:
                    f.seek(0)
                    f.truncate()
                    f.write(msgpack.packb(data, use_bin_type=True))
                    f.flush()
                    os.fsync(f.fileno())
            return result
        finally:
            os.close(fd)    # releases the lock

    def _call(self, op, args, timeout_s):
        if op not in ("get", "wait", "multi_get"):
            mutating = op not in ("check", "num_keys")
            return self._locked(lambda data: (_mutate(data, op, args), mutating))
        keys = [args[0]] if op == "get" else list(args[0])
        deadline = time.monotonic() + timeout_s
        while True:
            values = self._locked(lambda data: ([data.get(k) for k in keys], False))
            if all(v is not None for v in values):
                return None if op == "wait" else (values[0] if op == "get" else values)
            if time.monotonic() >= deadline:
                if op == "get":
                    raise DistStoreError(f"Timeout waiting for key: {keys[0]} after "
                                         f"{round(timeout_s * 1000)} ms")
                raise DistStoreError("Wait timeout")
            time.sleep(self._POLL_S)

    def has_extended_api(self):
        # (PyTorch's FileStore reports no extended API; append and multi_* work all the same)
        return False

    def delete_key(self, key):
        """Remove ``key``. Returns True, whether or not it was set, as PyTorch's FileStore
        does (its log of operations cannot tell)."""
        super().delete_key(key)
        return True

    @staticmethod
    def _leave(path, world_size):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+b") as f:
                raw = f.read()
                data = msgpack.unpackb(raw, raw=False) if raw else {}
                left = int(data.get("__disttorch_file_store_users", b"1")) - 1
                if left <= 0 and world_size != -1:
                    os.unlink(path)
                    return
                data["__disttorch_file_store_users"] = str(left).encode()
                f.seek(0)
                f.truncate()
                f.write(msgpack.packb(data, use_bin_type=True))
        finally:
            os.close(fd)


# ------------------------------------------------------------------------- TCPStore
def _send(sock, obj):
    payload = msgpack.packb(obj, use_bin_type=True)
    sock.sendall(struct.pack("!I", len(payload)) + payload)


def _recv(sock):
    header = _recv_exactly(sock, 4)
    if header is None:
        return None
    payload = _recv_exactly(sock, struct.unpack("!I", header)[0])
    return None if payload is None else msgpack.unpackb(payload, raw=False)


def _recv_exactly(sock, n):
    chunks, left = [], n
    while left:
        chunk = sock.recv(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _Server:
    """The TCPStore server: a listening socket and one thread per client connection, all
    over one :class:`_Table` (so a client blocked in ``get`` waits on the server)."""

    def __init__(self, listener):
        self.listener = listener
        self.table = _Table()
        self.port = listener.getsockname()[1]
        self.stopping = False
        self.connections = set()
        threading.Thread(target=self._accept, daemon=True,
                         name=f"TCPStore server :{self.port}").start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                request = _recv(conn)
                if request is None:
                    return
                op, args, timeout_s = request
                try:
                    reply = [True, self.table.apply(op, args, timeout_s)]
                except (DistStoreError, ValueError) as error:
                    reply = [False, type(error).__name__, str(error)]
                _send(conn, reply)
        except OSError:
            return
        finally:
            self.connections.discard(conn)
            conn.close()

    def stop(self):
        self.stopping = True
        try:
            self.listener.close()
        except OSError:
            pass
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.table.changed:
            self.table.changed.notify_all()


# (host, port) -> server, for multi_tenant stores of this process
_SERVERS = weakref.WeakValueDictionary()


class TCPStore(Store):
    """A store served over TCP by the instance made with ``is_master=True``; the others (in
    any process or machine) connect to ``host_name:port``.

    Args:
        host_name (str): where the server listens / clients connect.
        port (int): the server's port (0: any free port, then read ``store.port``).
        world_size (int, optional): how many instances use the store, server included.
        is_master (bool): start the server here.
        timeout (timedelta): for connecting, ``get`` and ``wait`` (300 s by default).
        wait_for_workers (bool): the server's constructor waits until ``world_size``
            instances have connected.
        multi_tenant (bool): instances of this process with the same host and port share
            one server.
        master_listen_fd (int, optional): an already listening socket for the server.
        use_libuv (bool): accepted for PyTorch's signature.

    As in PyTorch, the count of connected instances (with ``world_size`` and
    ``wait_for_workers``) is a key of the store.
    """

    def __init__(self, host_name, port, world_size=None, is_master=False,
                 timeout=_DEFAULT_TIMEOUT, wait_for_workers=True, multi_tenant=False,
                 master_listen_fd=None, use_libuv=True):
        super().__init__(timeout)
        self.host = host_name
        self.world_size = world_size
        self.libuvBackend = False
        self._server = None
        self._lock = threading.Lock()
        if is_master:
            self._server = _SERVERS.get((host_name, port)) if multi_tenant and port else None
            if self._server is None:
                self._server = _Server(self._listen(host_name, port, master_listen_fd))
                if multi_tenant:
                    _SERVERS[(host_name, self._server.port)] = self._server
                weakref.finalize(self, self._server.stop)
            port = self._server.port
        self.port = port
        self._sock = self._connect(host_name, port)
        weakref.finalize(self, self._sock.close)
        if world_size is not None and wait_for_workers:
            self.add(_WORKERS_KEY, 1)
            if is_master:
                self._wait_for_workers(world_size)

    @staticmethod
    def _listen(host, port, fd):
        if fd is not None:
            return socket.socket(fileno=fd)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as error:
            listener.close()
            raise DistNetworkError(f"The server socket has failed to listen on any local "
                                   f"network address. port: {port}, useIpv6: "
                                   f"{family == socket.AF_INET6}, code: {error.errno}, name: "
                                   f"{error.strerror}") from None
        listener.listen(128)
        return listener

    def _connect(self, host, port):
        deadline = time.monotonic() + _seconds(self.timeout)
        while True:
            try:
                sock = socket.create_connection((host, port), timeout=5)
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError:
                # the server may not be up yet: keep trying until the timeout
                if time.monotonic() >= deadline:
                    raise DistNetworkError(
                        f"The client socket has timed out after {_seconds(self.timeout):g}s "
                        f"while trying to connect to ({host}, {port}).") from None
                time.sleep(0.05)

    def _wait_for_workers(self, world_size):
        deadline = time.monotonic() + _seconds(self.timeout)
        while int(self._call("get", (_WORKERS_KEY,), _seconds(self.timeout))) < world_size:
            if time.monotonic() >= deadline:
                raise DistStoreError(f"Timed out after {_seconds(self.timeout):g} seconds "
                                     f"waiting for clients. "
                                     f"{int(self.get(_WORKERS_KEY))}/{world_size} clients "
                                     f"joined.")
            time.sleep(0.01)

    def _call(self, op, args, timeout_s):
        with self._lock:    # one request at a time on this connection
            try:
                _send(self._sock, [op, list(args), timeout_s])
                reply = _recv(self._sock)
            except OSError as error:
                raise DistNetworkError(f"TCPStore connection to {self.host}:{self.port} "
                                       f"failed: {error}") from None
        if reply is None:
            raise DistNetworkError(f"TCPStore connection to {self.host}:{self.port} was closed "
                                   f"by the server")
        if reply[0]:
            return reply[1]
        kind = DistStoreError if reply[1] == "DistStoreError" else ValueError
        raise kind(reply[2])
