"""The Generator base class every plugin generator subclasses."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from reel_sdk.errors import InvalidInput
from reel_sdk.requirements import Requirements

if TYPE_CHECKING:
    from reel_sdk.context import RunContext
    from reel_sdk.outputs import Output

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")


class Generator:
    """A thing that turns validated params into output files.

    Subclasses set the class attributes and implement :meth:`load` and
    :meth:`generate`. The host calls ``model_key(params)``, reuses a cached model
    for that key or calls ``load(key, device)``, then ``generate(model, params, ctx)``.

    Attributes:
        name: unique dotted name ``<kind>.<family>`` (e.g. ``image.diffusers``).
        kind: ``image``, ``video``, ``audio`` or another word.
        Params: a pydantic model; its JSON Schema is published by the API.
        requirements: what the worker's hardware must offer.
        title: a short human name (defaults to ``name``).
        description: one paragraph for people choosing a generator.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    requirements: ClassVar[Requirements] = Requirements()
    title: ClassVar[str | None] = None
    description: ClassVar[str | None] = None

    def model_key(self, params: Any) -> str:
        """Name the model these params need; tasks with the same key share a loaded model."""
        return "default"

    def load(self, model_key: str, device: str) -> Any:
        """Load the model for ``model_key`` onto ``device`` and return it (the host caches it)."""
        raise NotImplementedError(f"{type(self).__name__}.load is not implemented")

    def generate(self, model: Any, params: Any, ctx: RunContext) -> list[Output]:
        """Produce outputs for ``params`` with a loaded ``model``, reporting through ``ctx``."""
        raise NotImplementedError(f"{type(self).__name__}.generate is not implemented")

    def unload(self, model: Any) -> None:
        """Release what ``load`` allocated (called when the host evicts the model)."""

    # -- dynamic batching (optional): several compatible tasks in one call ---------------
    def batch_key(self, params: Any) -> str | None:
        """Tasks whose params give the same key may run together in :meth:`generate_batch`.

        None (the default) means never batched. The key must imply the same
        :meth:`model_key`. A worker batches only where its operator configured a batch
        size for the generator (``REEL_BATCH_SIZES`` or the pool TOML's ``[batch]``).
        """
        return None

    def generate_batch(
        self, model: Any, params_list: list[Any], ctx_list: list[RunContext]
    ) -> list[list[Output] | BaseException]:
        """Produce each task's outputs, or the error that task alone failed with.

        One item per task, in order. Report progress and see cancellation through each
        task's own ``ctx``; an exception raised from here fails (or retries) the whole
        batch. The default runs :meth:`generate` once per task.
        """
        from reel_sdk.errors import GeneratorError

        results: list[list[Output] | BaseException] = []
        for params, ctx in zip(params_list, ctx_list, strict=True):
            try:
                results.append(self.generate(model, params, ctx))
            except GeneratorError as exc:
                results.append(exc)
        return results

    def models(self) -> list[str]:
        """Model ids or keys this generator can load (for listings; may be empty)."""
        return []

    # -- helpers the host and the testing kit share ---------------------------
    @classmethod
    def params_schema(cls) -> dict[str, Any]:
        """The JSON Schema of :attr:`Params`."""
        return cls.Params.model_json_schema()

    def parse_params(self, raw: Any) -> BaseModel:
        """Validate raw params into :attr:`Params`.

        Raises:
            InvalidInput: naming each offending field and the bad value.
        """
        if isinstance(raw, self.Params):
            return raw
        try:
            return self.Params.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            details = [
                {
                    "field": ".".join(str(p) for p in err["loc"]) or "params",
                    "message": err["msg"],
                    **({"value": err["input"]} if _is_jsonable(err.get("input")) else {}),
                }
                for err in exc.errors(include_url=False)
            ]
            summary = "; ".join(f"params.{d['field']}: {d['message']}" for d in details)
            raise InvalidInput(summary, details=details) from None

    @classmethod
    def check_definition(cls) -> None:
        """Raise ``TypeError`` if the class attributes break the contract."""
        for attr in ("name", "kind", "Params"):
            if not hasattr(cls, attr):
                raise TypeError(f"{cls.__name__} must define {attr!r}")
        if not NAME_PATTERN.match(cls.name):
            raise TypeError(f"{cls.__name__}.name must be dotted '<kind>.<family>', got {cls.name!r}")
        if not (isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)):
            raise TypeError(f"{cls.__name__}.Params must be a pydantic BaseModel subclass")
        if not isinstance(cls.requirements, Requirements):
            raise TypeError(f"{cls.__name__}.requirements must be a reel_sdk.Requirements")


def _is_jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None))) and (
        not isinstance(value, str) or len(value) <= 200
    )
