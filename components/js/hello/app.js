// `hello-js`: the `hello` component in JavaScript, for the same benchmark.
// Built with componentize-js against the `wharf:host/service` world; the
// handler is written against `wasi:http/types` directly (StarlingMonkey's
// built-in fetch event targets an older wasi:http, see docs/authoring/javascript.md).

import { Fields, OutgoingResponse, OutgoingBody, ResponseOutparam } from 'wasi:http/types@0.2.12';

const encoder = new TextEncoder();
const GREETING = encoder.encode('Hello from Wharf!\n');

export const incomingHandler = {
  handle(request, responseOut) {
    const headers = Fields.fromList([
      ['content-type', encoder.encode('text/plain; charset=utf-8')],
      ['content-length', encoder.encode(String(GREETING.length))],
    ]);
    const response = new OutgoingResponse(headers);
    const body = response.body();
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
    const stream = body.write();
    stream.blockingWriteAndFlush(GREETING);
    stream[Symbol.dispose]();
    OutgoingBody.finish(body, undefined);
  },
};
