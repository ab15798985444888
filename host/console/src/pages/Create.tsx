/** Create: pick a generator (grouped by kind), fill its form, pick the orientation, submit. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, ApiError, call, type Me, type Plugin } from "../api/client";
import { keys } from "../api/hooks";
import { hasOrientation, OrientationSelector, type Orientation } from "../components/OrientationSelector";
import { SchemaForm } from "../components/SchemaForm";

const KIND_ORDER = ["video", "image", "audio"];

export function groupByKind(plugins: Plugin[]): [string, Plugin[]][] {
  const groups = new Map<string, Plugin[]>();
  for (const p of plugins) groups.set(p.kind, [...(groups.get(p.kind) ?? []), p]);
  const rank = (k: string) => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : KIND_ORDER.length);
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

export function CreatePage({ me, plugins }: { me: Me; plugins: Plugin[] }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const groups = useMemo(() => groupByKind(plugins), [plugins]);
  const [name, setName] = useState(groups[0]?.[1][0]?.name ?? "");
  const [project, setProject] = useState(me.projects[0]?.project ?? "");
  const [params, setParams] = useState<Record<string, unknown>>({});
  const [orientation, setOrientation] = useState<Orientation>("portrait");
  const generator = plugins.find((p) => p.name === name);
  const schema = (generator?.params_schema ?? {}) as Record<string, unknown>;
  const withOrientation = generator?.kind === "video" && hasOrientation(schema);
  const submit = useMutation({
    mutationFn: (values: Record<string, unknown>) => call(api.POST("/api/v1/tasks/submit", {
      body: {
        generator: name, project: project || null,
        params: withOrientation ? { ...values, orientation } : values,
      },
    })),
    onSuccess: (task) => {
      client.invalidateQueries({ queryKey: keys.tasks });
      navigate(`/tasks/${task.id}`);
    },
  });
  const details = submit.error instanceof ApiError ? submit.error.details : [];

  if (!plugins.length) return <p>No generators are installed.</p>;
  if (!me.projects.length) return <p>You are not a member of any project yet; ask an owner for an invitation.</p>;
  return (
    <section className="create">
      <h2>Create</h2>
      <div className="row">
        <label>Generator{" "}
          <select value={name} aria-label="generator" data-testid="generator"
            onChange={(e) => { setName(e.target.value); setParams({}); submit.reset(); }}>
            {groups.map(([kind, gens]) => (
              <optgroup key={kind} label={kind}>
                {gens.map((g) => <option key={g.name} value={g.name}>{g.title ? `${g.title} (${g.name})` : g.name}</option>)}
              </optgroup>
            ))}
          </select>
        </label>
        {me.projects.length > 1 && (
          <label>Project{" "}
            <select value={project} onChange={(e) => setProject(e.target.value)} aria-label="project">
              {me.projects.map((p) => <option key={p.project}>{p.project}</option>)}
            </select>
          </label>
        )}
      </div>
      {generator?.description && <p className="muted">{generator.description}</p>}
      {generator && generator.workers === 0 && (
        <p className="warning">No live worker carries {generator.name} now: tasks wait until one comes.</p>
      )}
      {withOrientation && <OrientationSelector value={orientation} onChange={setOrientation} />}
      {generator && (
        <SchemaForm
          key={name}
          id="params-form"
          schema={schema}
          value={params}
          onChange={setParams}
          onSubmit={(values) => submit.mutate(values)}
          hidden={withOrientation ? ["orientation"] : []}
          apiErrors={details}
        >
          {submit.error && <p className="error" role="alert">{(submit.error as Error).message}</p>}
          <button type="submit" disabled={submit.isPending} data-testid="submit">Generate</button>
        </SchemaForm>
      )}
    </section>
  );
}
