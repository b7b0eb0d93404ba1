"""`caller-py`: a Python HTTP handler that calls `wharf-test:kinds/values`
through the host. `GET /add?a=&b=` adds with the provider; `GET /version`
asks which provider answered."""

from urllib.parse import parse_qs

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports import values
from wit_world.imports.wasi_http_types import Fields, OutgoingBody, OutgoingResponse, ResponseOutparam


def respond(response_out, status, text):
    body_bytes = text.encode()
    headers = Fields.from_list([
        ("content-type", b"text/plain; charset=utf-8"),
        ("content-length", str(len(body_bytes)).encode()),
    ])
    response = OutgoingResponse(headers)
    response.set_status_code(status)
    body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    with body.write() as stream:
        stream.blocking_write_and_flush(body_bytes)
    OutgoingBody.finish(body, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request, response_out):
        path, _, query = (request.path_with_query() or "/").partition("?")
        args = {k: v[0] for k, v in parse_qs(query).items()}
        if path == "/add":
            total = values.add(int(args.get("a", "0")), int(args.get("b", "0")))
            respond(response_out, 200, f"{total}")
        elif path == "/version":
            respond(response_out, 200, values.version())
        else:
            respond(response_out, 404, "unknown route\n")
