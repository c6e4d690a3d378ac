"""A loopback HTTP/1.1 server for the demo's URL loads (``python -m
gofutures._demo_server DELAY``): every GET is answered after DELAY seconds
with its own path and a line of padding, keep-alive unless the client asks
to close. It prints its port, then serves until its stdin closes, so it ends
with the demo even when the demo is killed."""

from __future__ import annotations

import asyncio
import sys

PADDING = b"." * 1000 + b"\n"


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, fields = head.partition(b"\r\n")
            path = request_line.split(b" ")[1]
            close = b"connection: close" in fields.lower() or request_line.endswith(b"HTTP/1.0")
            await asyncio.sleep(delay)
            body = path + b"\n" + PADDING
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                % (len(body), b"Connection: close\r\n" if close else b"", body)
            )
            await writer.drain()
            if close:
                return
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError):
        return
    except asyncio.CancelledError:
        return  # the server is closing: a kept-alive connection ends quietly
    finally:
        writer.close()


async def _main(delay: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, delay), "127.0.0.1", 0, backlog=4096
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(_main(float(sys.argv[1])))
