"""What channels that speak HTTP share."""

import json
import threading

import requests


class ThreadSessions:
    """One ``requests.Session`` (and so one connection pool) per sender
    thread: a session is not thread-safe."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post_json(
        self, url: str, payload: object, *, timeout: float, headers: dict[str, str]
    ) -> requests.Response:
        """POST ``payload`` as JSON from this thread's session, never
        following a redirect (a 3xx is the channel's to judge)."""
        return self.get().post(
            url,
            data=json.dumps(payload),
            headers={"Content-Type": "application/json", **headers},
            timeout=timeout,
            allow_redirects=False,
        )
