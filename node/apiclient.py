"""The CLI's client for a running node's local API (standard library only; loopback)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .config import NodeConfig
from .home import read_token

TIMEOUT_S = 120


class ApiError(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}


class NotRunning(Exception):
    """No run.json in the home, or nothing answers at the address it names."""


class ApiClient:
    def __init__(self, config: NodeConfig) -> None:
        try:
            runtime = json.loads(config.runtime_path.read_text("utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            raise NotRunning(str(config.home)) from None
        self.base = runtime["api_url"] + "/api/v1"
        self.token = read_token(config)

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, json_body: Any = None,
             data: bytes | None = None, content_type: str = "application/json") -> Any:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        body = json.dumps(json_body).encode() if json_body is not None else data
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())
            except (json.JSONDecodeError, ValueError):
                error = {"code": "invalid", "message": f"HTTP {exc.code}"}
            raise ApiError(error.get("code", "invalid"), error.get("message", ""), error.get("details")) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise NotRunning(f"{url}: {getattr(exc, 'reason', exc)}") from None
