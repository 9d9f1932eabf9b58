"""What the fake provider servers share: listening on 127.0.0.1 in a daemon thread, and
refusing or accepting connections on the same port to stage outages."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LocalServer:
    """A base for fakes; a subclass sets ``handler`` and calls :meth:`_listen` to start."""

    handler: type[BaseHTTPRequestHandler]
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _port = 0

    def refuse(self) -> None:
        """Close the listening socket so new connections are refused; the port is kept."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def accept(self) -> None:
        """Listen again, on the same port, after :meth:`refuse`."""
        if self._server is None:
            self._listen()

    def _listen(self) -> None:
        handler = type("Handler", (self.handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Where the fake listens, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"
