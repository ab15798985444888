/** One output, shown by its media type: an image viewer, a video or audio player, or a download link. */
import { useState } from "react";
import type { Schemas } from "../api/client";

type Output = Schemas["OutputPublic"];

export function mediaKind(mediaType: string): "image" | "video" | "audio" | "file" {
  const top = mediaType.split("/")[0];
  return top === "image" || top === "video" || top === "audio" ? top : "file";
}

/** The poster frame a video generator stored beside the video (an image output), if any. */
export function posterOf(outputs: Output[]): string | undefined {
  return outputs.find((o) => mediaKind(o.media_type) === "image" && o.name.startsWith("poster"))?.url;
}

export function MediaPlayer({ output, compact = false, poster }: {
  output: Output; compact?: boolean; poster?: string;
}) {
  const kind = mediaKind(output.media_type);
  const declared = (output.metadata as { orientation?: string } | undefined)?.orientation;
  const [shape, setShape] = useState<string | undefined>(declared);
  return (
    <figure className={`media media-${kind} ${shape ?? ""} ${compact ? "compact" : ""}`} data-kind={kind}>
      {kind === "image" && <img src={output.url} alt={output.name} loading="lazy" />}
      {kind === "video" && (
        <video
          src={output.url}
          poster={poster}
          controls
          playsInline
          muted
          preload="metadata"
          data-testid="video"
          onLoadedMetadata={(e) => {
            const v = e.currentTarget;
            setShape(v.videoHeight > v.videoWidth ? "portrait" : v.videoWidth > v.videoHeight ? "landscape" : "square");
          }}
        />
      )}
      {kind === "audio" && <audio src={output.url} controls preload="metadata" data-testid="audio" />}
      <figcaption>
        <a href={output.url} download={output.name}>
          Download {output.name}
        </a>{" "}
        <span className="muted">
          {output.media_type}, {formatBytes(output.bytes)}
        </span>
      </figcaption>
    </figure>
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
