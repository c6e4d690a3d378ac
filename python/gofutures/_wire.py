"""Framing protocol between the Go supervisor and Python worker processes.

Byte-compatible with the Go package ``gofutures/wire``; both are checked
against ``tests/wire_vectors.json``.

A frame is a 17-byte little-endian header followed by the payload::

    u64 payload_len | u8 kind | u64 id | payload_len bytes

The length is a u64: a call's arguments or its result may pass 4 GiB.

Kinds 1..8 are valid (see the constants below); 0 and anything above 8 are
rejected. Payloads are opaque bytes (pickles, tracebacks, a pid): this module
does not interpret them.

Only the standard library is used, so a worker can import this module
before anything else is set up.
"""

from __future__ import annotations

import socket
import struct

__all__ = (
    "HELLO",
    "INIT",
    "READY",
    "INIT_FAILED",
    "TASK",
    "RESULT",
    "ERROR",
    "EXIT",
    "KIND_NAMES",
    "HEADER",
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "MAX_FRAME_ID",
    "ProtocolError",
    "FrameTooLargeError",
    "BadKindError",
    "TruncatedFrameError",
    "encode_frame",
    "send_frame",
    "send_pieces",
    "FrameReader",
)

#: worker -> parent; id = token, payload = ASCII decimal pid.
HELLO = 1
#: parent -> worker; payload = pickled initializer spec, or empty.
INIT = 2
#: worker -> parent; empty: the initializer succeeded.
READY = 3
#: worker -> parent; payload = UTF-8 traceback text.
INIT_FAILED = 4
#: parent -> worker; id = task id, payload = pickled call.
TASK = 5
#: worker -> parent; id = task id, payload = pickled result.
RESULT = 6
#: worker -> parent; id = task id, payload = pickled exception.
ERROR = 7
#: parent -> worker; empty: exit after the current work.
EXIT = 8

KIND_NAMES: dict[int, str] = {
    HELLO: "HELLO",
    INIT: "INIT",
    READY: "READY",
    INIT_FAILED: "INIT_FAILED",
    TASK: "TASK",
    RESULT: "RESULT",
    ERROR: "ERROR",
    EXIT: "EXIT",
}

#: The frame header: payload length, kind, id.
HEADER = struct.Struct("<QBQ")
HEADER_SIZE = HEADER.size  # 17
#: Largest payload the header can describe.
MAX_ENCODABLE_PAYLOAD = (1 << 64) - 1
#: Default largest payload a FrameReader accepts: any a Python object can
#: hold (as Go's wire.DefaultMaxPayload: its peer is the pool's supervisor).
MAX_PAYLOAD = (1 << 63) - 1
MAX_FRAME_ID = (1 << 64) - 1

# Payloads up to this size are sent with one copy next to the header and
# sendall; larger ones go out with sendmsg, uncopied.
_SMALL_PAYLOAD = 64 * 1024
# Size of FrameReader's internal receive buffer. A payload remainder at least
# this large is received directly into the payload buffer.
_RECV_BUFFER = 64 * 1024


class ProtocolError(Exception):
    """The byte stream is not a valid sequence of frames.

    The subclasses tell why; after any of them the stream position is lost
    and the connection must be dropped.
    """


class FrameTooLargeError(ProtocolError):
    """A header declares a payload larger than the reader's limit."""


class BadKindError(ProtocolError):
    """A header carries kind 0 or a kind above 8."""


class TruncatedFrameError(ProtocolError):
    """The stream ended inside a header or a payload."""


def _kind_name(kind: int) -> str:
    return KIND_NAMES.get(kind, f"Kind({kind})")


def _pack_header(kind: int, frame_id: int, size: int) -> bytes:
    if kind not in KIND_NAMES:
        raise ValueError(f"invalid frame kind {kind!r}")
    if not 0 <= frame_id <= MAX_FRAME_ID:
        raise ValueError(f"frame id {frame_id!r} does not fit in a u64")
    if size > MAX_ENCODABLE_PAYLOAD:
        raise ValueError(
            f"{_kind_name(kind)} payload of {size} bytes exceeds the "
            f"{MAX_ENCODABLE_PAYLOAD}-byte maximum of the header"
        )
    return HEADER.pack(size, kind, frame_id)


def _byte_view(payload: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(payload)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def encode_frame(kind: int, frame_id: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
    """Return the encoding of one frame (header + payload).

    Raises ValueError for an invalid kind or an id outside 0..2**64-1. Copies the payload once; concatenate
    several results to send many small frames with one system call.
    """
    view = _byte_view(payload)
    return _pack_header(kind, frame_id, view.nbytes) + view


def send_frame(
    sock: socket.socket,
    kind: int,
    frame_id: int,
    payload: bytes | bytearray | memoryview = b"",
) -> None:
    """Send one frame on a connected stream socket, blocking until all is sent.

    Raises ValueError (nothing sent) like encode_frame, and OSError from the
    socket; after an OSError part of the frame may have been sent.

    Payloads up to 64 KiB are copied next to the header and sent with one
    sendall. Larger payloads are not copied: header and payload go out with
    sendmsg (a single writev-style system call), looping over partial sends.
    Not thread-safe: callers sharing a socket must serialise whole frames.
    """
    if type(payload) is bytes and len(payload) <= _SMALL_PAYLOAD:
        # The common case (a pickled result), without the memoryview.
        sock.sendall(_pack_header(kind, frame_id, len(payload)) + payload)
        return
    view = _byte_view(payload)
    header = _pack_header(kind, frame_id, view.nbytes)
    if view.nbytes <= _SMALL_PAYLOAD:
        sock.sendall(header + view)
        return
    _send_buffers(sock, [memoryview(header), view])


def send_pieces(sock: socket.socket, kind: int, frame_id: int, pieces: list[object]) -> None:
    """Send one frame whose payload is the concatenation of ``pieces``
    (bytes-like objects, e.g. a pickle written in pieces), without joining
    them first: one sendmsg (writev) per call. Raises like send_frame."""
    views = [_byte_view(p) for p in pieces]  # type: ignore[arg-type]
    header = _pack_header(kind, frame_id, sum(v.nbytes for v in views))
    _send_buffers(sock, [memoryview(header), *views])


def _send_buffers(sock: socket.socket, buffers: list[memoryview]) -> None:
    """Send every buffer, in order, looping over partial sends."""
    if not hasattr(sock, "sendmsg"):  # Windows
        for buf in buffers:
            sock.sendall(buf)
        return
    while buffers:
        sent = sock.sendmsg(buffers)
        while sent:
            first = buffers[0]
            if sent >= first.nbytes:
                sent -= first.nbytes
                buffers.pop(0)
            else:
                buffers[0] = first[sent:]
                sent = 0


class FrameReader:
    """Decodes frames from a connected stream socket.

    The reader keeps a 64 KiB receive buffer: a burst of small frames that
    arrives in one recv is decoded without further system calls, and bytes
    past the current frame are kept for the next one. Large payloads are
    received directly into their own buffer (no intermediate copy).

    Not thread-safe. Errors are sticky: after ``read`` raises ProtocolError,
    later calls raise it again. A socket timeout (or other OSError) while
    waiting for a header leaves the reader usable; one raised in the middle
    of a payload loses that frame, and the reader must be discarded.
    """

    __slots__ = ("_sock", "_max_payload", "_buf", "_view", "_start", "_end", "_error")

    def __init__(self, sock: socket.socket, max_payload: int = MAX_PAYLOAD) -> None:
        if max_payload < 0:
            raise ValueError(f"max_payload must be >= 0, not {max_payload}")
        self._sock = sock
        self._max_payload = max_payload
        self._buf = bytearray(_RECV_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0  # first unconsumed byte in _buf
        self._end = 0  # end of received data in _buf
        self._error: ProtocolError | None = None

    @property
    def max_payload(self) -> int:
        """The largest payload this reader accepts."""
        return self._max_payload

    @property
    def buffered(self) -> int:
        """Bytes received from the socket but not yet returned as frames."""
        return self._end - self._start

    def read(self) -> tuple[int, int, bytearray] | None:
        """Read the next frame and return ``(kind, id, payload)``.

        Returns None when the peer closed the connection exactly at a frame
        boundary. Raises BadKindError for kind 0 or > 8, FrameTooLargeError
        for a declared payload above ``max_payload`` (checked after the kind
        and before anything is allocated for the payload), and
        TruncatedFrameError, saying how many bytes were expected and
        received, when the stream ends inside a header or a payload. All
        three are ProtocolError subclasses.

        The payload is a fresh bytearray of exactly the declared length,
        owned by the caller.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._read()
        except ProtocolError as exc:
            self._error = exc
            raise

    def _read(self) -> tuple[int, int, bytearray] | None:
        if not self._fill_header():
            return None
        size, kind, frame_id = HEADER.unpack_from(self._buf, self._start)
        self._start += HEADER_SIZE
        if kind not in KIND_NAMES:
            raise BadKindError(
                f"invalid frame kind: {kind} (id {frame_id}, declared payload {size} bytes)"
            )
        if size > self._max_payload:
            raise FrameTooLargeError(
                f"frame too large: {_kind_name(kind)} frame (id {frame_id}) declares a "
                f"{size}-byte payload; the limit is {self._max_payload} bytes"
            )
        start = self._start
        if self._end - start >= size:
            # All buffered (a small frame): one slice, no zero-filling.
            self._start = start + size
            return kind, frame_id, self._buf[start : start + size]
        payload = bytearray(size)
        self._read_payload(payload, kind, frame_id)
        return kind, frame_id, payload

    def _fill_header(self) -> bool:
        """Make a whole header available at _start; False on a clean EOF."""
        avail = self._end - self._start
        if avail >= HEADER_SIZE:
            return True
        if self._start:
            # Move the partial header (< HEADER_SIZE bytes) to the front.
            self._buf[:avail] = bytes(self._view[self._start : self._end])
            self._start, self._end = 0, avail
        while self._end < HEADER_SIZE:
            n = self._sock.recv_into(self._view[self._end :])
            if n == 0:
                if self._end == 0:
                    return False
                raise TruncatedFrameError(
                    f"truncated frame header: expected {HEADER_SIZE} bytes, received {self._end}"
                )
            self._end += n
        return True

    def _read_payload(self, payload: bytearray, kind: int, frame_id: int) -> None:
        size = len(payload)
        out = memoryview(payload)
        got = min(self._end - self._start, size)
        out[:got] = self._view[self._start : self._start + got]
        self._start += got
        recv_into = self._sock.recv_into
        while got < size:
            # The internal buffer is empty here.
            need = size - got
            if need >= _RECV_BUFFER:
                n = recv_into(out[got:])
                take = n
            else:
                # Receive into the internal buffer so that frames following
                # this one arrive with the same system call.
                n = recv_into(self._view)
                take = min(n, need)
                out[got : got + take] = self._view[:take]
                self._start, self._end = take, n
            if n == 0:
                raise TruncatedFrameError(
                    f"truncated {_kind_name(kind)} frame (id {frame_id}) payload: "
                    f"expected {size} bytes, received {got}"
                )
            got += take
