/** Live progress of one task from its event stream: fraction, step message, queue place, worker wait. */
import { FINISHED, type Task } from "../api/client";
import { useTaskEvents } from "../api/events";

export function describe(task: Task): string {
  if (task.status === "queued") {
    if (task.waiting_for_worker) return `waiting for a worker with ${task.generator}`;
    return task.queue_position ? `queued: position ${task.queue_position}` : "queued";
  }
  if (task.status === "running") return task.message || "running";
  if (task.status === "failed") return task.error ? task.error.message : "";
  return task.message && task.message !== task.status ? task.message : "";
}

export function ProgressView({ task }: { task: Task }) {
  const percent = Math.round((task.status === "succeeded" ? 1 : task.progress) * 100);
  return (
    <div className={`progress status-${task.status}`} data-testid="progress">
      <div
        className="bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-label={`progress of ${task.id}`}
      >
        <div className="fill" style={{ width: `${percent}%` }} />
      </div>
      <div className="caption">
        <span className="status">{task.status}</span> <span className="percent">{percent}%</span>{" "}
        <span className="message">{describe(task)}</span>
      </div>
    </div>
  );
}

/** The bar, fed by SSE while the task is active; `initial` shows until the first event. */
export function ProgressBar({ initial, onTask }: { initial: Task; onTask?: (task: Task) => void }) {
  const live = !FINISHED.includes(initial.status);
  const { task } = useTaskEvents(live ? initial.id : null, onTask);
  return <ProgressView task={task ?? initial} />;
}
