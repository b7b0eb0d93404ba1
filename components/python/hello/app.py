"""`hello-py`: the `hello` component in Python, for the same benchmark.

Built with componentize-py against the `wharf:host/service` world.
"""

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.wasi_http_types import Fields, OutgoingBody, OutgoingResponse, ResponseOutparam

GREETING = b"Hello from Wharf!\n"


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request, response_out):
        headers = Fields.from_list([
            ("content-type", b"text/plain; charset=utf-8"),
            ("content-length", str(len(GREETING)).encode()),
        ])
        response = OutgoingResponse(headers)
        body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        with body.write() as stream:
            stream.blocking_write_and_flush(GREETING)
        OutgoingBody.finish(body, None)
