"""The smoke load of CI (issue 8 item 5): ``bench/load.py`` with 10 users for 20 seconds against gunicorn
on 127.0.0.1 must end with 0 errors. It prepares its own SQLite database and server, so it runs in the
SQLite pass of CI only (the PostgreSQL pass would repeat exactly the same run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(bool(PG_URL), reason="the load smoke runs on its own SQLite database, in the SQLite pass")
def test_smoke_load_has_no_errors() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.load", "--users", "10", "--seconds", "20"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    found = re.fullmatch(r"load_rps=([\d.]+) p99_ms=([\d.]+) errors=(\d+)", last)
    assert found, f"no summary line from bench/load.py:\n{output[-3000:]}"
    rps, _p99, errors = float(found.group(1)), float(found.group(2)), int(found.group(3))
    assert errors == 0, f"the smoke load had {errors} error(s):\n{output[-3000:]}"
    assert done.returncode == 0, output[-3000:]
    assert rps > 1, f"the smoke load hardly ran ({rps} req/s):\n{output[-3000:]}"
