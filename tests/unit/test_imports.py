"""Every module of the package imports on its own, as the first of the package to be imported.

A cycle between modules can hide behind the order the app imports them in, and break only a
script, a worker or a test that imports one of them first (``goodwill.web.pages.auth`` did, until
the API's router moved out of ``goodwill.web.api``'s ``__init__``). One interpreter, in a child
process, forgets the package's modules before each import, so each one is imported first in turn.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import goodwill
names = [m.name for m in pkgutil.walk_packages(goodwill.__path__, "goodwill.") if ".migrations" not in m.name]
for name in names:
    for loaded in [k for k in sys.modules if k == "goodwill" or k.startswith("goodwill.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        print(f"{name}: {exc!r}")
print(f"imported {len(names)} modules")
"""


def test_every_module_imports_first_without_a_cycle() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    *failures, summary = done.stdout.strip().splitlines()
    assert failures == []
    assert int(summary.split()[1]) > 200
