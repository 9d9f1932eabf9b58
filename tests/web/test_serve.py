"""`hatereport serve` runs the app under the production WSGI server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_on_the_given_host_and_port(tmp_path: Path):
    port = free_port()
    env = dict(os.environ, HATEREPORT_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 's.db'}",
               HATEREPORT_DATA_KEY_FILE=str(tmp_path / "var" / "data.key"),
               HATEREPORT_HASH_KEY_FILE=str(tmp_path / "var" / "hash.key"))
    env.pop("HATEREPORT_DATA_KEY", None)
    env.pop("HATEREPORT_HASH_KEY", None)
    hatereport = Path(sys.executable).with_name("hatereport")
    process = subprocess.Popen(
        [str(hatereport), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200
                    assert page.headers["Server"] == "hatereport"  # waitress, not werkzeug
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/chat", data=b"{}", method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
            assert "conversation" in json.load(response)
        assert (tmp_path / "var" / "data.key").stat().st_mode & 0o777 == 0o600
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "Serving on http://127.0.0.1:" in output
