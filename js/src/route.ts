/**
 * The route template the page is on (`/products/[id]`, never `/products/42`): metrics are labelled by it, so
 * it must be a template. Set by the Next.js integration (`RouteTemplate`) or by the app (`setRouteTemplate`).
 */

let current: string | undefined;
let initial: string | undefined;
const waiting: Array<() => void> = [];

/** Tell the package which route template the page is on now. */
export function setRouteTemplate(template: string): void {
  if (typeof template !== "string" || template === "") return;
  current = template;
  if (initial === undefined) initial = template;
  for (const callback of waiting.splice(0)) {
    try {
      callback();
    } catch {
      // a waiter's failure stays its own
    }
  }
}

/** The route template now, if known. */
export function currentRoute(): string | undefined {
  return current;
}

/** The route template of the page as it was loaded (load metrics belong to it: LCP, FCP, TTFB). */
export function initialRoute(): string | undefined {
  return initial;
}

/** Run `callback` once a route is known (now, if it is). At most 100 waiters; beyond, run it now. */
export function whenRouteKnown(callback: () => void): void {
  if (current !== undefined || waiting.length >= 100) callback();
  else waiting.push(callback);
}

/** Forget the route (tests). */
export function resetRoute(): void {
  current = undefined;
  initial = undefined;
  waiting.length = 0;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The app router's route template of `pathname`, from the dynamic `params` Next.js resolved for it:
 * `("/products/42", {id: "42"})` → `/products/[id]`; a catch-all `{slug: ["a", "b"]}` → `[...slug]`.
 * Params are matched from the last (innermost, as Next.js orders them) to the first, each to the last segment(s)
 * holding its value before the segment the next param took.
 */
export function templateFromParams(
  pathname: string,
  params: Readonly<Record<string, string | readonly string[] | undefined>> | null | undefined,
): string {
  const segments = pathname.split("/").filter((segment) => segment !== "");
  const template: string[] = segments.slice();
  const decoded = segments.map(decode);
  const matches = (index: number, value: string): boolean => decoded[index] === value || segments[index] === value;
  let limit = segments.length; // params to the left of the one placed last
  for (const [name, value] of Object.entries(params ?? {}).reverse()) {
    if (value === undefined) continue;
    const parts: readonly string[] = Array.isArray(value) ? value : [value as string];
    if (parts.length === 0) continue;
    for (let start = limit - parts.length; start >= 0; start -= 1) {
      if (parts.every((part, i) => matches(start + i, part))) {
        const label = Array.isArray(value) ? `[...${name}]` : `[${name}]`;
        template.splice(start, parts.length, label, ...new Array<string>(parts.length - 1).fill(""));
        limit = start;
        break;
      }
    }
  }
  const path = template.filter((segment) => segment !== "").join("/");
  return `/${path}`;
}
