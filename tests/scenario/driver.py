"""The scenario's Python driver: runs tests/scenario/scenario.txt through a Python client against
the simulator that `xenapi-sim run` started around it (XENAPI_URL, XENAPI_DIALECT).

    xenapi-sim run -- python3 driver.py scenario.txt xenapi_rs [xmlrpc|jsonrpc]
    xenapi-sim run -- python3 driver.py scenario.txt XenAPI        # the official XenAPI.py

The same API, so one driver for both clients. The file's head says what each step means; this
only translates it. Exits 1 at the first step that fails, saying which and why.
"""

from __future__ import annotations

import importlib
import os
import sys


class StepFailed(Exception):
    pass


def parse(path: str):
    """Yields (line number, dialects, method, args, keep, first, expect words)."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if "expect" not in words or len(words) < 4:
                raise SystemExit("%s:%d: a step is DIALECTS METHOD ARG... expect KIND" % (path, n))
            e = words.index("expect")
            call, expect = words[:e], words[e + 1:]
            keep, first = None, False
            if "keep" in call:
                k = call.index("keep")
                keep, first = call[k + 1], call[k + 2:] == ["first"]
                call = call[:k]
            yield n, call[0], call[1], call[2:], keep, first, expect


def text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Driver:
    def __init__(self, client: str, protocol: str | None):
        self.mod = importlib.import_module(client)
        self.client, self.protocol = client, protocol
        self.url = os.environ["XENAPI_URL"]
        self.dialect = os.environ["XENAPI_DIALECT"]
        self.kept: dict[str, object] = {}
        self.session = None

    def word(self, w: str):
        if w.startswith("$"):
            if w not in self.kept:
                raise StepFailed("%s is not kept by an earlier step" % w)
            return self.kept[w]
        return {"true": True, "false": False}.get(w, w)

    def call(self, method: str, args: list):
        if method == "login":
            kw = {"protocol": self.protocol} if self.protocol else {}
            s = self.mod.Session(self.url, **kw)
            s.xenapi.login_with_password(*args)
            self.session = s
            return ""
        if method == "logout":
            self.session.xenapi.session.logout()
            return ""
        f = self.session.xenapi
        for part in method.split("."):
            f = getattr(f, part)
        return f(*args)

    def check(self, expect: list, result, failure):
        kind = expect[0]
        if kind == "error":
            if failure is None:
                raise StepFailed("wanted the error %s, the call succeeded with %r" % (expect[1], result))
            got = [str(d) for d in failure.details]
            want = [text(self.word(w)) if w != "*" else "*" for w in expect[1:]]
            if len(got) != len(want) or any(w not in ("*", g) for w, g in zip(want, got)):
                raise StepFailed("wanted the error %s, got %s" % (" ".join(want), " ".join(got)))
            return
        if failure is not None:
            raise StepFailed("failed: %s" % " ".join(str(d) for d in failure.details))
        if kind == "ok":
            return
        if kind == "=":
            want = text(self.word(expect[1]))
            if text(result) != want:
                raise StepFailed("wanted %s, got %r" % (want, result))
        elif kind == "field":
            name, want = expect[1], text(self.word(expect[3]))
            if not isinstance(result, dict) or name not in result:
                raise StepFailed("wanted a record with the field %s, got %r" % (name, result))
            if text(result[name]) != want:
                raise StepFailed("field %s: wanted %s, got %r" % (name, want, result[name]))
        elif kind == "has":
            if not isinstance(result, dict) or expect[1] not in result:
                raise StepFailed("wanted a record with the field %s, got %r" % (expect[1], result))
        elif kind == "contains":
            want = text(self.word(expect[1]))
            if not isinstance(result, list) or want not in [text(x) for x in result]:
                raise StepFailed("wanted a list holding %s, got %r" % (want, result))
        elif kind == "nonempty":
            if not isinstance(result, (str, list, dict)) or len(result) == 0:
                raise StepFailed("wanted a non-empty value, got %r" % (result,))
        else:
            raise StepFailed("unknown expectation %r" % kind)

    def run(self, path: str) -> int:
        ran = 0
        for n, dialects, method, args, keep, first, expect in parse(path):
            if dialects not in ("any", self.dialect):
                continue
            label = "step %d: %s %s" % (n, method, " ".join(args))
            try:
                result, failure = None, None
                try:
                    result = self.call(method, [self.word(a) for a in args])
                except self.mod.Failure as e:
                    failure = e
                self.check(expect, result, failure)
                if keep:
                    if first:
                        if not isinstance(result, list) or not result:
                            raise StepFailed("keep %s first: wanted a non-empty list, got %r" % (keep, result))
                        result = result[0]
                    self.kept[keep] = result
            except StepFailed as e:
                print("%s (%s, %s, %s): FAILED: %s" % (label, self.client, self.dialect,
                                                       self.protocol or "default", e))
                return 1
            print("%s ok" % label)
            ran += 1
        print("scenario: %d steps passed (%s, %s dialect, %s)" % (ran, self.client, self.dialect,
                                                                   self.protocol or "default protocol"))
        return 0


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    return Driver(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None).run(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
