/** Project admin (owners): members and roles, invitations, API keys, callback and PayloadCMS settings. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, call, readCookie, type Me } from "../api/client";
import { keys } from "../api/hooks";

/** An API key as the keys API lists it (the security work's `/projects/{p}/keys`). */
interface KeyRow { id: string; name?: string | null; prefix: string; created_by?: string | null;
  created_at: string; last_used_at?: string | null; revoked_at?: string | null }

async function keysFetch(path: string, init: RequestInit = {}): Promise<unknown> {
  const headers = new Headers(init.headers);
  if (init.method && init.method !== "GET") headers.set("X-CSRF-Token", readCookie("reel_csrf") ?? "");
  if (init.body) headers.set("Content-Type", "application/json");
  const r = await fetch(path, { ...init, headers, credentials: "same-origin" });
  if (!r.ok) {
    const env = (await r.json().catch(() => ({}))) as { error?: { code: string; message: string } };
    throw new ApiError(r.status, env.error?.code ?? "http_error", env.error?.message ?? r.statusText);
  }
  return r.status === 204 ? null : r.json();
}

function Members({ project, me }: { project: string; me: Me }) {
  const client = useQueryClient();
  const members = useQuery({ queryKey: keys.members(project), queryFn: () =>
    call(api.GET("/api/v1/projects/{project_id}/members", { params: { path: { project_id: project } } })) });
  const refresh = () => client.invalidateQueries({ queryKey: keys.members(project) });
  const setRole = useMutation({
    mutationFn: ({ user, role }: { user: string; role: "owner" | "member" }) =>
      call(api.PUT("/api/v1/projects/{project_id}/members/{user_id}",
        { params: { path: { project_id: project, user_id: user } }, body: { role } })),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (user: string) => call(api.DELETE("/api/v1/projects/{project_id}/members/{user_id}",
      { params: { path: { project_id: project, user_id: user } } })),
    onSettled: refresh,
  });
  const failure = setRole.error ?? remove.error;
  return (
    <section>
      <h3>Members</h3>
      <table data-testid="members">
        <thead><tr><th>email</th><th>role</th><th /></tr></thead>
        <tbody>
          {(members.data?.data ?? []).map((m) => (
            <tr key={m.user_id}>
              <td>{m.email}{m.user_id === me.id && " (you)"}</td>
              <td>
                <select value={m.role} aria-label={`role of ${m.email}`}
                  onChange={(e) => setRole.mutate({ user: m.user_id, role: e.target.value as "owner" | "member" })}>
                  <option>owner</option><option>member</option>
                </select>
              </td>
              <td><button onClick={() => remove.mutate(m.user_id)}>Remove</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {failure && <p className="error">{(failure as Error).message}</p>}
    </section>
  );
}

function Invitations({ project }: { project: string }) {
  const client = useQueryClient();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<"member" | "owner">("member");
  const list = useQuery({ queryKey: keys.invitations(project), queryFn: () =>
    call(api.GET("/api/v1/projects/{project_id}/invitations", { params: { path: { project_id: project } } })) });
  const refresh = () => client.invalidateQueries({ queryKey: keys.invitations(project) });
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/projects/{project_id}/invitations",
      { params: { path: { project_id: project } }, body: { email, role } })),
    onSuccess: () => { setEmail(""); refresh(); },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/projects/{project_id}/invitations/{invitation_id}",
      { params: { path: { project_id: project, invitation_id: id } } })),
    onSettled: refresh,
  });
  return (
    <section>
      <h3>Invitations</h3>
      <form className="row" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <input type="email" placeholder="email" value={email} onChange={(e) => setEmail(e.target.value)}
          aria-label="invite email" required />
        <select value={role} onChange={(e) => setRole(e.target.value as "member" | "owner")} aria-label="invite role">
          <option>member</option><option>owner</option>
        </select>
        <button type="submit" disabled={create.isPending}>Invite</button>
      </form>
      {create.error && <p className="error">{(create.error as Error).message}</p>}
      {create.data?.link && (
        <p className="ok">Send this one-time link to {create.data.email} (shown once):{" "}
          <code data-testid="invite-link">{create.data.link}</code></p>
      )}
      <ul>
        {(list.data?.data ?? []).map((i) => (
          <li key={i.id}>{i.email} as {i.role}, until {new Date(i.expires_at).toLocaleDateString()}{" "}
            <button onClick={() => revoke.mutate(i.id)}>Revoke</button></li>
        ))}
      </ul>
    </section>
  );
}

function ApiKeys({ project }: { project: string }) {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const base = `/api/v1/projects/${encodeURIComponent(project)}/keys`;
  const list = useQuery({ queryKey: keys.keys(project), retry: false,
    queryFn: async () => ((await keysFetch(base)) as { data: KeyRow[] }).data });
  const refresh = () => client.invalidateQueries({ queryKey: keys.keys(project) });
  const create = useMutation({
    mutationFn: async () => (await keysFetch(base, { method: "POST", body: JSON.stringify({ name }) })) as
      { id: string; key: string },
    onSuccess: () => { setName(""); refresh(); },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => keysFetch(`${base}/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSettled: refresh,
  });
  const unavailable = list.error instanceof ApiError && (list.error.status === 404 || list.error.status === 405);
  return (
    <section>
      <h3>API keys</h3>
      {unavailable ? <p className="muted">This server has no key listing API yet.</p> : (
        <>
          <form className="row" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
            <input placeholder="key name" value={name} onChange={(e) => setName(e.target.value)} aria-label="key name" />
            <button type="submit">Create key</button>
          </form>
          {create.data && <p className="ok">New key (shown once): <code>{create.data.key}</code></p>}
          {(create.error ?? revoke.error) && <p className="error">{((create.error ?? revoke.error) as Error).message}</p>}
          <table>
            <thead><tr><th>name</th><th>prefix</th><th>creator</th><th>last use</th><th /></tr></thead>
            <tbody>
              {(list.data ?? []).filter((k) => !k.revoked_at).map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td><td><code>{k.prefix}…</code></td><td>{k.created_by ?? ""}</td>
                  <td>{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : "never"}</td>
                  <td><button onClick={() => revoke.mutate(k.id)}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function Callbacks({ project }: { project: string }) {
  const client = useQueryClient();
  const path = { params: { path: { project_id: project } } };
  const config = useQuery({ queryKey: ["project", project, "callbacks"], retry: false,
    queryFn: () => call(api.GET("/api/v1/admin/projects/{project_id}/callbacks", path)) });
  const [form, setForm] = useState({ base_url: "", auth_slug: "users", api_key: "" });
  const save = useMutation({
    mutationFn: () => call(api.PUT("/api/v1/admin/projects/{project_id}/callbacks/payload",
      { ...path, body: { base_url: form.base_url, auth_slug: form.auth_slug, api_key: form.api_key } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["project", project, "callbacks"] }),
  });
  const rotate = useMutation({
    mutationFn: () => call(api.POST("/api/v1/admin/projects/{project_id}/callbacks/secret/rotate",
      { ...path, body: {} })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["project", project, "callbacks"] }),
  });
  return (
    <section>
      <h3>Callbacks and PayloadCMS</h3>
      {config.error && <p className="error">{(config.error as Error).message}</p>}
      {config.data && (
        <>
          <p>Signing secret: <code>{config.data.signing.secret.slice(0, 12)}…</code>{" "}
            <button onClick={() => rotate.mutate()}>Rotate</button></p>
          <p>PayloadCMS: {config.data.payload ? `${config.data.payload.base_url} (${config.data.payload.auth_slug})`
            : "not connected"}</p>
        </>
      )}
      <form className="row" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
        <input placeholder="https://cms.example.com" value={form.base_url} aria-label="payload url"
          onChange={(e) => setForm({ ...form, base_url: e.target.value })} />
        <input placeholder="auth slug" value={form.auth_slug} aria-label="payload auth slug"
          onChange={(e) => setForm({ ...form, auth_slug: e.target.value })} />
        <input type="password" placeholder="Payload API key" value={form.api_key} aria-label="payload api key"
          onChange={(e) => setForm({ ...form, api_key: e.target.value })} />
        <button type="submit">Connect Payload</button>
      </form>
      {save.error && <p className="error">{(save.error as Error).message}</p>}
    </section>
  );
}

export function ProjectAdminPage({ project, me }: { project: string; me: Me }) {
  const role = me.projects.find((p) => p.project === project)?.role;
  if (!role) return <p className="error" data-testid="not-found">Project not found.</p>;
  return (
    <section className="project-admin">
      <h2>Project {project}</h2>
      <Members project={project} me={me} />
      {role === "owner" ? (
        <>
          <Invitations project={project} />
          <ApiKeys project={project} />
          <Callbacks project={project} />
        </>
      ) : <p className="muted">Only owners manage invitations, keys and callbacks.</p>}
    </section>
  );
}
