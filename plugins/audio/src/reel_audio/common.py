"""What the audio generators share: seeding, progress by generated token, WAV files."""

from __future__ import annotations

import contextlib
import secrets
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from reel_sdk import Generator, RunContext
from reel_sdk.loading import canonical_model, is_local_model, load_errors_translated
from reel_sdk.torch_support import free_device_memory, torch_dtype, translate_oom

MAX_SEED = 2**32 - 1


def pick_seed(seed: int | None) -> int:
    return seed if seed is not None else secrets.randbelow(MAX_SEED + 1)


@contextlib.contextmanager
def seeded(seed: int, device: str) -> Iterator[None]:
    """Seed torch for the block without disturbing the process's own random state.

    Bark and MusicGen sample with the global generator (their ``generate`` takes no
    ``torch.Generator``), so the state is forked and restored around the run.
    """
    import torch

    devices = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@dataclass
class Stage:
    """One phase of a generation: its share of the progress bar and expected token count."""

    name: str
    weight: float
    expected: int


class TokenProgress:
    """Turns per-token callbacks into ``ctx.progress`` reports across stages.

    Cancellation is checked at every token; progress is reported when it moved by at
    least ``min_delta`` (a token-level report would flood the host with writes), and
    stays monotonic even when a stage ends before its expected count.
    """

    def __init__(
        self,
        ctx: RunContext,
        stages: Sequence[Stage],
        *,
        end: float = 0.95,
        min_delta: float = 0.01,
        on_stage_start: Callable[[str], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self._on_stage_start = on_stage_start
        self.stages = {s.name: s for s in stages}
        total = sum(s.weight for s in stages)
        self._start: dict[str, float] = {}
        at = 0.0
        for s in stages:
            self._start[s.name] = at
            at += end * s.weight / total
        self._span = {s.name: end * s.weight / total for s in stages}
        self.counts = {s.name: 0 for s in stages}
        self._reported = -1.0
        self._min_delta = min_delta

    def step(self, stage: str) -> None:
        """Count one generated token (or forward pass) of ``stage``."""
        if self.counts[stage] == 0 and self._on_stage_start is not None:
            self._on_stage_start(stage)
        self.counts[stage] += 1
        expected = max(1, self.stages[stage].expected)
        done = min(self.counts[stage], expected)
        fraction = self._start[stage] + self._span[stage] * done / expected
        if fraction - self._reported >= self._min_delta or (done == expected and fraction > self._reported):
            self._reported = fraction
            self.ctx.progress(fraction, f"{stage} {done}/{expected}")
        else:
            self.ctx.check_cancelled()

    def expect(self, stage: str, expected: int) -> None:
        """Set a stage's expected count once earlier stages tell how long it will be."""
        self.stages[stage].expected = max(1, int(expected))

    def logits_processor(self, stage: str) -> Any:
        """A transformers ``LogitsProcessor`` that counts each generated token of ``stage``."""
        from transformers import LogitsProcessor

        progress = self

        class _Progress(LogitsProcessor):
            def __call__(self, input_ids: Any, scores: Any) -> Any:
                progress.step(stage)
                return scores

        return _Progress()

    @contextlib.contextmanager
    def forward_hooks(self, modules: dict[str, Any]) -> Iterator[None]:
        """Count every forward pass of each named module as one token of its stage."""
        handles = [
            module.register_forward_pre_hook(lambda *_a, _stage=stage: self.step(_stage))
            for stage, module in modules.items()
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


def write_wav(path: Path, audio: Any, sample_rate: int) -> float:
    """Write mono float audio in -1..1 as 16-bit PCM WAV; return its duration in seconds."""
    import numpy as np

    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    samples = np.clip(np.nan_to_num(samples), -1.0, 1.0)
    pcm = (samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return len(pcm) / float(sample_rate)


def to_numpy(tensor: Any) -> Any:
    return tensor.detach().float().cpu().numpy()


@dataclass
class LoadedAudio:
    """A transformers audio model with its processor, on a device."""

    model_id: str
    model: Any
    processor: Any
    device: str


class TransformersAudio(Generator):
    """What Bark and MusicGen share: model keys, loading through transformers, unloading."""

    default_models: ClassVar[tuple[str, ...]]
    model_class: ClassVar[str]  # the transformers class that loads the checkpoint
    loaded_class: ClassVar[type[LoadedAudio]] = LoadedAudio

    def model_key(self, params: Any) -> str:
        return canonical_model(params.model)

    def models(self) -> list[str]:
        return list(self.default_models)

    def load(self, model_key: str, device: str) -> Any:
        import transformers

        local = is_local_model(model_key)
        with load_errors_translated(model_key), translate_oom():
            processor = transformers.AutoProcessor.from_pretrained(model_key, local_files_only=local)
            model = getattr(transformers, self.model_class).from_pretrained(
                model_key, dtype=torch_dtype(device), local_files_only=local
            )
            model.to(device).eval()
        return self.loaded_class(model_key, model, processor, device)

    def unload(self, model: LoadedAudio) -> None:
        model.model = None
        model.processor = None
        free_device_memory()
