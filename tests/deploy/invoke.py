"""Run one assembled Vercel function the way Lambda does, fed Lambda-style events.

Started with the function's directory (Lambda's /var/task) as the working
directory and the environment its .vc-config.json sets. It imports
`vc__handler__python` (which loads vercel_runtime and the route module), then
reads one JSON command per line on stdin and writes one JSON answer per line to
the file descriptor named by argv[1]:

    {"event": {...}}                -> {"result": <vc_handler's return value>}
    {"fail": "module:function"}     -> {"ok": true}; that function now raises RuntimeError
    {"restore": "module:function"}  -> {"ok": true}; the original is back

Only the standard library is used here: everything else must come from the bundle.
"""

import importlib
import json
import os
import sys


def _injected_failure(*args: object, **kwargs: object) -> object:
    raise RuntimeError("failure injected by tests/deploy")


def main() -> None:
    """Serve commands until stdin closes."""
    answers = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    # Lambda puts the task root on sys.path, not the folder of whoever started it.
    sys.path[0] = os.getcwd()
    handler = importlib.import_module("vc__handler__python")
    answers.write(json.dumps({"ready": True}) + "\n")
    originals: dict[str, object] = {}
    for line in sys.stdin:
        command = json.loads(line)
        answer: dict[str, object] = {"ok": True}
        if "fail" in command:
            module, _, name = command["fail"].partition(":")
            target = importlib.import_module(module)
            originals.setdefault(command["fail"], getattr(target, name))
            setattr(target, name, _injected_failure)
        elif "restore" in command:
            module, _, name = command["restore"].partition(":")
            setattr(importlib.import_module(module), name, originals.pop(command["restore"]))
        else:
            answer = {"result": handler.vc_handler(command["event"], None)}
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
