// The few Next.js functions the integration calls, typed for building this package without Next.js installed.
// Applications build against Next.js' own types.
declare module "next/navigation" {
  export function usePathname(): string | null;
  export function useParams(): Record<string, string | string[]> | null;
}

declare module "next/headers" {
  export function headers(): Promise<{ get(name: string): string | null }>;
}
