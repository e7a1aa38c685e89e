"""The HTTP floor of bench/collect.py: the collector's routes answering 204, publishing nothing."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def drained(request: Request) -> Response:
    """Read the body as the collector would, then answer 204."""
    await request.body()
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/v1/events", drained, methods=["POST"]),
        Route("/v1/pageview", drained, methods=["POST"]),
    ]
)
