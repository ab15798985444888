import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Me, Plugin } from "../../api/client";
import { CreatePage, groupByKind } from "../Create";

const me: Me = { id: "usr_1", email: "a@example.com", is_admin: false, csrf_token: "t", created_at: "2026-11-26T00:00:00Z",
  projects: [{ project: "default", role: "member" }] };

const plugin = (name: string, kind: string, properties: Record<string, unknown>): Plugin => ({
  name, kind, title: null, description: null, plugin: "p", distribution: "d", version: "1",
  params_schema: { type: "object", properties, required: ["prompt"] }, requirements: {}, queue: `reel.gen.${name}`,
  workers: 1,
} as unknown as Plugin);

const video = plugin("video.diffusers", "video", {
  prompt: { type: "string", title: "Prompt" },
  orientation: { type: "string", enum: ["portrait", "landscape"], default: "portrait" },
});
const image = plugin("image.diffusers", "image", { prompt: { type: "string", title: "Prompt" } });
const speech = plugin("text.shout", "text", { prompt: { type: "string" } });

function renderCreate() {
  return render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter initialEntries={["/"]}>
        <Routes>
          <Route path="/" element={<CreatePage me={me} plugins={[speech, image, video]} />} />
          <Route path="/tasks/:id" element={<p>task page</p>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>);
}

function answer(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

afterEach(() => vi.unstubAllGlobals());

describe("CreatePage", () => {
  it("groups generators by kind, video first and plugin kinds last", () => {
    expect(groupByKind([speech, image, video]).map(([k]) => k)).toEqual(["video", "image", "text"]);
  });

  it("submits a video in portrait unless landscape is picked, then shows the task", async () => {
    const bodies: Record<string, unknown>[] = [];
    vi.stubGlobal("fetch", vi.fn(async (request: Request) => {
      bodies.push(await request.clone().json());
      return answer(202, { id: "tsk_1" });
    }));
    const { container } = renderCreate();
    expect(screen.getByRole("radio", { name: /portrait/i })).toHaveAttribute("aria-checked", "true");
    fireEvent.change(container.querySelector("#root_prompt")!, { target: { value: "a cat" } });
    fireEvent.click(screen.getByTestId("submit"));
    await screen.findByText("task page");
    expect(bodies[0]).toMatchObject({ generator: "video.diffusers", project: "default",
      params: { prompt: "a cat", orientation: "portrait" } });
  });

  it("sends landscape after one click", async () => {
    const bodies: Record<string, unknown>[] = [];
    vi.stubGlobal("fetch", vi.fn(async (request: Request) => {
      bodies.push(await request.clone().json());
      return answer(202, { id: "tsk_2" });
    }));
    const { container } = renderCreate();
    fireEvent.click(screen.getByRole("radio", { name: /landscape/i }));
    fireEvent.change(container.querySelector("#root_prompt")!, { target: { value: "a dog" } });
    fireEvent.click(screen.getByTestId("submit"));
    await waitFor(() => expect(bodies).toHaveLength(1));
    expect((bodies[0].params as Record<string, unknown>).orientation).toBe("landscape");
  });

  it("shows the API's field error next to the field", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => answer(422, { error: { code: "invalid_params",
      message: "params.prompt: too dull", details: [{ field: "prompt", message: "too dull" }] } })));
    const { container } = renderCreate();
    fireEvent.change(container.querySelector("#root_prompt")!, { target: { value: "meh" } });
    fireEvent.click(screen.getByTestId("submit"));
    await screen.findByRole("alert");
    const group = container.querySelector("#root_prompt")!.closest(".form-group")!;
    expect(group.textContent).toContain("too dull");
  });
});
