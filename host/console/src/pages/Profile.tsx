/** Profile: email, password change, projects and roles. */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api, call, type Me } from "../api/client";

export function ProfilePage({ me }: { me: Me }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useMutation({
    mutationFn: () => call(api.POST("/api/v1/auth/password",
      { body: { current_password: current, new_password: next } })),
    onSuccess: () => { setCurrent(""); setNext(""); },
  });
  return (
    <section className="profile">
      <h2>Profile</h2>
      <p>Email: <b data-testid="profile-email">{me.email}</b>{me.is_admin && <span className="badge">admin</span>}</p>
      <h3>Projects</h3>
      <ul>
        {me.projects.map((p) => (
          <li key={p.project}>
            {p.project} — {p.role}
            {(p.role === "owner" || me.is_admin) && <> · <Link to={`/projects/${p.project}`}>manage</Link></>}
          </li>
        ))}
      </ul>
      <h3>Change password</h3>
      <form onSubmit={(e) => { e.preventDefault(); change.mutate(); }} className="narrow">
        <label className="field">Current password
          <input type="password" value={current} onChange={(e) => setCurrent(e.target.value)}
            autoComplete="current-password" required />
        </label>
        <label className="field">New password
          <input type="password" value={next} onChange={(e) => setNext(e.target.value)}
            autoComplete="new-password" required />
        </label>
        {change.error && <p className="error" role="alert">{(change.error as Error).message}</p>}
        {change.isSuccess && <p className="ok">Password changed; your other logins ended.</p>}
        <button type="submit" disabled={change.isPending}>Change password</button>
      </form>
    </section>
  );
}
