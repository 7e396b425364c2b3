"""dis_audit.executor: the local pool and Ray give the cache the same entries; errors are messages."""

from __future__ import annotations

import builtins
import subprocess
import sys
from pathlib import Path

import pytest

import dis_audit
from dis_audit.cache import CacheError, build_cache, read_index
from dis_audit.executor import ExecutorError, LocalExecutor, get_executor
from dis_audit.testing import make_pair


def _square(x: int) -> int:
    return x * x


@pytest.fixture()
def tree(tmp_path):
    for k in range(6):
        make_pair(tmp_path / "data", "DIS-TR", f"1#Accessories#1#Bag#{k:05d}", size=(160, 120), seed=k)
    return dis_audit.scan(tmp_path / "data", classes="infer", workers=1).write_manifest()


def _entries(cache_dir):
    """Each entry's index identity and the bytes of its files."""
    rows = sorted(read_index(cache_dir).drop_columns(["built_ns"]).to_pylist(), key=lambda r: r["image_path"])
    files = {p.relative_to(cache_dir).as_posix(): p.read_bytes() for p in (cache_dir / "entries").rglob("*.*")}
    return rows, files


def test_local_executor_runs_every_job_in_and_out_of_process():
    for workers in (1, 2):
        assert sorted(LocalExecutor(workers).map_unordered(_square, range(9))) == [x * x for x in range(9)]
    with pytest.raises(ExecutorError, match="one of local, ray"):
        get_executor("spark")


def test_ray_missing_is_a_message(tree, monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("no ray here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(CacheError, match=r"pip install 'dis-audit\[ray\]'"):
        build_cache(tree, (32, 32), executor="ray")


def test_cli_unknown_executor(tree):
    proc = subprocess.run([sys.executable, "-m", "dis_audit", "cache", str(tree), "--size", "32,32", "--executor", "spark"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "one of local, ray" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (starting one takes ~10 s on 2 cores)."""
    ray = pytest.importorskip("ray", reason="the Ray executor tests need Ray: pip install -e '.[ray]' (CI installs it)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow  # starting Ray takes 10-25 s on 2 cores
def test_ray_build_equals_local_build(tree, tmp_path, local_ray):
    local = build_cache(tree, (48, 40), out=tmp_path / "local", workers=2)
    remote = build_cache(tree, (48, 40), out=tmp_path / "ray", executor="ray")
    assert (remote.built, remote.failed) == (local.built, local.failed) == (6, [])
    assert _entries(tmp_path / "ray") == _entries(tmp_path / "local")


@pytest.mark.slow
@pytest.mark.parametrize("deep", [False, True], ids=["headers", "deep"])
def test_ray_scan_equals_local_scan(deep, local_ray):
    example = Path(__file__).resolve().parents[1] / "examples" / "dis-mini"
    local = dis_audit.scan(example, deep=deep, workers=2)
    remote = dis_audit.scan(example, deep=deep, executor="ray")
    assert remote.table.num_rows == local.table.num_rows > 0
    assert remote.table.equals(local.table)
    assert [f.to_dict() for f in remote.findings] == [f.to_dict() for f in local.findings]
