/** The console's routes; pages that need a login send a visitor to the login (or first-run) screen. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, Navigate, NavLink, Route, Routes, useNavigate, useParams } from "react-router-dom";
import { api, call, type Me } from "./api/client";
import { useMe, usePlugins, useSetup } from "./api/hooks";
import { Gallery } from "./components/Gallery";
import { TaskPage } from "./components/TaskPage";
import { LoginPage, ResetPage, SignupPage } from "./pages/Auth";
import { CreatePage } from "./pages/Create";
import { OpsPage } from "./pages/Ops";
import { ProfilePage } from "./pages/Profile";
import { ProjectAdminPage } from "./pages/ProjectAdmin";

function Shell({ me, children }: { me: Me; children: ReactNode }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const logout = useMutation({
    mutationFn: () => call(api.POST("/api/v1/auth/logout")),
    onSettled: () => { client.clear(); navigate("/login"); },
  });
  const owned = me.projects.filter((p) => p.role === "owner");
  return (
    <div className="shell">
      <header className="top">
        <Link to="/" className="brand">Reel</Link>
        <nav>
          <NavLink to="/" end>Create</NavLink>
          <NavLink to="/gallery">Gallery</NavLink>
          {owned.length > 0 && <NavLink to={`/projects/${owned[0].project}`}>Project</NavLink>}
          {me.is_admin && <NavLink to="/ops">Ops</NavLink>}
          <NavLink to="/profile">Profile</NavLink>
        </nav>
        <span className="who">{me.email}</span>
        <button onClick={() => logout.mutate()} data-testid="logout">Log out</button>
      </header>
      <main>{children}</main>
    </div>
  );
}

function RequireLogin({ children }: { children: (me: Me) => ReactNode }) {
  const me = useMe();
  const setup = useSetup();
  if (me.isLoading || setup.isLoading) return <p className="loading">Loading…</p>;
  if (me.error) {
    return <p className="error">The server did not answer ({(me.error as Error).message});{" "}
      <button onClick={() => me.refetch()}>try again</button></p>;
  }
  if (!me.data) return <Navigate to={setup.data?.first_run ? "/setup" : "/login"} replace />;
  return <Shell me={me.data}>{children(me.data)}</Shell>;
}

function WithPlugins({ children }: { children: (plugins: NonNullable<ReturnType<typeof usePlugins>["data"]>["data"]) => ReactNode }) {
  const plugins = usePlugins();
  if (plugins.isLoading) return <p className="loading">Loading…</p>;
  if (plugins.error) return <p className="error">{(plugins.error as Error).message}</p>;
  return <>{children(plugins.data!.data)}</>;
}

function TaskRoute() {
  const { taskId } = useParams();
  return <TaskPage key={taskId} taskId={taskId!} />;
}

function ProjectRoute({ me }: { me: Me }) {
  const { projectId } = useParams();
  return <ProjectAdminPage key={projectId} project={projectId!} me={me} />;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/setup" element={<SignupPage firstRun />} />
      <Route path="/signup" element={<SignupPage />} />
      <Route path="/invite/:token" element={<SignupPage />} />
      <Route path="/reset/:token" element={<ResetPage />} />
      <Route path="/" element={<RequireLogin>{(me) =>
        <WithPlugins>{(plugins) => <CreatePage me={me} plugins={plugins} />}</WithPlugins>}</RequireLogin>} />
      <Route path="/gallery" element={<RequireLogin>{(me) =>
        <WithPlugins>{(plugins) => <Gallery projects={me.projects.map((p) => p.project)} plugins={plugins} />}
        </WithPlugins>}</RequireLogin>} />
      <Route path="/tasks/:taskId" element={<RequireLogin>{() => <TaskRoute />}</RequireLogin>} />
      <Route path="/profile" element={<RequireLogin>{(me) => <ProfilePage me={me} />}</RequireLogin>} />
      <Route path="/projects/:projectId" element={<RequireLogin>{(me) => <ProjectRoute me={me} />}</RequireLogin>} />
      <Route path="/ops" element={<RequireLogin>{(me) => me.is_admin ? <OpsPage /> :
        <p className="error">Admins only.</p>}</RequireLogin>} />
      <Route path="*" element={<p className="error" data-testid="not-found">Page not found.</p>} />
    </Routes>
  );
}
