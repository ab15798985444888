"""Frames to browser-playable MP4 (H.264, yuv420p, faststart) and a PNG poster.

PyAV's wheels bundle FFmpeg with libx264; where a build lacks it, imageio-ffmpeg's
bundled ffmpeg binary is used instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def to_uint8_frames(frames: Any) -> np.ndarray:
    """(F, H, W, 3) uint8 from float frames in 0..1, uint8 frames or a list of PIL images."""
    if isinstance(frames, (list, tuple)) and frames and not isinstance(frames[0], np.ndarray):
        frames = np.stack([np.asarray(img.convert("RGB")) for img in frames])
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected frames shaped (frames, height, width, 3), got {arr.shape}")
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return arr


def write_mp4(frames: np.ndarray, path: Path, fps: int, *, crf: int = 18) -> Path:
    """Encode uint8 RGB ``frames`` to H.264/yuv420p MP4 at ``fps``; width and height must be even."""
    _, height, width, _ = frames.shape
    if width % 2 or height % 2:
        raise ValueError(f"H.264 in yuv420p needs even width and height, got {width}x{height}")
    import av

    if "libx264" not in av.codecs_available:  # pragma: no cover - PyAV wheels ship libx264
        return _write_mp4_imageio(frames, path, fps, crf=crf)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for arr in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _write_mp4_imageio(frames: np.ndarray, path: Path, fps: int, *, crf: int) -> Path:  # pragma: no cover
    import imageio_ffmpeg

    _, height, width, _ = frames.shape
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=2,
        output_params=["-crf", str(crf), "-movflags", "+faststart"],
    )
    writer.send(None)
    for arr in frames:
        writer.send(np.ascontiguousarray(arr))
    writer.close()
    return path


def write_poster(frame: np.ndarray, path: Path) -> Path:
    """Save one uint8 RGB frame as PNG."""
    from PIL import Image

    Image.fromarray(frame).save(path, format="PNG")
    return path


def probe_video(path: Path) -> dict[str, Any]:
    """Frames, fps, width, height and duration of a video file (raises on an unreadable file)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.decode(stream))
        rate = stream.average_rate or stream.base_rate
        fps = float(rate) if rate else None
        return {
            "frames": int(frames),
            "fps": fps,
            "width": int(stream.codec_context.width),
            "height": int(stream.codec_context.height),
            "codec": stream.codec_context.name,
            "duration_s": round(frames / fps, 3) if fps else None,
        }
