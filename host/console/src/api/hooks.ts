/** Data fetching through one cache (@tanstack/react-query): each resource has one key and one hook. */
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, ApiError, call, type Me, type TaskStatus } from "./client";

export const keys = {
  setup: ["setup"] as const,
  me: ["me"] as const,
  plugins: ["plugins"] as const,
  task: (id: string) => ["task", id] as const,
  tasks: ["tasks"] as const,
  logs: (id: string) => ["task", id, "logs"] as const,
  attempts: (id: string) => ["task", id, "attempts"] as const,
  members: (p: string) => ["project", p, "members"] as const,
  invitations: (p: string) => ["project", p, "invitations"] as const,
  keys: (p: string) => ["project", p, "keys"] as const,
};

/** Retry what the server may answer better in a moment (503 while busy, a dropped connection), never a 4xx. */
export function retryTransient(count: number, error: unknown): boolean {
  return count < 4 && !(error instanceof ApiError && error.status < 500);
}

export function useSetup() {
  return useQuery({ queryKey: keys.setup, queryFn: () => call(api.GET("/api/v1/auth/setup")) });
}

/** The logged-in person, or null when nobody is (a 401 is an answer here, not an error). */
export function useMe() {
  return useQuery<Me | null>({
    queryKey: keys.me,
    queryFn: async () => {
      try {
        return await call(api.GET("/api/v1/auth/me"));
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    retry: retryTransient,
  });
}

export function usePlugins() {
  return useQuery({ queryKey: keys.plugins, queryFn: () => call(api.GET("/api/v1/plugins")) });
}

/** One task; `pollMs` re-reads it while set (when its live stream is down). */
export function useTask(id: string, pollMs: number | false = false) {
  return useQuery({
    queryKey: keys.task(id),
    refetchInterval: pollMs,
    queryFn: () => call(api.GET("/api/v1/tasks/{task_id}/status", { params: { path: { task_id: id } } })),
    retry: retryTransient,
  });
}

export function useTaskLogs(id: string) {
  return useQuery({
    queryKey: keys.logs(id),
    queryFn: () => call(api.GET("/api/v1/tasks/{task_id}/logs", { params: { path: { task_id: id } } })),
  });
}

export function useTaskAttempts(id: string) {
  return useQuery({
    queryKey: keys.attempts(id),
    queryFn: () => call(api.GET("/api/v1/tasks/{task_id}/attempts", { params: { path: { task_id: id } } })),
  });
}

export interface TaskFilter {
  project: string;
  mine: boolean;
  status?: TaskStatus;
  generator?: string;
}

/** A project's tasks, newest first, a page at a time (cursor paging holds up at any size). */
export function useTasks(filter: TaskFilter, pageSize = 24) {
  return useInfiniteQuery({
    queryKey: [...keys.tasks, filter, pageSize],
    enabled: Boolean(filter.project),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      call(api.GET("/api/v1/projects/{project_id}/tasks", {
        params: {
          path: { project_id: filter.project },
          query: {
            mine: filter.mine, status: filter.status, generator: filter.generator || undefined,
            limit: pageSize, cursor: pageParam ?? undefined,
          },
        },
      })),
    getNextPageParam: (last) => last.next ?? null,
  });
}
