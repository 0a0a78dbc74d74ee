"""A fake generic JSON webhook, the target of apprise's ``json://`` URLs (Teams, ntfy,
Discord and the rest speak their own formats through the same library)."""

from __future__ import annotations

from aiohttp import web

from tests.fakes._server import FakeServer


class FakeJsonWebhook(FakeServer):
    """Records apprise's JSON posts: ``{"version", "title", "message", "type", ...}``."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self._post)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        scripted = self._take_script()
        return scripted or web.json_response({"ok": True})

    @property
    def apprise_url(self) -> str:
        """The apprise URL that posts here."""
        return self.url.replace("http://", "json://") + "/ccm"
