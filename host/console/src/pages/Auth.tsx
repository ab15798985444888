/** Before a login: first-run setup, login, signup by invitation (or open signup), password links. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useParams } from "react-router-dom";
import { api, ApiError, call } from "../api/client";
import { keys, useMe, useSetup } from "../api/hooks";

function Field({ label, type = "text", value, onChange, autoComplete }: {
  label: string; type?: string; value: string; onChange: (v: string) => void; autoComplete?: string;
}) {
  return (
    <label className="field">
      {label}
      <input type={type} value={value} onChange={(e) => onChange(e.target.value)} autoComplete={autoComplete}
        name={label.toLowerCase().replace(/\s+/g, "_")} required />
    </label>
  );
}

function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  return <p className="error" role="alert">{error instanceof ApiError ? error.message : String(error)}</p>;
}

function useLoggedIn() {
  const client = useQueryClient();
  const navigate = useNavigate();
  return (to = "/") => {
    client.resetQueries();
    navigate(to);
  };
}

export function LoginPage() {
  const setup = useSetup();
  const me = useMe();
  const done = useLoggedIn();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const login = useMutation({
    mutationFn: () => call(api.POST("/api/v1/auth/login", { body: { email, password } })),
    onSuccess: () => done(),
  });
  if (setup.data?.first_run) return <Navigate to="/setup" replace />;
  if (me.data) return <Navigate to="/" replace />;
  const submit = (e: FormEvent) => { e.preventDefault(); login.mutate(); };
  return (
    <form className="auth" onSubmit={submit} data-testid="login-form">
      <h1>Log in to Reel</h1>
      <Field label="Email" type="email" value={email} onChange={setEmail} autoComplete="username" />
      <Field label="Password" type="password" value={password} onChange={setPassword}
        autoComplete="current-password" />
      <ErrorLine error={login.error} />
      <button type="submit" disabled={login.isPending}>Log in</button>
      {setup.data?.signup === "open" && <p><Link to="/signup">Create an account</Link></p>}
      <p className="muted">Forgot your password? An admin can send you a link (reel users reset-password).</p>
    </form>
  );
}

/** Signup: the first run (becomes the admin), an invitation link, or open signup. */
export function SignupPage({ firstRun = false }: { firstRun?: boolean }) {
  const { token } = useParams();
  const setup = useSetup();
  const me = useMe();
  const done = useLoggedIn();
  const client = useQueryClient();
  const invitation = useQuery({
    queryKey: ["invitation", token],
    enabled: Boolean(token),
    retry: false,
    queryFn: () => call(api.GET("/api/v1/auth/invitations/{token}", { params: { path: { token: token! } } })),
  });
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const signup = useMutation({
    mutationFn: () => call(api.POST("/api/v1/auth/signup", {
      body: { email: invitation.data?.email ?? email, password, invitation: token ?? null },
    })),
    onSuccess: () => done(),
  });
  const accept = useMutation({
    mutationFn: () => call(api.POST("/api/v1/auth/invitations/{token}/accept",
      { params: { path: { token: token! } } })),
    onSuccess: () => { client.invalidateQueries({ queryKey: keys.me }); done(); },
  });
  if (firstRun && setup.data && !setup.data.first_run) return <Navigate to="/login" replace />;
  if (token && invitation.error) return <p className="error auth">This invitation link is invalid, used or expired.</p>;
  if (token && me.data && invitation.data) {
    return (
      <div className="auth">
        <h1>Join {invitation.data.project}</h1>
        <p>You are logged in as {me.data.email}; the invitation is for {invitation.data.email}.</p>
        <ErrorLine error={accept.error} />
        <button onClick={() => accept.mutate()}>Join as {invitation.data.role}</button>
      </div>
    );
  }
  const submit = (e: FormEvent) => { e.preventDefault(); signup.mutate(); };
  return (
    <form className="auth" onSubmit={submit} data-testid="signup-form">
      {firstRun ? (
        <>
          <h1>Welcome to Reel</h1>
          <p>Create the first account. It becomes the instance admin and the owner of the <b>default</b> project.</p>
        </>
      ) : invitation.data ? (
        <>
          <h1>Join {invitation.data.project}</h1>
          <p>You were invited as {invitation.data.role}.</p>
        </>
      ) : (
        <h1>Create an account</h1>
      )}
      {invitation.data ? (
        <p>Email: <b data-testid="invited-email">{invitation.data.email}</b></p>
      ) : (
        <Field label="Email" type="email" value={email} onChange={setEmail} autoComplete="username" />
      )}
      <Field label="Password" type="password" value={password} onChange={setPassword} autoComplete="new-password" />
      <p className="muted">At least 10 characters.</p>
      <ErrorLine error={signup.error} />
      <button type="submit" disabled={signup.isPending}>{firstRun ? "Create the admin account" : "Sign up"}</button>
    </form>
  );
}

export function ResetPage() {
  const { token } = useParams();
  const navigate = useNavigate();
  const [password, setPassword] = useState("");
  const reset = useMutation({
    mutationFn: () => call(api.POST("/api/v1/auth/reset", { body: { token: token!, password } })),
    onSuccess: () => navigate("/login"),
  });
  return (
    <form className="auth" onSubmit={(e) => { e.preventDefault(); reset.mutate(); }}>
      <h1>Set your password</h1>
      <Field label="New password" type="password" value={password} onChange={setPassword}
        autoComplete="new-password" />
      <ErrorLine error={reset.error} />
      <button type="submit" disabled={reset.isPending}>Set password</button>
    </form>
  );
}
