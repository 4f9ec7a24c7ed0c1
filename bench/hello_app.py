"""The ceiling of the HTTP stack: a bare ASGI app under the same server as the edge
(uvicorn + uvloop + httptools), answering a small JSON body."""

BODY = b'{"hello":"world"}'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-length", b"17")]}
    )
    await send({"type": "http.response.body", "body": BODY})
