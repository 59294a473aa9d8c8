"""A browser-like client for the demo shop: session login with CSRF, or JWT."""

from __future__ import annotations

from typing import Any

import requests


class ShopClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.token: str | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        csrf = self.http.cookies.get("csrftoken")
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers.setdefault("X-CSRFToken", csrf)
        return self.http.request(method, f"{self.base_url}{path}", headers=headers, timeout=15, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def session_login(self, username: str, password: str) -> requests.Response:
        assert self.get("/api/auth/csrf/").status_code == 200
        response = self.post("/api/auth/login/", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response

    def jwt_login(self, username: str, password: str) -> dict[str, str]:
        response = self.post("/api/auth/token/", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        tokens: dict[str, str] = response.json()
        self.token = tokens["access"]
        return tokens

    def close(self) -> None:
        self.http.close()
