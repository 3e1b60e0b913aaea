"""No network at run time (issue #9): the stages run in a network namespace with no interface
but a down loopback (``unshare -rn``; ``unshare -n`` as root where user namespaces are off), and
they succeed. Inside, a guard on the socket module records any connection attempt, and after the
stages no third-party network client (requests, urllib3, httpx ...) has been imported.

A small study (5 communities, 6 interviews) keeps it fast: simulate -> survey -> transcripts.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core.config import load_params

ROOT = Path(__file__).resolve().parents[1]
# Third-party network clients. The standard library's http.client and urllib.request are left out:
# jieba imports pkg_resources, which imports them without ever connecting (the socket guard
# below catches any actual connection attempt).
NETWORK_CLIENTS = ("requests", "urllib3", "httpx", "aiohttp", "ftplib", "smtplib", "botocore", "boto3", "paramiko",
                   "websocket", "grpc", "fsspec", "s3fs", "gcsfs")

DRIVER = r'''
import json, socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
# the namespace really has no network: a connection fails even without the guard
probe = "isolated"
try:
    import _socket
    _socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("1.1.1.1", 53))
    probe = "connected"
except OSError:
    pass
from pipeline.__main__ import main
commands = json.loads(sys.argv[1])
codes = [main(cmd) for cmd in commands]
loaded = sorted(m for m in sys.modules if m in set(json.loads(sys.argv[2])))
print(json.dumps({"codes": codes, "attempts": attempts, "loaded": loaded, "probe": probe}))
'''


def _namespace_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) on this machine: cannot run a stage in a network namespace")
    for prefix in ([unshare, "-rn"], [unshare, "-n"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    pytest.skip("neither unprivileged user namespaces (unshare -rn) nor root (unshare -n) are available")


@pytest.mark.slow   # stages in a network namespace of their own: about 4 s
def test_stages_run_without_network(tmp_path):
    prefix = _namespace_prefix()
    params = load_params(ROOT / "studies/demo/params.yaml")
    params["instrument"] = str(ROOT / params["instrument"])
    params["simulate"]["n_communities"] = 5
    params["simulate"]["transcripts"]["n_interviews"] = 6
    params["simulate"]["transcripts"]["bank"] = str(ROOT / params["simulate"]["transcripts"]["bank"])
    for key in ("config", "userdict", "stopwords", "jieba_cache"):
        params["transcripts"][key] = str(ROOT / params["transcripts"][key])
    params["transcripts"]["cache_dir"] = str(tmp_path / "token_cache")
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    raw, processed, metrics = tmp_path / "raw", tmp_path / "processed", tmp_path / "metrics"
    commands = [
        ["simulate", "--params", pfile, "--raw", raw],
        ["survey", "--params", pfile, "--input", raw / "survey.sav", "--communities", raw / "communities.csv",
         "--processed", processed, "--reports", tmp_path / "reports", "--metrics", metrics / "survey.json"],
        ["transcripts", "--params", pfile, "--transcripts", raw / "transcripts", "--communities", raw / "communities.csv",
         "--out", processed / "transcripts", "--metrics", metrics / "transcripts.json"],
    ]
    commands = [[str(a) for a in cmd] for cmd in commands]
    env = {"PATH": "/usr/bin:/bin", "PIPELINE_TIMINGS": str(tmp_path / "timings"), "HOME": str(tmp_path),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([*prefix, sys.executable, "-c", DRIVER, json.dumps(commands), json.dumps(NETWORK_CLIENTS)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["probe"] == "isolated", "the namespace has a network; the test would prove nothing"
    assert report["codes"] == [0, 0, 0], proc.stderr[-3000:]
    assert report["attempts"] == [], f"a stage tried to open a connection: {report['attempts']}"
    assert report["loaded"] == [], f"network client modules imported at run time: {report['loaded']}"
    survey = json.loads((metrics / "survey.json").read_text(encoding="utf-8"))
    transcripts = json.loads((metrics / "transcripts.json").read_text(encoding="utf-8"))
    assert survey["analysed"] > 100 and (processed / "survey_clean.parquet").is_file()
    assert transcripts["interviews"] == 6 and (processed / "transcripts" / "units.parquet").is_file()
