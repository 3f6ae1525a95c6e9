"""The fault proxy against a real HTTP/1.1 server, through `requests`: each mode breaks what it says."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from flask import Flask, Response
from werkzeug.serving import make_server

from tests.fault_proxy import FaultProxy


class Upstream(ThreadingHTTPServer):
    """Counts POSTs; answers JSON with a Content-Length, or a chunked body on GET /chunked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.posts = 0
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Werkzeug and gunicorn speak it
    server: Upstream

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        entry = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.posts += 1
            count = self.server.posts
        self._json(201, {"accepted": entry["id"], "posts": count})

    def do_GET(self) -> None:
        if self.path != "/chunked":
            self._json(200, {"hello": "kiosk"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"first;", b"", b"second and last"):
            if part:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(*upstream.server_address[:2]) as proxy:
        yield proxy


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def post(session: requests.Session, proxy: FaultProxy, entry_id: str, timeout: float = 5) -> requests.Response:
    return session.post(f"{proxy.url}/entries", json={"id": entry_id}, timeout=timeout)


def test_pass_forwards_the_request_and_returns_the_body(proxy, upstream, session):
    response = post(session, proxy, "e1")
    assert response.status_code == 201
    assert response.json() == {"accepted": "e1", "posts": 1}
    assert proxy.url == f"http://127.0.0.1:{proxy.port}" and proxy.mode == "pass"


def test_pass_keeps_a_connection_alive_for_several_requests(proxy, upstream, session):
    assert [post(session, proxy, f"e{i}").json()["posts"] for i in range(3)] == [1, 2, 3]
    assert session.get(proxy.url, timeout=5).json() == {"hello": "kiosk"}
    assert proxy.requests == 4 and proxy.connections == 1


def test_pass_reframes_a_chunked_response_whole(proxy, session):
    response = session.get(f"{proxy.url}/chunked", timeout=5)
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.text == "first;second and last"
    assert post(session, proxy, "after-chunked").status_code == 201  # the framing ended where it should


def test_dropped_response_the_server_committed_once_and_the_client_sees_a_connection_error(proxy, upstream, session):
    proxy.mode = "drop_response"
    with pytest.raises(requests.ConnectionError, match="Remote end closed connection without response"):
        post(session, proxy, "e1")
    assert upstream.posts == 1 and proxy.dropped_responses == 1 and proxy.response_dropped.is_set()


def test_dropped_response_then_a_retry_reaches_the_server_a_second_time(proxy, upstream, session):
    assert post(session, proxy, "warm-up").status_code == 201  # a kept-alive connection exists
    proxy.mode = "drop_response"
    with pytest.raises(requests.ConnectionError):
        post(session, proxy, "e1")
    proxy.mode = "pass"
    assert post(session, proxy, "e1").json() == {"accepted": "e1", "posts": 3}
    assert proxy.dropped_responses == 1


def test_dropped_chunked_response_is_read_to_its_end_before_the_client_is_cut(proxy, session):
    proxy.mode = "drop_response"
    with pytest.raises(requests.ConnectionError):
        session.get(f"{proxy.url}/chunked", timeout=5)
    assert proxy.dropped_responses == 1


def test_delay_longer_than_the_read_timeout_is_a_read_timeout(proxy, upstream, session):
    proxy.delay(3)
    with pytest.raises(requests.ReadTimeout):
        post(session, proxy, "e1", timeout=0.3)
    assert upstream.posts == 1  # the server did commit: a timeout is not a refusal


def test_delay_shorter_than_the_read_timeout_still_answers(proxy, session):
    proxy.delay(0.2)
    assert post(session, proxy, "e1", timeout=5).json()["posts"] == 1


def test_reset_is_a_connection_error_and_never_reaches_the_server(proxy, upstream, session):
    proxy.mode = "reset"
    with pytest.raises(requests.ConnectionError, match=r"Connection reset by peer|Connection aborted"):
        post(session, proxy, "e1")
    assert upstream.posts == 0 and proxy.requests == 0 and proxy.connections == 1


def test_reset_applies_to_the_next_request_on_a_kept_alive_connection(proxy, upstream, session):
    assert post(session, proxy, "warm-up").status_code == 201
    proxy.mode = "reset"
    with pytest.raises(requests.ConnectionError, match="Connection reset by peer"):
        post(session, proxy, "e1")
    assert upstream.posts == 1 and proxy.connections == 1


def test_refuse_is_connection_refused_and_pass_listens_again_on_the_same_port(proxy, upstream, session):
    assert post(session, proxy, "warm-up").status_code == 201  # this kept-alive connection gets cut too
    port = proxy.port
    proxy.refuse()
    with pytest.raises(requests.ConnectionError, match="Connection refused"):
        post(session, proxy, "e1")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    proxy.accept_again()
    assert proxy.port == port
    assert post(session, proxy, "e1").json() == {"accepted": "e1", "posts": 2}


def test_garbage_is_a_connection_error_for_a_bad_status_line(proxy, upstream, session):
    proxy.mode = "garbage"
    with pytest.raises(requests.ConnectionError, match="BadStatusLine"):
        post(session, proxy, "e1")
    assert upstream.posts == 0


def test_fail_next_applies_the_fault_to_that_many_requests_then_passes(proxy, upstream, session):
    proxy.fail_next(2, "drop_response")
    for entry in ("e1", "e1"):
        with pytest.raises(requests.ConnectionError):
            post(session, proxy, entry)
    assert proxy.mode == "pass"
    assert post(session, proxy, "e1").json()["posts"] == 3
    assert proxy.dropped_responses == 2 and proxy.requests == 3


def test_fail_next_reset_counts_connections_it_resets(proxy, upstream, session):
    proxy.fail_next(1, "reset")
    with pytest.raises(requests.ConnectionError):
        post(session, proxy, "e1")
    assert post(session, proxy, "e1").status_code == 201 and upstream.posts == 1


def test_unknown_modes_and_counting_refusals_are_rejected(proxy):
    with pytest.raises(ValueError):
        proxy.mode = "explode"
    with pytest.raises(ValueError):
        proxy.fail_next(1, "refuse")


def test_pass_and_drop_response_against_flask_on_werkzeug_streamed_and_kept_alive(session):
    app, posts = Flask(__name__), []

    @app.post("/entries")
    def entries():
        posts.append(1)
        return {"posts": len(posts)}, 201

    @app.get("/stream")
    def stream():
        return Response(iter([b"a" * 10, b"b" * 70_000, b"c"]), mimetype="text/plain")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with FaultProxy("127.0.0.1", server.server_port) as proxy:
            streamed = session.get(f"{proxy.url}/stream", timeout=5)
            assert streamed.headers["Transfer-Encoding"] == "chunked" and len(streamed.content) == 70_011
            proxy.mode = "drop_response"
            with pytest.raises(requests.ConnectionError):
                post(session, proxy, "e1")
            proxy.mode = "pass"
            assert post(session, proxy, "e1").json() == {"posts": 2}
            assert proxy.dropped_responses == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
