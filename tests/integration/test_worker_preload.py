"""`reel worker --preload` loads default models before taking tasks, and tasks reuse them."""

from __future__ import annotations

import time

from tests.utils.stack import make_stack


def test_preload__default_model_loaded_before_any_task_and_reused(tmp_path):
    load_log = tmp_path / "loads"
    with make_stack("embedded", tmp_path / "s") as stack:
        stack.start_worker("testplugin", pool="pre", args=["--preload"],
                           extra_env={"REEL_TEST_LOAD_LOG": str(load_log)})
        deadline = time.monotonic() + 30
        while not load_log.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert load_log.read_text().split()[0] == "default"
        for _ in range(2):
            stack.follow(stack.submit(params={"text": "x"})["id"])
        assert [line.split()[0] for line in load_log.read_text().splitlines()] == ["default"]
