import { LoginForm } from "@/components/LoginForm";

export const metadata = { title: "Sign in · Demo shop" };

export default function LoginPage() {
  return (
    <>
      <h1>Sign in</h1>
      <LoginForm />
    </>
  );
}
