"""A testing kit: run a generator without a host, and shared contract tests.

Use :func:`run_generator` in any test::

    from reel_sdk.testing import run_generator
    outputs = run_generator(Shout(), {"text": "hi"})

or subclass :class:`GeneratorContract` in a pytest class to get the checks
every generator must pass (the same ones the host relies on)::

    class TestShout(GeneratorContract):
        def make_generator(self): return Shout()
        def dummy_params(self): return {"text": "hi"}
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reel_sdk.context import RunContext
from reel_sdk.errors import Cancelled
from reel_sdk.generator import Generator
from reel_sdk.outputs import Output

__all__ = ["GeneratorContract", "RecordingContext", "run_generator"]


@dataclass
class ProgressEvent:
    fraction: float
    message: str | None


class RecordingContext(RunContext):
    """A RunContext that records progress and log lines, and can cancel itself.

    Args:
        cancel_at_progress: cancel once this many progress reports were made.
    """

    def __init__(self, workdir: Path, device: str = "cpu", cancel_at_progress: int | None = None):
        logger = logging.getLogger(f"reel.testing.{id(self)}")
        logger.setLevel(logging.DEBUG)
        super().__init__(workdir=workdir, device=device, log=logger)
        self.events: list[ProgressEvent] = []
        self.records: list[logging.LogRecord] = []
        self._cancel_at = cancel_at_progress
        handler = _ListHandler(self.records)
        logger.addHandler(handler)

    def _report_progress(self, fraction: float, message: str | None) -> None:
        self.events.append(ProgressEvent(fraction, message))
        if self._cancel_at is not None and len(self.events) >= self._cancel_at:
            self.cancel()


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


def run_generator(
    generator: Generator,
    params: Any,
    *,
    workdir: Path | None = None,
    device: str = "cpu",
    context: RunContext | None = None,
) -> list[Output]:
    """Run ``generator`` with ``params`` the way the host does, without a host.

    Validates params, loads the model for ``model_key(params)`` on ``device``,
    calls ``generate`` and checks that every output file exists.

    Args:
        generator: the generator instance.
        params: a dict (validated against ``generator.Params``) or a Params instance.
        workdir: where outputs go (a new temporary directory if None).
        device: ``"cpu"`` by default.
        context: a RunContext to use (e.g. a :class:`RecordingContext`).

    Returns:
        The outputs, each with an existing ``path``.

    Raises:
        InvalidInput: params fail validation. Whatever ``generate`` raises.
    """
    type(generator).check_definition()
    parsed = generator.parse_params(params)
    if context is None:
        workdir = Path(workdir or tempfile.mkdtemp(prefix="reel-test-"))
        context = RecordingContext(workdir, device=device)
    context.workdir.mkdir(parents=True, exist_ok=True)
    model = generator.load(generator.model_key(parsed), context.device)
    try:
        outputs = generator.generate(model, parsed, context)
    finally:
        generator.unload(model)
    for out in outputs:
        if not isinstance(out, Output):
            raise TypeError(f"generate must return Output objects, got {type(out).__name__}")
        if not out.path.is_file():
            raise AssertionError(f"output {out.name!r} does not exist at {out.path}")
        json.dumps(out.metadata)  # metadata must be JSON-serialisable
    return outputs


class GeneratorContract:
    """Shared contract tests; subclass in a ``Test*`` class and provide the factories.

    Override :meth:`make_generator` and :meth:`dummy_params` (small, fast params).
    Set ``supports_cancellation = False`` for a generator that reports no progress.
    """

    supports_cancellation = True

    def make_generator(self) -> Generator:
        raise NotImplementedError

    def dummy_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def check_outputs(self, outputs: list[Output], params: dict[str, Any]) -> None:
        """Extra checks on the outputs (override to decode files)."""

    def test_definition_follows_contract(self) -> None:
        gen = self.make_generator()
        type(gen).check_definition()
        schema = gen.params_schema()
        json.dumps(schema)
        assert schema.get("type") == "object"

    def test_unknown_params_are_refused(self) -> None:
        from reel_sdk.errors import InvalidInput

        gen = self.make_generator()
        params = dict(self.dummy_params(), surely_not_a_param_name=1)
        try:
            gen.parse_params(params)
        except InvalidInput as exc:
            assert "surely_not_a_param_name" in str(exc)
        else:
            raise AssertionError("Params must refuse unknown fields (extra='forbid')")

    def test_generate_returns_outputs_and_progress(self, tmp_path: Path) -> None:
        gen = self.make_generator()
        ctx = RecordingContext(tmp_path / "work")
        params = self.dummy_params()
        outputs = run_generator(gen, params, context=ctx)
        assert outputs, "generate returned no outputs"
        fractions = [e.fraction for e in ctx.events]
        assert all(0 <= f <= 1 for f in fractions)
        assert fractions == sorted(fractions), f"progress went backwards: {fractions}"
        self.check_outputs(outputs, params)

    def test_cancellation_stops_generation(self, tmp_path: Path) -> None:
        if not self.supports_cancellation:
            return
        gen = self.make_generator()
        ctx = RecordingContext(tmp_path / "work", cancel_at_progress=1)
        try:
            run_generator(gen, self.dummy_params(), context=ctx)
        except Cancelled:
            return
        raise AssertionError("generate did not stop after the task was cancelled")
