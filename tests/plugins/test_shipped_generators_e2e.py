"""The shipped generators end to end through the host: REST submit → Celery worker → storage → download.

Tiny random-weight models are built from configs and loaded by the worker through the
real ``from_pretrained`` path; nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.stack import Stack, make_stack


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.plugins.tiny_models import build_shipped

    return build_shipped(tmp_path_factory.mktemp("tiny-shipped"))


@pytest.fixture(scope="module")
def media_stack(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"REEL_ALLOWED_MODELS": str(tiny_root), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the API validates `model` against the same allowed set
    try:
        with make_stack("embedded", tmp_path_factory.mktemp("media-stack")) as stack:
            batching = {"REEL_BATCH_SIZES": '{"image.diffusers": 3}', "REEL_BATCH_WAIT_S": "1"}
            stack.start_worker("image,video,audio", pool="media", extra_env={**env, **batching})
            yield stack
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(stack: Stack, generator: str, params: dict) -> tuple[dict, list[bytes]]:
    task = stack.submit(generator, params)
    done = stack.follow(task["id"], timeout=240)
    assert done["status"] == "succeeded", done
    return done, [httpx.get(o["url"], timeout=30).content for o in done["outputs"]]


def test_image__png_at_the_requested_size(media_stack, tiny_root):
    from PIL import Image

    done, [png] = run(media_stack, "image.diffusers", {
        "prompt": "a red cube", "model": str(tiny_root / "sd"), "width": 64, "height": 72, "steps": 2, "seed": 7})
    assert done["outputs"][0]["media_type"] == "image/png"
    assert done["outputs"][0]["metadata"]["seed"] == 7
    assert Image.open(io.BytesIO(png)).size == (64, 72)


def test_image__disallowed_model_is_refused_at_submit(media_stack):
    with media_stack.client() as c:
        r = c.post("/tasks/submit", json={"generator": "image.diffusers",
                                          "params": {"prompt": "x", "model": "someone/else"}})
    assert r.status_code == 422
    assert "not allowed" in r.json()["error"]["message"]


def test_video__mp4_with_the_requested_frames_and_fps(media_stack, tiny_root):
    import av

    done, files = run(media_stack, "video.diffusers", {
        "prompt": "waves", "model": str(tiny_root / "wan"), "width": 48, "height": 32, "num_frames": 9,
        "fps": 8, "steps": 2, "seed": 0})
    kinds = [o["media_type"] for o in done["outputs"]]
    assert kinds == ["video/mp4", "image/png"]
    with av.open(io.BytesIO(files[0])) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (frames, int(stream.average_rate)) == (9, 8)
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")


def test_audio__wav_at_the_model_rate(media_stack, tiny_root):
    done, [wav] = run(media_stack, "audio.bark", {"text": "hello there", "model": str(tiny_root / "bark"), "seed": 1})
    assert done["outputs"][0]["media_type"] in ("audio/wav", "audio/x-wav")
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getframerate() == 24000
        assert w.getnframes() > 0


def test_image__compatible_tasks_run_as_one_batch_each_with_its_own_result(media_stack, tiny_root):
    from PIL import Image

    items = [{"generator": "image.diffusers",
              "params": {"prompt": p, "model": str(tiny_root / "sd"), "width": 64, "height": 64, "steps": 2, "seed": 5}}
             for p in ("a lighthouse", "a harbour", "a gull")]
    with media_stack.client() as c:
        data = c.post("/tasks/submit_batch", json={"tasks": items}).json()["data"]
    finals = [media_stack.follow(d["task"]["id"], timeout=240) for d in data]
    assert [f["status"] for f in finals] == ["succeeded"] * 3
    with media_stack.client() as c:
        logs = [c.get(f"/tasks/{f['id']}/logs").json()["data"] for f in finals]
    assert all(any("in a batch of 3" in line["message"] for line in task_logs) for task_logs in logs), logs
    for final, item in zip(finals, items, strict=True):
        [output] = final["outputs"]
        image = Image.open(io.BytesIO(httpx.get(output["url"], timeout=30).content))
        assert image.size == (64, 64) and item["params"]["prompt"] in image.text["reel"]
