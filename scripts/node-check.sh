#!/bin/sh
# Is Node.js 20.9+ (with npm) here, for the browser package (js/) and the demo storefront (Next.js 16)?
# Exit 0: yes. Without it: exit 1 under CI=true (a missing component is a failure there), else print what to
# install and exit 3, so `make test` goes on without the JavaScript parts.
set -u
need="20.9.0"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    have=$(node -p 'process.versions.node' 2>/dev/null || echo 0)
    if node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=9)?0:1)'; then
        exit 0
    fi
    problem="Node.js $have is too old (need $need or newer)"
else
    problem="Node.js (node and npm, $need or newer) is not installed"
fi
case "${CI:-}" in
    1|true|TRUE|yes|YES)
        echo "node-check: $problem" >&2
        exit 1 ;;
esac
echo "node-check: $problem; skipping the JavaScript parts (https://nodejs.org/ or NodeSource's Debian packages)" >&2
exit 3
