"""Tests of gofutures._wire, the worker-side framing protocol.

The vectors in wire_vectors.json are shared with the Go implementation
(gofutures/wire), so both sides agree byte for byte.
"""

from __future__ import annotations

import array
import json
import pathlib
import random
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gofutures import _wire as wire

VECTORS_PATH = pathlib.Path(__file__).with_name("wire_vectors.json")
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text())

ERRORS: dict[str, type[wire.ProtocolError]] = {
    "too_large": wire.FrameTooLargeError,
    "bad_kind": wire.BadKindError,
    "truncated": wire.TruncatedFrameError,
}

TIMEOUT = 10.0


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(TIMEOUT)
    b.settimeout(TIMEOUT)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


class Sender:
    """Runs ``fn`` in a thread and re-raises its exception on join."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self._fn = fn
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:  # re-raised in join
            self.error = exc

    def join(self) -> None:
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "sender thread hung"
        if self.error is not None:
            raise self.error


def send_and_close(sock: socket.socket, data: bytes) -> Sender:
    def run() -> None:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)

    return Sender(run)


def read_all(reader: wire.FrameReader) -> list[tuple[int, int, bytes]]:
    frames = []
    while (frame := reader.read()) is not None:
        kind, frame_id, payload = frame
        assert isinstance(payload, bytearray)
        frames.append((kind, frame_id, bytes(payload)))
    return frames


def expected_frames(vector: dict[str, Any]) -> list[tuple[int, int, bytes]]:
    return [(f["kind"], f["id"], bytes.fromhex(f["payload_hex"])) for f in vector["frames"]]


def encode_args(frame: tuple[int, int, bytes]) -> bytes:
    kind, frame_id, payload = frame
    return wire.encode_frame(kind, frame_id, payload)


def reader_for(sock: socket.socket, vector: dict[str, Any]) -> wire.FrameReader:
    return wire.FrameReader(sock, vector.get("max_payload", wire.MAX_PAYLOAD))


# -- shared vectors ----------------------------------------------------------


def test_vector_file_is_well_formed() -> None:
    assert len(VECTORS) >= 10
    names = [v["name"] for v in VECTORS]
    assert len(names) == len(set(names))
    for v in VECTORS:
        assert ("frames" in v) != ("error" in v), v["name"]
        if "error" in v:
            assert v["error"] in ERRORS, v["name"]


VALID = [v for v in VECTORS if "frames" in v]
INVALID = [v for v in VECTORS if "error" in v]


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_vector_encode(vector: dict[str, Any], pair: tuple[socket.socket, socket.socket]) -> None:
    frames = expected_frames(vector)
    encoded = b"".join(encode_args(f) for f in frames)
    assert encoded.hex() == vector["hex"]

    a, b = pair

    def run() -> None:
        for kind, frame_id, payload in frames:
            wire.send_frame(a, kind, frame_id, payload)
        a.shutdown(socket.SHUT_WR)

    sender = Sender(run)
    received = b""
    while chunk := b.recv(65536):
        received += chunk
    sender.join()
    assert received.hex() == vector["hex"]


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_vector_decode(vector: dict[str, Any], pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    sender = send_and_close(a, bytes.fromhex(vector["hex"]))
    reader = reader_for(b, vector)
    assert read_all(reader) == expected_frames(vector)
    assert reader.read() is None  # EOF stays EOF
    sender.join()


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_vector_errors(vector: dict[str, Any], pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    sender = send_and_close(a, bytes.fromhex(vector["hex"]))
    reader = reader_for(b, vector)
    with pytest.raises(ERRORS[vector["error"]]) as first:
        read_all(reader)
    # Errors are sticky.
    with pytest.raises(ERRORS[vector["error"]]) as again:
        reader.read()
    assert again.value is first.value
    sender.join()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_decode_byte_by_byte(vector: dict[str, Any]) -> None:
    """Every byte arrives in its own recv: headers and payloads straddle reads."""
    data = bytes.fromhex(vector["hex"])
    reader = reader_for(OneByteSocket(data), vector)  # type: ignore[arg-type]
    if "error" in vector:
        with pytest.raises(ERRORS[vector["error"]]):
            read_all(reader)
    else:
        assert read_all(reader) == expected_frames(vector)


class OneByteSocket:
    """A fake socket whose recv_into returns one byte at a time."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    def recv_into(self, buf: memoryview, nbytes: int = 0) -> int:
        self.calls += 1
        if not self.data:
            return 0
        buf[0] = self.data[0]
        self.data = self.data[1:]
        return 1


# -- API details -------------------------------------------------------------


def test_constants() -> None:
    assert (wire.HELLO, wire.INIT, wire.READY, wire.INIT_FAILED) == (1, 2, 3, 4)
    assert (wire.TASK, wire.RESULT, wire.ERROR, wire.EXIT) == (5, 6, 7, 8)
    assert wire.HEADER.format == "<QBQ"
    assert wire.HEADER.size == wire.HEADER_SIZE == 17
    # No limit by default but the header's (Go: wire.DefaultMaxPayload).
    assert wire.MAX_PAYLOAD == (1 << 63) - 1
    assert issubclass(wire.FrameTooLargeError, wire.ProtocolError)
    assert issubclass(wire.BadKindError, wire.ProtocolError)
    assert issubclass(wire.TruncatedFrameError, wire.ProtocolError)


def test_encode_frame_layout() -> None:
    data = wire.encode_frame(wire.TASK, 0x0102030405060708, b"xyz")
    assert data == b"\x03" + bytes(7) + b"\x05\x08\x07\x06\x05\x04\x03\x02\x01xyz"
    assert wire.encode_frame(wire.EXIT, 0) == bytes(8) + bytes([8]) + bytes(8)


def test_header_describes_payloads_past_4_gib() -> None:
    # No such payload is built: the header alone, as the supervisor's
    # writer puts it in front of a call's pieces.
    header = wire.HEADER.pack(5 * (1 << 30) + 3, wire.TASK, 1)
    assert header[:8] == bytes([3, 0, 0, 0x40, 1, 0, 0, 0])
    assert wire.HEADER.unpack(header) == (5 * (1 << 30) + 3, wire.TASK, 1)
    assert wire.encode_frame(wire.RESULT, 1, bytearray(b"a")) == wire.encode_frame(
        wire.RESULT, 1, memoryview(b"a")
    )
    ints = array.array("i", [1, 2])
    assert wire.encode_frame(wire.RESULT, 1, ints) == wire.encode_frame(
        wire.RESULT, 1, ints.tobytes()
    )


@pytest.mark.parametrize(
    ("kind", "frame_id"),
    [(0, 1), (9, 1), (255, 1), (wire.TASK, -1), (wire.TASK, 1 << 64)],
)
def test_encode_frame_rejects(kind: int, frame_id: int) -> None:
    with pytest.raises(ValueError):
        wire.encode_frame(kind, frame_id, b"")


def test_truncation_messages(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    frame = wire.encode_frame(wire.RESULT, 5, b"0123456789")
    send_and_close(a, frame[:5]).join()
    with pytest.raises(wire.TruncatedFrameError, match="expected 17 bytes, received 5"):
        wire.FrameReader(b).read()

    a2, b2 = socket.socketpair()
    with a2, b2:
        send_and_close(a2, frame[:20]).join()
        with pytest.raises(
            wire.TruncatedFrameError,
            match=r"truncated RESULT frame \(id 5\) payload: expected 10 bytes, received 3",
        ):
            wire.FrameReader(b2).read()


def test_oversize_is_refused_before_allocating(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(wire.HEADER.pack(1 << 32, wire.RESULT, 7))  # 4 GiB, nothing follows
    reader = wire.FrameReader(b, max_payload=(1 << 32) - 1)
    tracemalloc.start()
    try:
        with pytest.raises(wire.FrameTooLargeError, match="4294967296-byte payload"):
            reader.read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_payload_at_limit(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    send_and_close(a, wire.encode_frame(wire.TASK, 1, bytes(1024)) * 2).join()
    reader = wire.FrameReader(b, max_payload=1024)
    frame = reader.read()
    assert frame is not None
    assert frame[2] == bytes(1024)
    small = wire.FrameReader(
        OneByteSocket(wire.encode_frame(wire.TASK, 1, bytes(1024))),  # type: ignore[arg-type]
        max_payload=1023,
    )
    assert small.max_payload == 1023
    with pytest.raises(wire.FrameTooLargeError):
        small.read()


def test_many_small_frames_in_one_burst(pair: tuple[socket.socket, socket.socket]) -> None:
    """Frames that arrive together are decoded without a recv per frame."""
    a, b = pair
    count = 5000
    frames = [(wire.TASK, i, f"call-{i}".encode()) for i in range(count)]
    burst = b"".join(wire.encode_frame(*f) for f in frames)
    sender = send_and_close(a, burst)
    counting = CountingSocket(b)
    reader = wire.FrameReader(counting)  # type: ignore[arg-type]
    assert read_all(reader) == frames
    sender.join()
    # ~80 KiB of frames: a handful of 64 KiB receives, not one per frame.
    assert counting.calls < count // 50


class CountingSocket:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.calls = 0

    def recv_into(self, buf: memoryview, nbytes: int = 0) -> int:
        self.calls += 1
        return self.sock.recv_into(buf, nbytes)


def test_buffered(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    second = wire.encode_frame(wire.TASK, 2, b"abc")
    send_and_close(a, wire.encode_frame(wire.READY, 0) + second).join()
    reader = wire.FrameReader(b)
    assert reader.buffered == 0
    assert reader.read() == (wire.READY, 0, bytearray())
    assert reader.buffered == len(second)
    assert reader.read() == (wire.TASK, 2, bytearray(b"abc"))
    assert reader.buffered == 0
    assert reader.read() is None


def test_big_frame_in_pieces(pair: tuple[socket.socket, socket.socket]) -> None:
    """An 8 MiB frame sent in uneven pieces, followed by small frames."""
    a, b = pair
    payload = random.Random(1).randbytes(8 << 20)
    data = (
        wire.encode_frame(wire.RESULT, 1, payload)
        + wire.encode_frame(wire.RESULT, 2, b"after")
        + wire.encode_frame(wire.EXIT, 0)
    )

    def run() -> None:
        rng = random.Random(2)
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            n = rng.choice([1, 7, 13, 100, 4096, 65535, 1 << 20])
            a.sendall(view[pos : pos + n])
            pos += n
            if rng.random() < 0.05:
                time.sleep(0.001)
        a.shutdown(socket.SHUT_WR)

    sender = Sender(run)
    reader = wire.FrameReader(b)
    frame = reader.read()
    assert frame is not None
    kind, frame_id, got = frame
    assert (kind, frame_id, len(got)) == (wire.RESULT, 1, len(payload))
    assert got == payload
    assert reader.read() == (wire.RESULT, 2, bytearray(b"after"))
    assert reader.read() == (wire.EXIT, 0, bytearray())
    assert reader.read() is None
    sender.join()


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 64 * 1024 + 1, 8 << 20])
def test_send_frame_round_trip(size: int, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    payload = random.Random(size).randbytes(size)

    def run() -> None:
        wire.send_frame(a, wire.RESULT, (1 << 64) - 1, payload)
        wire.send_frame(a, wire.ERROR, 3, memoryview(bytearray(payload)))
        a.shutdown(socket.SHUT_WR)

    sender = Sender(run)
    reader = wire.FrameReader(b)
    assert reader.read() == (wire.RESULT, (1 << 64) - 1, bytearray(payload))
    assert reader.read() == (wire.ERROR, 3, bytearray(payload))
    assert reader.read() is None
    sender.join()


class TrickleSendSocket:
    """A fake socket whose sendmsg sends at most ``limit`` bytes per call."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.sendmsg_calls = 0

    def sendall(self, data: bytes) -> None:
        self.data += data

    def sendmsg(self, buffers: list[memoryview]) -> int:
        self.sendmsg_calls += 1
        sent = 0
        for buf in buffers:
            take = min(len(buf), self.limit - sent)
            self.data += buf[:take]
            sent += take
            if sent == self.limit:
                break
        return sent


@pytest.mark.parametrize("limit", [1, 5, 13, 14, 1000, 1 << 20])
def test_send_frame_partial_sends(limit: int) -> None:
    payload = random.Random(limit).randbytes(200_000)
    sock = TrickleSendSocket(limit)
    wire.send_frame(sock, wire.TASK, 99, payload)  # type: ignore[arg-type]
    assert bytes(sock.data) == wire.encode_frame(wire.TASK, 99, payload)
    assert sock.sendmsg_calls >= 1


def test_send_frame_rejects_before_sending() -> None:
    sock = TrickleSendSocket(10)
    with pytest.raises(ValueError):
        wire.send_frame(sock, 0, 1, b"x")  # type: ignore[arg-type]
    assert sock.data == b""


def test_timeout_while_waiting_for_header_is_resumable(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    b.settimeout(0.05)
    reader = wire.FrameReader(b)
    frame = wire.encode_frame(wire.TASK, 4, b"data")
    a.sendall(frame[:6])
    with pytest.raises(TimeoutError):
        reader.read()
    a.sendall(frame[6:])
    assert reader.read() == (wire.TASK, 4, bytearray(b"data"))


def test_garbage_never_crashes() -> None:
    """Random input either decodes to frames that re-encode to the input, or
    raises ProtocolError."""
    rng = random.Random(3)
    for _ in range(500):
        data = rng.randbytes(rng.randrange(200))
        if len(data) > 5 and rng.random() < 0.5:
            data = (
                (rng.randrange(len(data))).to_bytes(4, "little")
                + bytes([rng.randrange(10)])
                + data[5:]
            )
        reader = wire.FrameReader(OneByteSocket(data), max_payload=64)  # type: ignore[arg-type]
        consumed = b""
        try:
            while (frame := reader.read()) is not None:
                consumed += wire.encode_frame(*frame)
                assert data.startswith(consumed)
            assert consumed == data
        except wire.ProtocolError:
            assert data.startswith(consumed)
            assert len(consumed) < len(data)


def test_send_pieces_is_one_frame_of_the_joined_pieces() -> None:
    a, b = socket.socketpair()
    with a, b:
        big = bytearray(b"\x01" * (1 << 18))
        pieces = [b"head", big, memoryview(b"tail")]
        sender = threading.Thread(target=wire.send_pieces, args=(a, wire.RESULT, 7, pieces))
        sender.start()
        kind, frame_id, payload = wire.FrameReader(b).read()  # type: ignore[misc]
        sender.join()
        assert (kind, frame_id) == (wire.RESULT, 7)
        assert bytes(payload) == b"head" + bytes(big) + b"tail"
