"use client";
import { useRouter } from "next/navigation";
import { type FormEvent, useState } from "react";
import { RequestError } from "@workflow-exporter/browser";

import { signIn } from "@/lib/api";

export function LoginForm() {
  const router = useRouter();
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setProblem(null);
    try {
      await signIn(String(form.get("username")), String(form.get("password")));
      router.push("/products");
    } catch (error) {
      const id = error instanceof RequestError ? ` (request ${error.requestId})` : "";
      setProblem(error instanceof RequestError && error.status === 401 ? `Wrong username or password${id}` : `Sign-in failed${id}`);
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="panel">
      <label>
        Username <input id="username" name="username" autoComplete="username" required />
      </label>
      <label>
        Password <input id="password" name="password" type="password" autoComplete="current-password" required />
      </label>
      <button type="submit" data-testid="sign-in" data-track="sign-in" disabled={busy}>
        Sign in
      </button>
      {problem && <p className="error" data-testid="login-error">{problem}</p>}
    </form>
  );
}
