import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { useState, type ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import type { Task } from "../../api/client";
import { MediaPlayer, mediaKind } from "../MediaPlayer";
import { OrientationSelector, type Orientation } from "../OrientationSelector";
import { ProgressBar } from "../ProgressBar";
import { errorsFromApi, SchemaForm, simplifySchema } from "../SchemaForm";

function wrap(children: ReactNode) {
  return (
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>{children}</MemoryRouter>
    </QueryClientProvider>
  );
}

/** A scripted EventSource: the test pushes the server's events. */
class FakeEventSource {
  static last: FakeEventSource | null = null;
  listeners: Record<string, ((e: MessageEvent) => void)[]> = {};
  closed = false;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string, public init?: EventSourceInit) {
    FakeEventSource.last = this;
  }
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    (this.listeners[type] ??= []).push(fn);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data: unknown, id: string) {
    for (const fn of this.listeners[type] ?? []) fn(new MessageEvent(type, { data: JSON.stringify(data), lastEventId: id }));
  }
}

const baseTask: Task = {
  id: "tsk_1", project: "default", generator: "video.diffusers", status: "queued", progress: 0, message: "queued",
  attempts: 1, priority: 5, queue_position: 2, waiting_for_worker: false, params: { prompt: "a cat" }, outputs: [],
  error: null, created_at: "2026-11-26T10:00:00Z", started_at: null, finished_at: null,
};

describe("OrientationSelector", () => {
  function Harness({ spy }: { spy: (o: Orientation) => void }) {
    const [value, setValue] = useState<Orientation>("portrait");
    return <OrientationSelector value={value} onChange={(o) => { setValue(o); spy(o); }} />;
  }

  it("starts on portrait and switches to landscape in one click", () => {
    const spy = vi.fn();
    render(<Harness spy={spy} />);
    expect(screen.getByRole("radio", { name: /portrait/i })).toHaveAttribute("aria-checked", "true");
    expect(screen.getByRole("radio", { name: /landscape/i })).toHaveAttribute("aria-checked", "false");
    fireEvent.click(screen.getByRole("radio", { name: /landscape/i }));
    expect(spy).toHaveBeenCalledWith("landscape");
    expect(screen.getByRole("radio", { name: /landscape/i })).toHaveAttribute("aria-checked", "true");
  });
});

describe("ProgressBar", () => {
  it("follows the task's event stream and closes it when the task ends", () => {
    vi.stubGlobal("EventSource", FakeEventSource);
    const seen: string[] = [];
    render(wrap(<ProgressBar initial={baseTask} onTask={(t) => seen.push(t.status)} />));
    const source = FakeEventSource.last!;
    expect(source.url).toBe("/api/v1/tasks/tsk_1/events");
    expect(source.init?.withCredentials).toBe(true);
    expect(screen.getByText("queued: position 2")).toBeInTheDocument();

    act(() => source.emit("task", { ...baseTask, status: "running", progress: 0.4, message: "step 2/5" }, "0:a"));
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "40");
    expect(screen.getByText("step 2/5")).toBeInTheDocument();
    act(() => source.emit("task", { ...baseTask, status: "running", progress: 0.8, message: "step 4/5" }, "0:b"));
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "80");
    expect(source.closed).toBe(false);
    act(() => source.emit("task", { ...baseTask, status: "succeeded", progress: 1, message: "done" }, "0:c"));
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
    expect(source.closed).toBe(true);
    expect(seen).toEqual(["running", "running", "succeeded"]);
    vi.unstubAllGlobals();
  });

  it("says so when no live worker carries the generator", () => {
    vi.stubGlobal("EventSource", FakeEventSource);
    render(wrap(<ProgressBar initial={{ ...baseTask, waiting_for_worker: true }} />));
    expect(screen.getByText("waiting for a worker with video.diffusers")).toBeInTheDocument();
    vi.unstubAllGlobals();
  });
});

describe("MediaPlayer", () => {
  const output = (media_type: string, name: string) =>
    ({ name, url: `/files/${name}`, media_type, bytes: 2048, metadata: {} });

  it("picks the player by media type", () => {
    expect(mediaKind("video/mp4")).toBe("video");
    const { container, rerender } = render(<MediaPlayer output={output("video/mp4", "a.mp4")} />);
    expect(container.querySelector("video")).toHaveAttribute("src", "/files/a.mp4");
    rerender(<MediaPlayer output={output("image/png", "a.png")} />);
    expect(container.querySelector("img")).toHaveAttribute("src", "/files/a.png");
    expect(container.querySelector("video")).toBeNull();
    rerender(<MediaPlayer output={output("audio/wav", "a.wav")} />);
    expect(container.querySelector("audio")).toHaveAttribute("src", "/files/a.wav");
    rerender(<MediaPlayer output={output("text/plain", "a.txt")} />);
    expect(container.querySelector("video, audio, img")).toBeNull();
    expect(screen.getByRole("link", { name: /download a.txt/i })).toHaveAttribute("href", "/files/a.txt");
  });

  it("lays a video out by its declared orientation", () => {
    const { container } = render(
      <MediaPlayer output={{ ...output("video/mp4", "p.mp4"), metadata: { orientation: "portrait" } }} />);
    expect(container.querySelector("figure")).toHaveClass("portrait");
  });
});

describe("SchemaForm", () => {
  const schema = {
    type: "object",
    properties: {
      prompt: { type: "string", title: "Prompt", minLength: 1 },
      style: { type: "string", title: "Style", enum: ["photo", "anime"], default: "photo" },
      steps: { type: "integer", title: "Steps", minimum: 1, maximum: 50, default: 20 },
      seed: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }], default: null, title: "Seed" },
    },
    required: ["prompt"],
  };

  it("draws the generator's schema: text area, select, bounds, defaults", () => {
    const { container } = render(
      <SchemaForm schema={schema} value={{}} onChange={() => {}} onSubmit={() => {}}>
        <button type="submit">Go</button>
      </SchemaForm>);
    expect(container.querySelector("textarea#root_prompt")).not.toBeNull();
    const style = container.querySelector("select#root_style") as HTMLSelectElement;
    expect([...style.options].map((o) => o.textContent)).toEqual(expect.arrayContaining(["photo", "anime"]));
    expect((container.querySelector("#root_steps") as HTMLInputElement).value).toBe("20");
    expect(screen.getByText("from 1 to 50")).toBeInTheDocument();
    expect(container.querySelector("#root_seed")).not.toBeNull(); // `int | None` became a plain field
  });

  it("submits the values and shows the API's field errors next to the field", () => {
    const submitted: unknown[] = [];
    const { container, rerender } = render(
      <SchemaForm schema={schema} value={{ prompt: "a cat" }} onChange={() => {}} onSubmit={(v) => submitted.push(v)}>
        <button type="submit">Go</button>
      </SchemaForm>);
    fireEvent.click(screen.getByRole("button", { name: "Go" }));
    expect(submitted[0]).toMatchObject({ prompt: "a cat", style: "photo", steps: 20 });
    rerender(
      <SchemaForm schema={schema} value={{ prompt: "a cat" }} onChange={() => {}} onSubmit={() => {}}
        apiErrors={[{ field: "params.steps", message: "steps must be even" }]}>
        <button type="submit">Go</button>
      </SchemaForm>);
    const stepsGroup = container.querySelector("#root_steps")!.closest(".form-group")!;
    expect(stepsGroup.textContent).toContain("steps must be even");
  });

  it("maps API details onto fields and simplifies nullable fields", () => {
    expect(errorsFromApi([{ field: "prompt", message: "too short" }])).toEqual({ prompt: { __errors: ["too short"] } });
    expect(simplifySchema({ anyOf: [{ type: "integer" }, { type: "null" }], default: null, title: "T" }))
      .toEqual({ type: "integer", title: "T" });
  });
});
