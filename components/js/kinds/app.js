// A JavaScript provider of `wharf-test:kinds/values`, called by Rust
// components through the host. jco's mapping: u64/s64 are BigInt, enums are
// strings, flags are objects of booleans, variants are `{ tag, val }`,
// options are the value or `undefined`, and a `result` is returned on success
// and thrown on failure.

export const values = {
  echo(v) {
    return v;
  },
  add(a, b) {
    return BigInt.asUintN(64, a + b);
  },
  area(s) {
    switch (s.tag) {
      case 'circle':
        return Math.PI * s.val * s.val;
      case 'rect':
        return s.val.x * s.val.y;
      default:
        return 0;
    }
  },
  names(c, f) {
    const out = [c];
    for (const flag of ['read', 'write', 'exec']) {
      if (f[flag]) out.push(flag);
    }
    return out;
  },
  twice(x) {
    return x === undefined ? undefined : BigInt.asIntN(64, x * 2n);
  },
  divide(a, b) {
    if (b === 0) throw `cannot divide ${a} by ${b}`;
    return Math.trunc(a / b);
  },
  version() {
    return 'js';
  },
  boom() {
    throw new Error('the JavaScript provider blew up on purpose');
  },
  slow(ms) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // No timers in a synchronous export: wait by spinning.
    }
    return `waited ${ms}ms`;
  },
  nothing() {},
};
