import hashlib
import hmac

import msgpack
import pytest

from launcher import protocol

SECRET = b"s" * 32


def test_round_trip():
    frame = protocol.encode(SECRET, "progress", 7, {"step": 3, "loss": 0.5})
    assert protocol.decode(SECRET, frame) == ("progress", 7, {"step": 3, "loss": 0.5})


def test_wrong_secret_or_session_is_an_authentication_error():
    frame = protocol.encode(SECRET, "bye", 1)
    with pytest.raises(protocol.AuthenticationError):
        protocol.decode(b"other", frame)
    frame = protocol.encode(SECRET, "bye", 1, session="abc")
    assert protocol.decode(SECRET, frame, "abc")[0] == "bye"
    with pytest.raises(protocol.AuthenticationError):
        protocol.decode(SECRET, frame, "abd")


def signed(payload):
    return hmac.new(SECRET, payload, hashlib.sha256).digest() + payload


@pytest.mark.parametrize("payload, message", [
    (b"\x93\x01", "not valid msgpack"),
    (msgpack.packb([1, 2, 3]), "exactly the keys"),
    (msgpack.packb({"type": "bye", "seq": -1, "body": {}}), "seq"),
    (msgpack.packb({"type": "bye", "seq": True, "body": {}}), "seq"),
    (msgpack.packb({"type": "nope", "seq": 1, "body": {}}), "unknown message type"),
    (msgpack.packb({"type": "barrier", "seq": 1, "body": {}}), "missing required field"),
    (msgpack.packb({"type": "barrier", "seq": 1, "body": {"name": 5}}), "must be str"),
    (msgpack.packb({"type": "progress", "seq": 1, "body": {"step": "5"}}), "must be int"),
    (msgpack.packb({"type": "progress", "seq": 1, "body": {"extra": 1}}), "unknown fields"),
    (msgpack.packb({"type": "exec_request", "seq": 1, "body": {"host": "h", "argv": [1]}}), "list of strings"),
    (msgpack.packb({"type": "bye", "seq": 1, "body": []}), "body must be a map"),
    (b"\xdb\xff\xff\xff\xff", "not valid msgpack"),  # str32 claiming 4 GiB
    (b"\xdd\xff\xff\xff\xff", "not valid msgpack"),  # array32 claiming 4 G items
    (msgpack.packb({"type": "bye", "seq": 1, "body": {}, "x": b"\0" * 10}), "not valid msgpack"),  # bin refused
])
def test_malformed_payloads_are_rejected(payload, message):
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.decode(SECRET, signed(payload))


def test_size_limits():
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.decode(SECRET, b"\0" * (protocol.MAX_MESSAGE_BYTES + 1))
    with pytest.raises(protocol.ProtocolError, match="too short"):
        protocol.decode(SECRET, b"\0" * 10)
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.encode(SECRET, "exec_request", 1, {"host": "h", "argv": ["x" * 4000] * 20})
