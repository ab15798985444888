"""Dynamic batching: image.diffusers throughput batched vs one by one, same model, same run.

    .venv/bin/python bench/batching.py [--tasks 16] [--batch 4] [--rounds 3] [--device cpu|cuda] [--full-unet]

Builds a tiny random-weight Stable Diffusion pipeline from configs (nothing is
downloaded), loads it through the real ``from_pretrained`` path, then runs ``--tasks``
prompts through ``generate`` one at a time and through ``generate_batch`` in batches of
``--batch``, interleaving rounds. Prints the medians and the throughput ratio
(batched ÷ one by one). ``--full-unet`` swaps in a full-size SD 1.5 UNet config with
random weights (for a GPU: large enough to load it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--full-unet", action="store_true")
    args = parser.parse_args()

    from reel_image.generator import DiffusersImage
    from reel_sdk.testing import RecordingContext

    from tests.plugins.image.tiny import build_sd

    with tempfile.TemporaryDirectory(prefix="reel-batching-") as d:
        root = Path(d)
        os.environ["REEL_ALLOWED_MODELS"] = str(root)  # the random-weight model built here
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model_dir = root / "sd"
        build_sd(model_dir, full_unet=args.full_unet)
        gen = DiffusersImage()
        params = [gen.parse_params({"prompt": f"prompt {i}", "model": str(model_dir), "width": args.size,
                                    "height": args.size, "steps": args.steps, "seed": i})
                  for i in range(args.tasks)]
        model = gen.load(gen.model_key(params[0]), args.device)

        def contexts(n: int, tag: str) -> list[RecordingContext]:
            out = []
            for i in range(n):
                (root / f"{tag}{i}").mkdir(exist_ok=True)
                out.append(RecordingContext(root / f"{tag}{i}", device=args.device))
            return out

        def one_by_one() -> float:
            ctxs = contexts(len(params), "s")
            started = time.perf_counter()
            for p, ctx in zip(params, ctxs, strict=True):
                gen.generate(model, p, ctx)
            return len(params) / (time.perf_counter() - started)

        def batched() -> float:
            ctxs = contexts(len(params), "b")
            started = time.perf_counter()
            for i in range(0, len(params), args.batch):
                results = gen.generate_batch(model, params[i:i + args.batch], ctxs[i:i + args.batch])
                assert all(isinstance(r, list) for r in results), results
            return len(params) / (time.perf_counter() - started)

        one_by_one()  # warm up
        single, batch = [], []
        for _ in range(args.rounds):
            single.append(one_by_one())
            batch.append(batched())
    s, b = statistics.median(single), statistics.median(batch)
    print(f"one by one: {s:.2f} tasks/s (rounds {', '.join(f'{x:.2f}' for x in single)})")
    print(f"batched x{args.batch}: {b:.2f} tasks/s (rounds {', '.join(f'{x:.2f}' for x in batch)})")
    print(f"ratio batched / one by one: {b / s:.2f}x  ({args.tasks} tasks, {args.size}px, {args.steps} steps, "
          f"{args.device})")


if __name__ == "__main__":
    main()
