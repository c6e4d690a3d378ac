"""Go tasks at interpreter exit: queued and running ones finish first, as
any thread-pool task does, and nothing is left behind (no hang, no crash,
no child process), also with a direct call still waiting in a daemon
thread."""

from __future__ import annotations

import pytest

from ._subproc import run_python

# The server runs in a process of its own: at the script's exit its threads
# must still start (Python 3.12 refuses new threads once the interpreter
# shuts down). It ends when the script's end of its stdin closes.
SERVER = """
import subprocess, sys
_SERVER = r'''
import http.server, os, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        time.sleep(0.3)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, daemon=True).start()
print(srv.server_port, flush=True)
sys.stdin.read()
os._exit(0)
'''
_server = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
url = "http://127.0.0.1:%d/" % int(_server.stdout.readline())
"""


@pytest.mark.parametrize("shutdown", ["no shutdown", "dropped executor"])
def test_exit_waits_for_submitted_go_tasks(shutdown: str) -> None:
    ending = {"no shutdown": "", "dropped executor": "del ex"}[shutdown]
    proc = run_python(
        SERVER
        + f"""
import gofutures
from gofutures import http, io
done = []
ex = gofutures.ThreadPoolExecutor(max_workers=50)
for _ in range(100):
    ex.submit(http.get, url, timeout=30).add_done_callback(lambda f: done.append(f.result().status_code))
ex.submit(io.run, ["sleep", "0.3"]).add_done_callback(lambda f: done.append(f.result().returncode))
import atexit
atexit.register(lambda: print(len(done), sorted(set(done))))
{ending}
print("exiting", flush=True)
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["exiting", "101 [0, 200]"], proc.stderr
    assert proc.stderr == ""


def test_exit_with_a_direct_call_in_flight_in_a_daemon_thread() -> None:
    proc = run_python(
        SERVER
        + """
import threading, time
from gofutures import http, io
threading.Thread(target=io.run, args=(["sleep", "30"],), daemon=True).start()
threading.Thread(target=http.get, args=(url + "x",), daemon=True).start()
threading.Thread(target=io.sleep, args=(30,), daemon=True).start()
time.sleep(0.1)
print("exiting", flush=True)
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "exiting\n"
    assert proc.stderr == ""


def test_done_callback_shutdown_wait_on_the_pump_does_not_hang() -> None:
    """A Go task's done-callback runs on the completion pump; shutdown(wait=True)
    there raises, as on a worker thread, instead of waiting for itself."""
    proc = run_python(
        """
import gofutures
from gofutures import io
ex = gofutures.ThreadPoolExecutor(2)
errors = []
def callback(f):
    try:
        ex.shutdown(wait=True)
    except RuntimeError as e:
        errors.append(str(e))
ex.submit(io.sleep, 0.05).add_done_callback(callback)
ex.shutdown(wait=True)
print(errors)
""",
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "['cannot join current thread']\n"
