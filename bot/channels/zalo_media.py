"""Pictures the bot sends on Zalo (the leader's progress chart), served from `PUBLIC_URL`.

Zalo's `sendPhoto` takes a URL, not a file: the picture is copied under a random name and
served by the bot's own web server (the desk console's, on WEB_PORT) at
`<PUBLIC_URL>/zalo-media/<name>/<expires>/<signature>`. The signature is an HMAC with a key
of this process, so a link is good only until it expires (an hour: Zalo fetches the picture
when the message is sent) or the process restarts; anything else is a 404. Copies older
than their links are deleted as new ones are made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import shutil
import time
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from common.clock import Clock

TTL = timedelta(hours=1)
ROUTE = "/zalo-media/{name}/{expires:[0-9]+}/{signature:[0-9a-f]{64}}"
_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg)$")
_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


class MediaLinks:
    def __init__(self, directory: Path, *, public_url: str, clock: Clock) -> None:
        self.directory = directory
        self.base = public_url.rstrip("/")
        self.clock = clock
        self._key = secrets.token_bytes(32)

    def _sign(self, name: str, expires: int) -> str:
        return hmac.new(self._key, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()

    def publish(self, path: Path) -> str:
        """A signed, expiring URL of a copy of the picture at `path` (PNG or JPEG)."""
        self._prune()
        extension = "jpg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
        name = f"{secrets.token_hex(16)}.{extension}"
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self.directory / name)
        expires = int((self.clock.now() + TTL).timestamp())
        return f"{self.base}/zalo-media/{name}/{expires}/{self._sign(name, expires)}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get(ROUTE, self.serve)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        expires = int(request.match_info["expires"])
        good = hmac.compare_digest(request.match_info["signature"], self._sign(name, expires))
        path = self.directory / name
        if not (good and _NAME.match(name) and self.clock.now().timestamp() < expires):
            raise web.HTTPNotFound()
        if not path.is_file():
            raise web.HTTPNotFound()
        kind = _TYPES[name.rsplit(".", 1)[1]]
        return web.FileResponse(path, headers={"Content-Type": kind})

    def _prune(self) -> None:
        if not self.directory.is_dir():
            return
        oldest = time.time() - TTL.total_seconds()  # housekeeping: the files' own clock
        for old in self.directory.iterdir():
            if _NAME.match(old.name) and old.stat().st_mtime < oldest:
                old.unlink(missing_ok=True)
