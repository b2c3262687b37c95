import { useState } from "preact/hooks";
import { login } from "../api/endpoints";
import type { Me } from "../api/shapes";
import { ErrorBanner } from "../ui/ErrorBanner";

export function LoginView({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await login({ username, password }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="page login">
      <h1>Loupe</h1>
      <form onSubmit={submit} class="card stack" aria-label="Sign in">
        <label>
          Username
          <input name="username" autoComplete="username" required data-testid="login-username" value={username}
                 onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required
                 data-testid="login-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy} data-testid="login-submit">Sign in</button>
        <ErrorBanner error={error} testId="login-error" />
      </form>
    </main>
  );
}
