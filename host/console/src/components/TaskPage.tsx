/** One task: live progress, results, params, attempts, log lines, error; cancel, retry and delete. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, ApiError, call, FINISHED, type Task } from "../api/client";
import { useTaskEvents } from "../api/events";
import { keys, useTask, useTaskAttempts, useTaskLogs } from "../api/hooks";
import { MediaPlayer, posterOf } from "./MediaPlayer";
import { ProgressView } from "./ProgressBar";

export function TaskPage({ taskId }: { taskId: string }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [streaming, setStreaming] = useState(true);
  // while the task is active and its stream is down (a proxy dropped it, the API said 503), read the record
  const stored = useTask(taskId, streaming ? false : 2000);
  const refresh = () => {
    client.invalidateQueries({ queryKey: keys.task(taskId) });
    client.invalidateQueries({ queryKey: keys.tasks });
  };
  const live = stored.data && !FINISHED.includes(stored.data.status) ? taskId : null;
  const events = useTaskEvents(live, (t) => {
    if (FINISHED.includes(t.status)) refresh();
  });
  useEffect(() => setStreaming(!live || events.connected), [live, events.connected]);
  const logs = useTaskLogs(taskId);
  const attempts = useTaskAttempts(taskId);
  const path = { params: { path: { task_id: taskId } } };
  const cancel = useMutation({ mutationFn: () => call(api.DELETE("/api/v1/tasks/{task_id}/cancel", path)),
    onSuccess: refresh });
  const retry = useMutation({ mutationFn: () => call(api.POST("/api/v1/tasks/{task_id}/retry", path)),
    onSuccess: refresh });
  const remove = useMutation({ mutationFn: () => call(api.DELETE("/api/v1/tasks/{task_id}", path)),
    onSuccess: () => { client.invalidateQueries({ queryKey: keys.tasks }); navigate("/gallery"); } });

  if (stored.isLoading) return <p>Loading…</p>;
  if (stored.error) {
    const missing = stored.error instanceof ApiError && stored.error.status === 404;
    return <p className="error" data-testid="not-found">{missing ? "Task not found." : String(stored.error)}</p>;
  }
  // the live view wins while it is newer: a later attempt, or the same one while the record is not finished
  // (a cancel or retry answered here refreshes the record before the stream tells)
  const streamed = events.task;
  const record = stored.data!;
  const task: Task = streamed && (streamed.attempts > record.attempts ||
    (streamed.attempts === record.attempts && !FINISHED.includes(record.status))) ? streamed : record;
  const lines = [...(logs.data?.data ?? [])];
  for (const l of events.logs) if (!lines.some((x) => x.message === l.message && x.attempt === l.attempt)) {
    lines.push({ ...l, created_at: "" });
  }
  const failure = cancel.error ?? retry.error ?? remove.error;
  return (
    <section className="task-page" data-testid="task-page" data-status={task.status}>
      <h2>{task.generator} <span className={`badge status-${task.status}`}>{task.status}</span></h2>
      <ProgressView task={task} />
      <div className="actions">
        {!FINISHED.includes(task.status) && (
          <button onClick={() => cancel.mutate()} disabled={cancel.isPending}>Cancel</button>
        )}
        {(task.status === "failed" || task.status === "cancelled") && (
          <button onClick={() => retry.mutate()} disabled={retry.isPending}>Retry</button>
        )}
        {FINISHED.includes(task.status) && (
          <button className="danger" onClick={() => window.confirm("Delete this result and its files?") &&
            remove.mutate()}>Delete</button>
        )}
      </div>
      {failure && <p className="error">{(failure as Error).message}</p>}
      {task.error && <p className="error" data-testid="task-error">{task.error.code}: {task.error.message}</p>}
      {task.outputs.length > 0 && (
        <div className="outputs">
          {task.outputs.map((o) => <MediaPlayer key={o.url} output={o} poster={posterOf(task.outputs)} />)}
        </div>
      )}
      <h3>Params</h3>
      <pre className="params">{JSON.stringify(task.params, null, 2)}</pre>
      <h3>Attempts</h3>
      <table className="attempts">
        <thead><tr><th>#</th><th>worker</th><th>status</th><th>started</th><th>finished</th><th>error</th></tr></thead>
        <tbody>
          {(attempts.data ?? []).map((a, i) => (
            <tr key={i}>
              <td>{a.number}</td><td>{a.worker}</td><td>{a.status}</td>
              <td>{new Date(a.started_at).toLocaleTimeString()}</td>
              <td>{a.finished_at ? new Date(a.finished_at).toLocaleTimeString() : ""}</td>
              <td>{a.error ? `${a.error.code}: ${a.error.message}` : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Log</h3>
      <pre className="logs" data-testid="logs">
        {lines.map((l) => `[${l.attempt}] ${l.level} ${l.message}`).join("\n")}
      </pre>
      <p className="muted">id {task.id} · project {task.project} · attempts {task.attempts} ·
        created {new Date(task.created_at).toLocaleString()}</p>
    </section>
  );
}
