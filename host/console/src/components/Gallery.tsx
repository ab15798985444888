/**
 * The results: the person's own ("Mine") or every member's in a project ("Project"), newest first,
 * filtered by kind, generator and status, a page at a time.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { api, call, FINISHED, type Plugin, type Task, type TaskStatus } from "../api/client";
import { keys, useTasks } from "../api/hooks";
import { MediaPlayer, posterOf } from "./MediaPlayer";
import { ProgressBar, ProgressView } from "./ProgressBar";

const STATUSES: TaskStatus[] = ["queued", "running", "succeeded", "failed", "cancelled"];

export function TaskCard({ task }: { task: Task }) {
  const client = useQueryClient();
  const active = !FINISHED.includes(task.status);
  const remove = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/tasks/{task_id}", { params: { path: { task_id: task.id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.tasks }),
  });
  return (
    <article className="card" data-testid="task-card" data-task={task.id} data-status={task.status}>
      <header>
        <Link to={`/tasks/${task.id}`}>{task.generator}</Link>
        <span className={`badge status-${task.status}`}>{task.status}</span>
      </header>
      {typeof task.params.prompt === "string" && <p className="prompt">{task.params.prompt}</p>}
      {typeof task.params.text === "string" && <p className="prompt">{task.params.text}</p>}
      {task.status === "succeeded" && task.outputs.length > 0 &&
        <MediaPlayer output={task.outputs[0]} poster={posterOf(task.outputs)} compact />}
      {active ? (
        <ProgressBar initial={task} onTask={(t) => FINISHED.includes(t.status) &&
          client.invalidateQueries({ queryKey: keys.tasks })} />
      ) : task.status !== "succeeded" && <ProgressView task={task} />}
      <footer className="muted">
        {new Date(task.created_at).toLocaleString()}
        {!active && (
          <button className="link danger" aria-label={`delete ${task.id}`} disabled={remove.isPending}
            onClick={() => window.confirm("Delete this result and its files?") && remove.mutate()}>Delete</button>
        )}
      </footer>
    </article>
  );
}

export function Gallery({ projects, plugins }: { projects: string[]; plugins: Plugin[] }) {
  const [mine, setMine] = useState(true);
  const [project, setProject] = useState(projects[0] ?? "");
  const [kind, setKind] = useState("");
  const [generator, setGenerator] = useState("");
  const [status, setStatus] = useState<TaskStatus | "">("");
  const kinds = useMemo(() => [...new Set(plugins.map((p) => p.kind))].sort(), [plugins]);
  const generators = plugins.filter((p) => !kind || p.kind === kind);
  const kindOf = useMemo(() => Object.fromEntries(plugins.map((p) => [p.name, p.kind])), [plugins]);
  const query = useTasks({ project, mine, status: status || undefined, generator: generator || undefined });
  const tasks = (query.data?.pages.flatMap((p) => p.data) ?? []).filter((t) => !kind || kindOf[t.generator] === kind);

  return (
    <section className="gallery">
      <div className="tabs" role="tablist">
        <button role="tab" aria-selected={mine} onClick={() => setMine(true)}>Mine</button>
        <button role="tab" aria-selected={!mine} onClick={() => setMine(false)}>Project</button>
      </div>
      <div className="filters">
        {projects.length > 1 && (
          <label>Project{" "}
            <select value={project} onChange={(e) => setProject(e.target.value)} aria-label="project">
              {projects.map((p) => <option key={p}>{p}</option>)}
            </select>
          </label>
        )}
        <label>Kind{" "}
          <select value={kind} onChange={(e) => { setKind(e.target.value); setGenerator(""); }} aria-label="kind">
            <option value="">all</option>
            {kinds.map((k) => <option key={k}>{k}</option>)}
          </select>
        </label>
        <label>Generator{" "}
          <select value={generator} onChange={(e) => setGenerator(e.target.value)} aria-label="generator">
            <option value="">all</option>
            {generators.map((g) => <option key={g.name}>{g.name}</option>)}
          </select>
        </label>
        <label>Status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value as TaskStatus | "")} aria-label="status">
            <option value="">all</option>
            {STATUSES.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
      </div>
      {query.isLoading && <p>Loading…</p>}
      {query.isSuccess && tasks.length === 0 && <p className="empty">No results yet. <Link to="/">Create one</Link>.</p>}
      <div className="grid">
        {tasks.map((t) => <TaskCard key={t.id} task={t} />)}
      </div>
      {query.hasNextPage && (
        <button onClick={() => query.fetchNextPage()} disabled={query.isFetchingNextPage}>
          {query.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
