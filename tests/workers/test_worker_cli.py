"""`reel worker` through its command line: pins, pool files, GPUs and --dry-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.utils.fake_nvml import A4000, L40S, FakeGpus


def reel_worker(tmp: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "REEL_HOME": str(tmp / "home"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "reel_host.cli.main", "worker", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp,
    )


def test_worker__pinned_plugin_missing__refuses_to_start(tmp_path):
    done = reel_worker(tmp_path, "--plugins", "testplugin,nosuchplugin==1.*", "--pool", "p")
    assert done.returncode == 2
    assert "pinned plugin(s) nosuchplugin not installed" in done.stderr
    assert "installed: " in done.stderr and "testplugin" in done.stderr
    assert not (tmp_path / "home" / "reel.db").exists()  # refused before touching the records


def test_worker__pinned_version_outside_specifier__refuses_to_start(tmp_path):
    done = reel_worker(tmp_path, "--plugins", "testplugin>=2,<3,image")
    assert done.returncode == 2
    assert (
        "plugin 'testplugin' (reel-test-plugin 1.2.0) does not satisfy the pin testplugin<3,>=2"
        in done.stderr
    )


def test_worker__bad_pool_file__names_the_problem(tmp_path):
    pool = tmp_path / "pool.toml"
    pool.write_text('pool = "x"\nplugin = ["testplugin"]\nconcurrency = 0\n')
    done = reel_worker(tmp_path, "--config", str(pool), "--dry-run")
    assert done.returncode == 2
    assert "plugin: Extra inputs are not permitted" in done.stderr
    assert "concurrency: Input should be greater than or equal to 1" in done.stderr


def test_worker_dry_run__pool_file_with_gpu_pin_and_time_limits(tmp_path):
    gpus = FakeGpus(tmp_path / "nvml.json", [A4000, L40S])
    pool = tmp_path / "pool.toml"
    pool.write_text(
        'pool = "big-gpu"\n'
        'plugins = ["testplugin==1.2.*", "image"]\n'
        "gpus = [1]\n"
        'exclude = ["image.diffusers"]\n'
        "[time_limits]\n"
        '"test.echo" = 90\n'
    )
    done = reel_worker(tmp_path, "--config", str(pool), "--dry-run", "--json", env=gpus.env)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["pool"] == "big-gpu"
    assert {(p["name"], p["version"]) for p in plan["plugins"]} == {
        ("testplugin", "1.2.0"),
        ("image", "0.1.0"),
    }
    [gpu] = plan["gpus"]  # only index 1 of the two
    assert gpu == {
        "index": 1,
        "name": "NVIDIA L40S",
        "uuid": L40S["uuid"],
        "memory_total_mb": 46068,
        "memory_free_mb": 45000,
        "utilization_pct": 5,
        "driver_version": "550.54.15",
        "cuda_version": "12.4",
    }
    assert plan["queues"] == ["reel.gen.test.echo", "reel.gen.test.gpu", "reel.gen.test.slow"]
    limits = {g["name"]: g["time_limit_s"] for g in plan["generators"]}
    assert limits == {"test.echo": 90, "test.gpu": 18000, "test.slow": 2}
    assert plan["skipped"] == [{"name": "image.diffusers", "reason": "excluded by the pool's configuration"}]
    assert plan["visibility_timeout_s"] is None  # embedded broker: no visibility timeout


def test_worker_dry_run__small_gpu_skips_what_needs_more_memory(tmp_path):
    gpus = FakeGpus(tmp_path / "nvml.json", [A4000])
    env = {**gpus.env, "REEL_BROKER_URL": "redis://127.0.0.1:6379/13"}
    done = reel_worker(
        tmp_path, "--plugins", "testplugin", "--gpu", "0", "--pool", "small", "--dry-run", env=env
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "worker small@" in out
    assert "testplugin     reel-test-plugin 1.2.0" in out
    assert "[0] NVIDIA RTX A4000" in out and "16000/16376 MiB free" in out and "CUDA 12.4" in out
    assert "reel.gen.test.echo" in out and "reel.gen.test.gpu" not in out
    assert "test.gpu: needs 24 GB of GPU memory; the GPU here has 16.0 GB" in out
    assert "broker visibility timeout: 21630s" in out  # 300 min + 30 s grace + 1 h


def test_worker__gpu_index_that_does_not_exist__refuses(tmp_path):
    gpus = FakeGpus(tmp_path / "nvml.json", [A4000])
    done = reel_worker(tmp_path, "--plugins", "testplugin", "--gpu", "0,3", "--dry-run", env=gpus.env)
    assert done.returncode == 2
    assert "bad GPU selection: no GPU with index 3; NVML sees 0" in done.stderr


def test_worker_dry_run__no_driver_means_cpu_worker(tmp_path):
    gpus = FakeGpus(tmp_path / "nvml.json", fail="Driver Not Loaded")
    done = reel_worker(tmp_path, "--plugins", "testplugin", "--dry-run", env=gpus.env)
    assert done.returncode == 0, done.stderr
    assert "GPUs: none (CPU worker)" in done.stdout
    assert "test.gpu: needs a GPU; this worker has none" in done.stdout
