"""One cold start, measured inside a fresh `python -S -B` process: import a function, serve one request.

Run by bench.coldstart as `python -S -B child.py ROOT MODULE FILE [REQUESTS_JSON]` from a copy of
the deployment (ROOT: the function's code, ROOT/_vendor: its dependencies, no bytecode anywhere).
REQUESTS_JSON is a list: the first request, then the same again on the now warm instance.
Prints one JSON line. Only what the measurement itself needs is imported before the function.
"""

import importlib.util
import os
import sys
import time

MARK = "bench-coldstart: request "


def _load(root: str, name: str, file: str) -> object:
    # Like vercel_runtime: the task root and _vendor first on sys.path, the entrypoint loaded by path.
    sys.path[:0] = [root, os.path.join(root, "_vendor")]
    spec = importlib.util.spec_from_file_location(name, os.path.join(root, file))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.handler


def _serve(handler: object, request: dict[str, object]) -> int:
    import socket
    import threading

    body = str(request.get("body") or "").encode()
    headers = dict(request.get("headers") or {})  # type: ignore[call-overload]
    headers.setdefault("Host", "localhost")
    headers["Content-Length"] = str(len(body))
    head = f"{request['method']} {request['path']} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    # A loopback TCP connection, as between vercel_runtime and the handler's HTTPServer.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client_side = socket.create_connection(listener.getsockname())
        server_side, address = listener.accept()
    client_side.sendall(head.encode() + body)
    client_side.shutdown(socket.SHUT_WR)
    received: list[bytes] = []

    def drain() -> None:
        while chunk := client_side.recv(65536):
            received.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # BaseRequestHandler handles the whole exchange in its constructor, as HTTPServer would.
        handler(server_side, address, None)  # type: ignore[operator]
    finally:
        server_side.close()
    reader.join(timeout=60)
    client_side.close()
    response = b"".join(received)
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


def main() -> None:
    """Measure and print {"import_s", "modules", ["requests_s": [...], "statuses": [...]]}."""
    root, name, file = sys.argv[1:4]
    started = time.perf_counter()
    handler = _load(root, name, file)
    imported = time.perf_counter()
    result: dict[str, object] = {"import_s": imported - started, "modules": len(sys.modules)}
    import json

    if len(sys.argv) > 4:
        timings: list[float] = []
        statuses: list[int] = []
        for number, request in enumerate(json.loads(sys.argv[4])):
            # Where each request starts in `-X importtime`'s output (bench.coldstart.imports reads it).
            print(f"{MARK}{number}", file=sys.stderr, flush=True)
            began = time.perf_counter()
            statuses.append(_serve(handler, request))
            timings.append(time.perf_counter() - began)
        result.update(requests_s=timings, statuses=statuses)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
