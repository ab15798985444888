/** Ops (instance admins): workers with plugins, versions and GPUs; queues with depth; generators and schemas. */
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { usePlugins } from "../api/hooks";

interface Gpu { name: string; memory_total_mb: number; memory_free_mb: number }

export function OpsPage() {
  const workers = useQuery({ queryKey: ["ops", "workers"], refetchInterval: 5000,
    queryFn: () => call(api.GET("/api/v1/workers/status", { params: { query: { include_stopped: false } } })) });
  const queues = useQuery({ queryKey: ["ops", "queues"], refetchInterval: 5000,
    queryFn: () => call(api.GET("/api/v1/ops/queues")) });
  const plugins = usePlugins();
  return (
    <section className="ops">
      <h2>Operations</h2>
      <h3>Workers</h3>
      <table data-testid="workers">
        <thead><tr><th>worker</th><th>pool</th><th>status</th><th>plugins</th><th>GPUs</th><th>task</th></tr></thead>
        <tbody>
          {(workers.data?.data ?? []).map((w) => (
            <tr key={w.id}>
              <td>{w.hostname}<br /><small className="muted">{w.id}</small></td>
              <td>{w.pool}</td><td>{w.status}</td>
              <td>{(w.plugins as { name?: string; version?: string }[]).map((p) => `${p.name} ${p.version ?? ""}`).join(", ")}</td>
              <td>{w.gpus.length === 0 ? "CPU" : (w.gpus as unknown as Gpu[]).map((g) =>
                `${g.name}: ${g.memory_total_mb - g.memory_free_mb} of ${g.memory_total_mb} MiB used`).join(", ")}</td>
              <td>{w.current_task ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Queues</h3>
      <table data-testid="queues">
        <thead><tr><th>queue</th><th>queued</th><th>running</th><th>workers</th></tr></thead>
        <tbody>
          {(queues.data?.data ?? []).map((q) => (
            <tr key={q.queue}><td>{q.queue}</td><td>{q.queued}</td><td>{q.running}</td><td>{q.workers}</td></tr>
          ))}
        </tbody>
      </table>
      <h3>Generators</h3>
      {(plugins.data?.data ?? []).map((p) => (
        <details key={p.name}>
          <summary>{p.name} ({p.kind}) — {p.distribution} {p.version}, {p.workers} worker(s)</summary>
          <pre>{JSON.stringify(p.params_schema, null, 2)}</pre>
        </details>
      ))}
    </section>
  );
}
