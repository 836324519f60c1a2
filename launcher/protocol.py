"""Wire format of the control plane.

Every message is one ZeroMQ frame::

    HMAC-SHA256(secret, session + payload) (32 bytes) | payload (msgpack map)

and the payload is ``{"type": str, "seq": int, "body": map}``. ``seq`` grows
strictly per connection, so a replayed or reordered frame is refused. The
session is empty for ``hello`` and the server's answer to it; the server's
``welcome`` then hands out a random session that every later message of the
connection, both ways, is signed with, so frames captured from one
connection are worthless on another. Bodies
are checked against :data:`SCHEMAS` before anything acts on them: the control
plane carries data only, and whatever arrives from the network is treated as
hostile until it has passed :func:`decode`.
"""

import hashlib
import hmac
import secrets

import msgpack

MAX_MESSAGE_BYTES = 64 * 1024
MAC_BYTES = 32
_MAX_STRING = 4096
_MAX_LIST = 256


class ProtocolError(ValueError):
    """A frame that is not a well-formed, authenticated control-plane message."""


class AuthenticationError(ProtocolError):
    """A frame whose MAC does not match the job secret."""


def new_secret():
    """Return a fresh random job secret as a hex string (256 bits)."""
    return secrets.token_hex(32)


# Field spec: name -> (accepted python types, required). ``None`` in the
# accepted types allows nil. Types are checked exactly (bool is not an int).
_STR = (str,)
_INT = (int,)
_NUM = (int, float)
_OPT_NUM = (int, float, type(None))
_OPT_STR = (str, type(None))
_OPT_INT = (int, type(None))
_STRS = (list,)

SCHEMAS = {
    # client -> server
    "hello": {
        "role": (_STR, True),  # "agent", "shim", "worker", "exec"
        "job": (_STR, True),
        "restart": (_INT, True),
        "host": (_STR, True),
        "pid": (_INT, True),
        "rank": (_OPT_INT, False),
        "node_rank": (_OPT_INT, False),
        "nproc_per_node": (_OPT_INT, False),
    },
    "heartbeat": {
        "step": (_OPT_INT, False),
        "epoch": (_OPT_INT, False),
        "collective": (_OPT_STR, False),
        "collective_age": (_OPT_NUM, False),
        "activity_age": (_OPT_NUM, False),
    },
    "progress": {
        "epoch": (_OPT_INT, False),
        "step": (_OPT_INT, False),
        "samples_per_s": (_OPT_NUM, False),
        "loss": (_OPT_NUM, False),
    },
    "barrier": {"name": (_STR, True)},
    "exit": {
        "rank": (_INT, True),
        "returncode": (_OPT_INT, True),
        "signal": (_OPT_INT, True),
        "tail": (_STRS, True),
    },
    "exec_request": {"host": (_STR, True), "argv": (_STRS, True)},
    "spawn_exit": {"request": (_INT, True), "returncode": (_INT, True)},
    "bye": {},
    # server -> client
    "welcome": {"restart": (_INT, True), "session": (_STR, True)},
    "ack": {},
    "refused": {"reason": (_STR, True)},
    "barrier_release": {"name": (_STR, True)},
    "stop": {"grace": (_NUM, True), "reason": (_STR, True)},
    "spawn": {"request": (_INT, True), "argv": (_STRS, True)},
    "exec_done": {"returncode": (_INT, True)},
    "shutdown": {"returncode": (_INT, True)},
}


def new_session():
    """A fresh connection session (hex string) for ``welcome``."""
    return secrets.token_hex(16)


def _mac(secret, session, payload):
    return hmac.new(secret, session.encode() + payload, hashlib.sha256).digest()


def encode(secret, msg_type, seq, body=None, session=""):
    """Pack and sign one message.

    Args:
        secret (bytes): the job secret.
        msg_type (str): a key of :data:`SCHEMAS`.
        seq (int): this connection's sequence number, strictly increasing.
        body (dict, optional): the fields of the message.
        session (str): the connection's session ("" before ``welcome``).

    Returns:
        bytes: the frame to send.
    """
    body = {} if body is None else body
    _validate(msg_type, body)
    payload = msgpack.packb({"type": msg_type, "seq": seq, "body": body}, use_bin_type=True)
    if len(payload) + MAC_BYTES > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"{msg_type} message of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return _mac(secret, session, payload) + payload


def decode(secret, frame, session=""):
    """Authenticate, unpack and validate one frame.

    Args:
        secret (bytes): the job secret.
        frame (bytes): what arrived.
        session (str): the connection's session ("" before ``welcome``).

    Returns:
        tuple: ``(msg_type, seq, body)``.

    Raises:
        AuthenticationError: the MAC does not match ``secret`` and ``session``.
        ProtocolError: the frame is oversized, not msgpack, or breaks the schema.
    """
    if len(frame) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds {MAX_MESSAGE_BYTES}")
    if len(frame) <= MAC_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes is too short to carry a MAC")
    mac, payload = frame[:MAC_BYTES], frame[MAC_BYTES:]
    # Check the MAC before unpacking so unauthenticated bytes never reach msgpack.
    if not hmac.compare_digest(mac, _mac(secret, session, payload)):
        raise AuthenticationError("message MAC does not match the job secret")
    try:
        msg = msgpack.unpackb(
            payload, raw=False, strict_map_key=True,
            max_str_len=_MAX_STRING, max_bin_len=0, max_array_len=_MAX_LIST,
            max_map_len=64, max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise ProtocolError(f"payload is not valid msgpack: {exc}") from None
    if not isinstance(msg, dict) or set(msg) != {"type", "seq", "body"}:
        raise ProtocolError("payload must be a map with exactly the keys type, seq, body")
    msg_type, seq, body = msg["type"], msg["seq"], msg["body"]
    if type(seq) is not int or seq < 0:
        raise ProtocolError(f"seq must be a non-negative int, got {seq!r}")
    if not isinstance(msg_type, str):
        raise ProtocolError(f"type must be a string, got {type(msg_type).__name__}")
    _validate(msg_type, body)
    return msg_type, seq, body


def _validate(msg_type, body):
    schema = SCHEMAS.get(msg_type)
    if schema is None:
        raise ProtocolError(f"unknown message type {msg_type[:64]!r}")
    if not isinstance(body, dict):
        raise ProtocolError(f"{msg_type} body must be a map, got {type(body).__name__}")
    unknown = set(body) - set(schema)
    if unknown:
        raise ProtocolError(f"{msg_type} has unknown fields {sorted(map(str, unknown))[:8]}")
    for name, (types, required) in schema.items():
        if name not in body:
            if required:
                raise ProtocolError(f"{msg_type} is missing required field {name!r}")
            continue
        value = body[name]
        if type(value) not in types:
            expected = "/".join("nil" if t is type(None) else t.__name__ for t in types)
            raise ProtocolError(f"{msg_type}.{name} must be {expected}, got {type(value).__name__}")
        if types is _STRS and not all(type(item) is str for item in value):
            raise ProtocolError(f"{msg_type}.{name} must be a list of strings")
