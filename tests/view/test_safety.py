"""The server is safe by default: loopback only, the named run directories only, links out refused,
foreign Host headers refused, nothing but GET, Ctrl-C stops it, half-written runs described."""

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainrule.inspect.recorder import STEPS_LOG
from chainrule.view import serve
from chainrule.view.command import _is_loopback

SECRET = "the contents of a file outside every run directory"


def _raw(client, path, method="GET", host=None):
    """Send ``path`` exactly as written (no normalisation of ``..``), return (status, body)."""
    address, port = client.server.server_address[:2]
    connection = http.client.HTTPConnection(address, port, timeout=30)
    connection.putrequest(method, path, skip_host=host is not None)
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps([{"epoch": 1, "loss": SECRET}]))
    return secret


@pytest.fixture
def half_written(tmp_path):
    """A run killed during its first epoch: settings and a step log whose last line was cut short."""
    run = tmp_path / "killed"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": "digits", "model": "mlp", "hidden": [8]}))
    (run / STEPS_LOG).write_text('{"step": 1, "epoch": 1, "loss": 2.5, "lr": 0.1}\n'
                                 '{"step": 2, "epoch": 1, "loss": 2.25, "lr": 0.1}\n{"step": 3, "ep')
    return run


def test_listens_on_loopback_by_default(half_written):
    server = serve([half_written])
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.server_close()
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0")


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd", "/static/../server.py", "/static/../../__init__.py", "/static//etc/passwd",
    "/static/%2e%2e/server.py", "/etc/passwd", "/api/runs/0/../../secret.json", "/api/runs/1/summary",
    "/api/runs/-1/summary", "/api/runs/00/summary", "/api/runs/0/secret.json", "/api/runs/0/config.json",
    "/api/runs//tmp/summary", "/api/runs/0/summary/..", "/api/runs/0/eval", "/%2Fetc%2Fpasswd"])
def test_refuses_paths_outside_what_it_serves(serving, half_written, outside, path):
    client = serving([half_written])
    status, body = _raw(client, path)
    assert status == 404, path
    assert b"root:" not in body and SECRET.encode() not in body


def test_refuses_a_link_out_of_the_run_directory(serving, half_written, outside):
    (half_written / "history.json").symlink_to(outside)
    client = serving([half_written])
    status, body = _raw(client, "/api/runs/0/history")
    assert status == 404 and SECRET.encode() not in body
    summary = client.get("/api/runs/0/summary")
    refused = [item for item in summary["missing"] if item["file"] == "history.json"]
    assert refused and "refused" in refused[0]["meaning"]


def test_a_linked_run_directory_is_served_from_where_it_leads(serving, half_written, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(half_written)
    client = serving([link])
    assert client.get("/api/runs/0/steps")["step"] == [1, 2]


def test_refuses_foreign_host_headers_and_other_methods(serving, half_written):
    client = serving([half_written])
    port = client.server.server_address[1]
    assert _raw(client, "/api/runs", host="evil.example:80")[0] == 403
    assert _raw(client, "/api/runs", host=f"localhost:{port}")[0] == 200
    for method in ("POST", "PUT", "DELETE"):
        assert _raw(client, "/api/runs/0/summary", method=method)[0] == 501


def test_security_headers(serving, half_written):
    client = serving([half_written])
    address, port = client.server.server_address[:2]
    connection = http.client.HTTPConnection(address, port, timeout=30)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200 and b"chainrule view" in response.read()
    assert "default-src 'self'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    connection.close()


def test_a_half_written_run_shows_what_is_there_and_says_what_is_missing(serving, half_written):
    client = serving([half_written])
    summary = client.get("/api/runs/0/summary")
    assert summary["kind"] == "mlp" and summary["status"] == "in progress or stopped"
    assert set(summary["present"]) == {"config.json", STEPS_LOG}
    missing = {item["file"]: item["meaning"] for item in summary["missing"]}
    assert "no epoch" in missing["last.safetensors"] and "history.json" in missing
    assert client.get("/api/runs/0/steps") == {"step": [1, 2], "epoch": [1, 1], "loss": [2.5, 2.25],
                                               "lr": [0.1, 0.1]}
    assert client.get("/api/runs/0/steps?since=1")["step"] == [2]
    assert client.get("/api/runs/0/history") == {"records": []}
    assert "no checkpoint yet" in client.get("/api/runs/0/graph")["unavailable"]


def test_the_prompt_is_only_characters(serving, runs):
    client = serving([runs["gpt"]])
    prompt = "__import__('os').system('touch x'); to be"
    answer = client.get("/api/runs/0/attention?prompt=" + __import__("urllib.parse").parse.quote(prompt))
    assert "".join(answer["tokens"]) == "".join(c for c in prompt if c not in answer["dropped"])
    assert not Path("x").exists()


# A shell's background job ignores SIGINT, and Python then never raises KeyboardInterrupt: the server
# is started with Python's SIGINT handler, as from a terminal, whatever launched the tests.
FROM_A_TERMINAL = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('chainrule', run_name='__main__', alter_sys=True)")


def test_ctrl_c_stops_the_server_cleanly(half_written):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", FROM_A_TERMINAL, "view", str(half_written), "--no-open",
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        line = process.stdout.readline()
        assert "serving 1 run(s) at http://127.0.0.1:" in line
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_refuses_a_missing_directory(tmp_path, capsys):
    from chainrule.cli import main
    assert main(["view", str(tmp_path / "nowhere"), "--no-open"]) == 2
    assert "is not a directory" in capsys.readouterr().err
