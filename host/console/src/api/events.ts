/**
 * A task's live events over Server-Sent Events. The browser's EventSource sends the session
 * cookie and, when it reconnects, the last event id: the API resumes after it, so a dropped
 * connection misses no log line and repeats none. The stream is closed once the task ends.
 */
import { useEffect, useRef, useState } from "react";
import { FINISHED, type Task } from "./client";

export interface LogLine {
  id: number;
  attempt: number;
  level: string;
  message: string;
}

export function eventsUrl(taskId: string): string {
  return `/api/v1/tasks/${encodeURIComponent(taskId)}/events`;
}

export function useTaskEvents(taskId: string | null, onTask?: (task: Task) => void) {
  const [task, setTask] = useState<Task | null>(null);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [connected, setConnected] = useState(false);
  const onTaskRef = useRef(onTask);
  onTaskRef.current = onTask;

  useEffect(() => {
    if (!taskId) return;
    setTask(null);
    setLogs([]);
    const source = new EventSource(eventsUrl(taskId), { withCredentials: true });
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.addEventListener("task", (e) => {
      const next = JSON.parse((e as MessageEvent).data) as Task;
      setTask(next);
      onTaskRef.current?.(next);
      if (FINISHED.includes(next.status)) source.close(); // otherwise EventSource would reconnect
    });
    source.addEventListener("log", (e) => {
      const line = JSON.parse((e as MessageEvent).data) as LogLine;
      setLogs((prev) => (prev.some((l) => l.id === line.id) ? prev : [...prev, line]));
    });
    return () => source.close();
  }, [taskId]);

  return { task, logs, connected };
}
