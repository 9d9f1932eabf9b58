"""Failed attempts per key (an email address, a case reference), in memory per process:
after ``max_failures`` within ``window`` seconds the key is refused until they age out."""

from __future__ import annotations

import threading
import time
from collections import deque


class TooManyAttempts(Exception):
    """This key has failed too often lately."""


class AttemptGuard:
    """Counts failures per key within a sliding window."""

    def __init__(self, max_failures: int, window: float) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        """Whether ``key`` has failed ``max_failures`` times within the window."""
        with self._lock:
            recent = self._failures.get(key)
            if recent is None:
                return False
            while recent and recent[0] < time.monotonic() - self.window:
                recent.popleft()
            if not recent:
                del self._failures[key]  # nothing kept for keys that stopped failing
                return False
            return len(recent) >= self.max_failures

    def check(self, key: str) -> None:
        """Raise :class:`TooManyAttempts` if ``key`` is blocked."""
        if self.blocked(key):
            raise TooManyAttempts(key)

    def failed(self, key: str) -> None:
        with self._lock:
            self._failures.setdefault(key, deque()).append(time.monotonic())

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
