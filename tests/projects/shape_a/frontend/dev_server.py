"""Stands in for `vite` in the dev container (no Node in our images): serves this folder and
proxies /api and /media to VITE_API_PROXY_TARGET, as vite.config.js does."""

import http.server
import os
import signal
import sys
import urllib.error
import urllib.request

TARGET = os.environ.get("VITE_API_PROXY_TARGET", "http://localhost:8000").rstrip("/")
PROXIED = ("/api", "/media")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


class Handler(http.server.SimpleHTTPRequestHandler):
    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        request = urllib.request.Request(TARGET + self.path, data=body, method=self.command,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload, reply_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as err:
            status, payload, reply_headers = err.code, err.read(), err.headers
        except OSError as err:
            self.send_error(502, f"proxy to {TARGET} failed: {err}")
            return
        self.send_response(status)
        for key, value in reply_headers.items():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _dispatch(self, fallback) -> None:
        if self.path.startswith(PROXIED):
            self._proxy()
        else:
            fallback()

    def do_GET(self) -> None:
        self._dispatch(super().do_GET)

    def do_HEAD(self) -> None:
        self._dispatch(super().do_HEAD)

    def do_POST(self) -> None:
        self._dispatch(lambda: self.send_error(405))


def main() -> None:
    # PID 1 in the container: exit on SIGTERM instead of waiting for Docker's SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(os.environ.get("PORT", "5173"))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"dev server on :{port}, /api -> {TARGET}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
