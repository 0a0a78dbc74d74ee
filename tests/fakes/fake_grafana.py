"""A fake Grafana annotations API (``POST``/``GET /api/annotations``) with bearer auth."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes._server import FakeServer


class FakeGrafana(FakeServer):
    """Stores annotations; ``GET`` filters by every ``tags`` given (Grafana's default)."""

    def __init__(self, token: str = "glsa_test_token") -> None:
        super().__init__()
        self.token = token
        self.annotations: list[dict[str, Any]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/annotations", self._post)
        app.router.add_get("/api/annotations", self._get)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _post(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        canned = self._take_script()
        if canned is not None:
            return canned
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized"}, status=401)
        body = rec.body
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return web.json_response({"message": "bad request data"}, status=400)
        ann = {"id": len(self.annotations) + 1, **body, "tags": list(body.get("tags") or [])}
        self.annotations.append(ann)
        return web.json_response({"message": "Annotation added", "id": ann["id"]})

    async def _get(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized"}, status=401)
        wanted = set(request.query.getall("tags", []))
        limit = int(request.query.get("limit", "100"))
        found = [a for a in self.annotations if wanted <= set(a["tags"])]
        return web.json_response(found[:limit])
