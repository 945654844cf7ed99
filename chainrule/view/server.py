"""The local web server of ``chainrule view``: the page, its scripts, and a small JSON API over the run
directories named on the command line, on the standard library's ``ThreadingHTTPServer``.

Safe by default: it listens on 127.0.0.1; it answers only ``GET`` (and ``HEAD``) for the page's own
files, listed once at start, and for ``/api/runs/N/VIEW`` where ``N`` is the position of a run
directory on the command line, so no request names a path on disk; a run's files are read by fixed
names and refused when a link leads out of the directory; a request's ``Host`` must be the address
the server listens on (a web page elsewhere cannot reach it through DNS rebinding); nothing a request
sends is executed: a prompt is encoded as characters and an example index is an int.
"""

import json
import mimetypes
import re
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from ..errors import ChainruleError
from ..inspect.recorder import FLOW_LOG, STEPS_LOG
from . import backprop, probes
from .rundir import Refused, RunDirectory

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_RUN_ROUTE = re.compile(r"/api/runs/(0|[1-9][0-9]{0,5})/([a-z]+)")


def static_files():
    """The page's files, ``{url path: (bytes, content type)}``, read once from the package."""
    files = {}
    root = resources.files(__package__) / "static"

    def walk(folder, prefix):
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif not entry.name.startswith("."):
                kind = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind == "application/javascript":
                    kind += "; charset=utf-8"
                files[f"/static/{prefix}{entry.name}"] = (entry.read_bytes(), kind)
    walk(root, "")
    files["/"] = files["/static/index.html"]
    return files


class ViewServer(ThreadingHTTPServer):
    """Serves the page over ``runs`` (:class:`~chainrule.view.rundir.RunDirectory` objects)."""

    daemon_threads = True  # Ctrl-C does not wait for a page's open requests

    def __init__(self, runs, host="127.0.0.1", port=0):
        self.runs = list(runs)
        self.files = static_files()
        self.compute_lock = threading.Lock()  # one model view at a time: they share BLAS and the cache
        super().__init__((host, port), Handler)
        self.allowed_hosts = _allowed_hosts(host, self.server_address[1])

    @property
    def url(self):
        host, port = self.server_address[:2]
        shown = host if host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"


def _allowed_hosts(host, port):
    names = {host, "127.0.0.1", "localhost", "[::1]"} if host in ("127.0.0.1", "localhost", "::1") else None
    return None if names is None else {f"{name}:{port}" for name in names}


class Handler(BaseHTTPRequestHandler):
    """Answers the page's requests; see the module's docstring for what is served."""

    server_version = "chainrule-view"
    sys_version = ""

    def log_message(self, format, *args):  # the terminal shows the address and errors, not every poll
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        allowed = self.server.allowed_hosts
        if allowed is not None and self.headers.get("Host") not in allowed:
            return self._send(HTTPStatus.FORBIDDEN, b"unexpected Host header", "text/plain", head)
        parts = urlsplit(self.path)
        found = self.server.files.get(parts.path)
        if found is not None:
            return self._send(HTTPStatus.OK, *found, head)
        match = _RUN_ROUTE.fullmatch(parts.path)
        if parts.path == "/api/runs":
            return self._json([_with_id(i, run.summary()) for i, run in enumerate(self.server.runs)], head)
        if match is None or int(match[1]) >= len(self.server.runs):
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain", head)
        run, view = self.server.runs[int(match[1])], match[2]
        query = {key: values[-1] for key, values in parse_qs(parts.query, max_num_fields=8).items()}
        try:
            answer = self._answer(run, view, query)
        except Refused:
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain", head)
        except ChainruleError as error:  # NotAvailable, or what the engine refused: the page says it
            answer = {"unavailable": str(error)}
        except Exception as error:  # a bug: the page and the terminal say it, the server goes on
            traceback.print_exc()
            message = f"{type(error).__name__}: {error}".encode("utf-8", "replace")
            return self._send(HTTPStatus.INTERNAL_SERVER_ERROR, message, "text/plain", head)
        if answer is None:
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain", head)
        self._json(answer, head)

    def _answer(self, run, view, query):
        if view == "summary":
            return run.summary()
        if view == "history":
            return {"records": run.history()}
        if view == "steps":
            return _columns(run.log(STEPS_LOG, _int(query.get("since"), 0)), ("step", "epoch", "loss", "lr"))
        if view == "flow":
            return {"records": run.log(FLOW_LOG, _int(query.get("since"), 0))}
        models = {"graph": lambda: probes.model_graph(run),
                  "backprop": lambda: backprop.backprop_step(run, _int(query.get("example"), 0)),
                  "filters": lambda: probes.filters(run),
                  "features": lambda: probes.feature_maps(run, _int(query.get("example"), 0)),
                  "attention": lambda: probes.attention(run, query.get("prompt", "")),
                  "program": lambda: probes.program_listing(run)}
        if view not in models:
            return None
        with self.server.compute_lock:
            started = time.perf_counter()
            answer = models[view]()
            answer["seconds"] = round(time.perf_counter() - started, 3)
            return answer

    def _json(self, value, head):
        self._send(HTTPStatus.OK, json.dumps(_clean(value), allow_nan=False).encode("utf-8"),
                   "application/json", head)

    def _send(self, status, body, kind, head):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


def _with_id(i, summary):
    return {"id": i, **summary}


def _int(text, default):
    """A non-negative int from a query string, else ``default`` (nothing else is interpreted)."""
    return int(text) if text is not None and text.isdigit() and len(text) < 10 else default


def _columns(rows, names):
    """Rows of a log as one list per field (a tenth of the JSON of the rows, and what plots take)."""
    return {name: [_finite(row.get(name)) for row in rows] for name in names}


def _finite(value):
    finite = isinstance(value, (int, float)) and value == value and abs(value) != float("inf")
    return value if finite else None


def _clean(value):
    """``value`` with NumPy numbers as Python ones and NaN or infinity as None (JSON has neither)."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, float):
        return _finite(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _clean(value.item())
    return value


def serve(run_dirs, host="127.0.0.1", port=0):
    """A started-but-not-serving :class:`ViewServer` over ``run_dirs`` (call ``serve_forever``)."""
    return ViewServer([RunDirectory(path) for path in run_dirs], host, port)
