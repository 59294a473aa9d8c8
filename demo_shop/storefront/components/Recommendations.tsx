"use client";
import { useEffect, useState } from "react";

/** "Recommended for you", shown once the component has run in the browser. With the storefront's slow_bundle
 * fault it first blocks the main thread (a heavy client bundle evaluating), as a real one would. */
export function Recommendations({ slowMs }: { slowMs: number }) {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    if (slowMs > 0) {
      const end = performance.now() + slowMs;
      while (performance.now() < end) {
        // a bundle doing too much work on load
      }
    }
    setReady(true);
  }, [slowMs]);
  return (
    <section className="panel" data-testid="recommendations">
      {ready ? "Recommended for you: the house blend." : "Loading recommendations…"}
    </section>
  );
}
