"""A local fake of the Zalo Bot Platform API (see server.py)."""

from tests.fake_zalo.server import FakeZalo, ZaloCall, ZaloUser

__all__ = ["FakeZalo", "ZaloCall", "ZaloUser"]
