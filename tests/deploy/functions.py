"""Built Vercel functions, run as Lambda runs them: one process per instance, fed Lambda-style events.

Each function is laid out as Lambda's /var/task from its `.vc-config.json` file
map (hard links, no bytecode, the environment it declares) and run in its own
process, like one warm instance: it imports `vc__handler__python` and calls
`vc_handler` with the events Vercel's proxy sends. Two runtimes are covered: the
`vercel-runtime` the pinned CLI bundles, and the newer one from PyPI that
requirements-dev.txt pins (what a current Vercel build may bundle).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.vercel_check import VENDOR, Build, Function, assemble, python312

INVOKE = Path(__file__).with_name("invoke.py")
RUNTIMES = ("bundled", "pypi")
ANSWER_TIMEOUT = 60.0  # a cold start plus one request, on a loaded machine
# What Vercel's proxy adds to every request it forwards to a function.
PROXY_HEADERS = {
    "host": "vehicle-api.vercel.app",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "vehicle-api.vercel.app",
    "x-vercel-id": "iad1::local-conformance",
}


@dataclass
class Answer:
    """A function's response as vc_handler returns it."""

    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """One header's values joined with ", " (case-insensitive), or None."""
        values = [v for k, vs in self.headers.items() if k.lower() == name.lower() for v in vs]
        return ", ".join(values) if values else None

    def header_list(self, name: str) -> list[str]:
        """Every value of a header (Set-Cookie)."""
        return [v for k, vs in self.headers.items() if k.lower() == name.lower() for v in vs]

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def lambda_event(method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, Any]:
    """The event Vercel's proxy hands vc_handler: a JSON payload in `body`."""
    payload: dict[str, Any] = {"method": method, "path": path, "headers": {**PROXY_HEADERS, **headers}}
    if body is not None:
        payload["body"] = base64.b64encode(body).decode()
        payload["encoding"] = "base64"
    return {"body": json.dumps(payload)}


class FunctionInstance:
    """One running instance of a function: a process that imported it and serves events in order."""

    def __init__(self, directory: Path, env: Mapping[str, str], python: Path, log: Path) -> None:
        self.log = log
        read_fd, write_fd = os.pipe()
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(python), "-s", str(INVOKE), str(write_fd)],
                cwd=directory,
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=stderr,
                stderr=stderr,
                pass_fds=(write_fd,),
                text=True,
            )
        os.close(write_fd)
        self.answers = os.fdopen(read_fd, "r")
        self.ready = False

    def wait_ready(self) -> FunctionInstance:
        """Block until the function has been imported (its cold start); raise if it died."""
        if not self.ready:
            self._expect("ready")
            self.ready = True
        return self

    def _expect(self, key: str) -> Any:
        readable, _, _ = select.select([self.answers], [], [], ANSWER_TIMEOUT)
        if not readable:
            self.process.kill()
            raise AssertionError(f"no answer in {ANSWER_TIMEOUT:.0f} s:\n{self.log_text()[-4000:]}")
        line = self.answers.readline()
        if not line:
            self.process.wait(timeout=ANSWER_TIMEOUT)
            raise AssertionError(
                f"function process exited ({self.process.returncode}):\n{self.log_text()[-4000:]}"
            )
        return json.loads(line)[key]

    def _send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def invoke(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        json_body: Any = None,
    ) -> Answer:
        """Send one request through vc_handler and return its response."""
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("content-type", "application/json")
        self.wait_ready()
        self._send({"event": lambda_event(method, path, headers, body)})
        result = self._expect("result")
        raw = result.get("body", "")
        data = base64.b64decode(raw) if result.get("encoding") == "base64" else raw.encode()
        return Answer(int(result["statusCode"]), dict(result["headers"]), data)

    @contextlib.contextmanager
    def failing(self, target: str) -> Iterator[None]:
        """While inside, `module:function` raises RuntimeError in this instance."""
        self.wait_ready()
        self._send({"fail": target})
        assert self._expect("ok") is True
        try:
            yield
        finally:
            self._send({"restore": target})
            assert self._expect("ok") is True

    def log_text(self) -> str:
        """What the instance wrote to stdout and stderr so far (its function log)."""
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        """Stop the instance (closing stdin ends it, as at the end of a Lambda's life)."""
        assert self.process.stdin is not None
        # Closed even when the process has died already: the pipe is ours either way (and a
        # dead reader can leave an unflushed line behind, as Popen.__exit__ allows for).
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.answers.close()


def _pypi_runtime() -> Path:
    spec = importlib.util.find_spec("vercel_runtime")
    assert spec is not None, "vercel-runtime is not installed"
    assert spec.submodule_search_locations, "vercel_runtime is not a package"
    return Path(next(iter(spec.submodule_search_locations)))


class Deployment:
    """The built functions, laid out once per runtime; instances started on demand and kept warm."""

    def __init__(self, build: Build, workdir: Path, env: Mapping[str, str]) -> None:
        self.build = build
        self.workdir = workdir
        self.env = dict(env)
        self.python = python312()
        self.functions: dict[str, Function] = {f.name: f for f in build.functions()}
        self._dirs: dict[tuple[str, str], Path] = {}
        self._warm: dict[tuple[str, str], FunctionInstance] = {}
        self._started = 0

    def directory(self, name: str, runtime: str) -> Path:
        """The function laid out as /var/task, with the bundled or the PyPI vercel-runtime."""
        key = (name, runtime)
        if key not in self._dirs:
            dest = self.workdir / runtime / name.replace("/", "__")
            assemble(self.functions[name], dest)
            if runtime == "pypi":
                target = dest / VENDOR / "vercel_runtime"
                shutil.rmtree(target)
                shutil.copytree(_pypi_runtime(), target, ignore=shutil.ignore_patterns("__pycache__"))
            self._dirs[key] = dest
        return self._dirs[key]

    def start(
        self, name: str, runtime: str = "bundled", env: Mapping[str, str] | None = None
    ) -> FunctionInstance:
        """A new instance of function `name` (e.g. "api/health"), cold-starting; the caller closes it.

        `env` adds to the environment the function gets.
        """
        function = self.functions[name]
        self._started += 1
        log = self.workdir / "logs" / f"{runtime}-{name.replace('/', '__')}-{self._started}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**self.env, **function.environment, **(env or {})}
        return FunctionInstance(self.directory(name, runtime), env, self.python, log)

    def warm(self, name: str, runtime: str = "bundled") -> FunctionInstance:
        """The shared warm instance of function `name` for this session."""
        key = (name, runtime)
        if key not in self._warm:
            self._warm[key] = self.start(name, runtime)
        return self._warm[key].wait_ready()

    def warm_all(self, runtime: str = "bundled") -> None:
        """Start every function's shared instance at once, so their cold starts overlap."""
        for name in self.functions:
            if (name, runtime) not in self._warm:
                self._warm[(name, runtime)] = self.start(name, runtime)
        for name in self.functions:
            self._warm[(name, runtime)].wait_ready()

    def close(self) -> None:
        """Stop every warm instance."""
        for instance in self._warm.values():
            instance.close()
        self._warm.clear()
