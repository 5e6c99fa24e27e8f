"""powerbalance.serve, the launcher every server process starts through (make run, make serve,
the systemd units): what it changes in Streamlit before the server listens."""

from __future__ import annotations

import socket

from powerbalance import serve


def test_connections_the_server_accepts_do_not_wait_for_acknowledgements():
    """Nagle's algorithm off on every accepted socket: without it each small websocket message
    waited for the browser's delayed acknowledgement (40 ms on Linux) on every page run."""
    from streamlit.web.server.starlette import starlette_server

    serve.no_nagle()
    serve.no_nagle()  # applied once however often called
    listener = starlette_server._bind_socket("127.0.0.1", 0, 8)
    try:
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        listener.close()
    assert starlette_server._bind_socket.__wrapped__.__name__ == "_bind_socket"
    assert not getattr(starlette_server._bind_socket.__wrapped__, "no_nagle", False)
