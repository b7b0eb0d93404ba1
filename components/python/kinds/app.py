"""A Python provider of `wharf-test:kinds/values`, called by Rust components
through the host. `v1/version.py` and `v2/version.py` make two builds for
hot-swap tests."""

import math
import time

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.values import Perms, Shape_Circle, Shape_Rect

from version import VERSION


def wrap(value, bits, signed):
    value &= (1 << bits) - 1
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


class Values(exports.Values):
    def echo(self, v):
        return v

    def add(self, a, b):
        return wrap(a + b, 64, False)

    def area(self, s):
        if isinstance(s, Shape_Circle):
            return math.pi * s.value * s.value
        if isinstance(s, Shape_Rect):
            return float(s.value.x) * float(s.value.y)
        return 0.0

    def names(self, c, f):
        out = [c.name.lower()]
        for flag, name in ((Perms.READ, "read"), (Perms.WRITE, "write"), (Perms.EXEC, "exec")):
            if flag in f:
                out.append(name)
        return out

    def twice(self, x):
        return None if x is None else wrap(x * 2, 64, True)

    def divide(self, a, b):
        if b == 0:
            raise Err(f"cannot divide {a} by {b}")
        quotient = abs(a) // abs(b)
        return quotient if (a < 0) == (b < 0) else -quotient

    def version(self):
        return VERSION

    def boom(self):
        # Not an `Err`: an exception the runtime turns into a trap.
        raise RuntimeError("the Python provider blew up on purpose")

    def slow(self, ms):
        time.sleep(ms / 1000)
        return f"waited {ms}ms"

    def nothing(self):
        return None
