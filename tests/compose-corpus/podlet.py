#!/usr/bin/env python3
"""How much of the Compose corpus podlet translates, for the README's comparison.

Runs `podlet --file OUT compose FILE` once per project of tests/compose-corpus/, in the
project's directory, as a user would run it, and counts the projects podlet converts (it
converts a file whole or not at all) and the `.container` files it writes; for a project
it refuses, the reason it gives (the last line of its error chain).

    cargo install podlet --version 0.3.2 --locked --root /tmp/podlet
    tests/compose-corpus/podlet.py --podlet /tmp/podlet/bin/podlet

Not in CI: podlet is a converter run by hand, and building it takes minutes. The same
projects through the generator: measure.py.

The last line is the summary:
  TOTAL projects=N converted=N containers=N
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

from measure import COMPOSE_FILES, HERE, projects

# podlet prints its error chain as "   N: message" lines, the innermost last.
CHAIN_LINE = re.compile(r"^\s*\d+: (.*)$")
# It colours its messages whatever NO_COLOR says.
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def refusal(stderr):
    chain = []
    for line in ANSI.sub("", stderr).splitlines():
        if line.strip().startswith("Location:"):
            break
        m = CHAIN_LINE.match(line)
        if m:
            chain.append(m.group(1))
    return chain[-1] if chain else stderr.strip().splitlines()[-1:] or ["(no message)"]


def convert(podlet, project_dir, timeout):
    compose_file = next(f for f in COMPOSE_FILES if os.path.exists(os.path.join(project_dir, f)))
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, NO_COLOR="1", RUST_BACKTRACE="0", COLORBT_SHOW_HIDDEN="0")
        try:
            p = subprocess.run([podlet, "--skip-services-check", "--file", out, "compose", compose_file],
                               cwd=project_dir, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, 0, f"timed out after {timeout} s"
        containers = sum(name.endswith(".container") for name in os.listdir(out))
        if p.returncode == 0:
            return True, containers, None
        return False, containers, refusal(p.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--podlet", default="podlet")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("corpus", nargs="?", default=HERE)
    a = ap.parse_args()
    converted = containers = total = 0
    for name, d in projects(a.corpus):
        ok, n, why = convert(a.podlet, d, a.timeout)
        total += 1
        converted += ok
        containers += n if ok else 0
        print(f"{name:32} {'converted' if ok else 'REFUSED':9} {n if ok else 0:3} containers"
              + (f"  {why[:150]}" if why else ""))
    print(f"TOTAL projects={total} converted={converted} containers={containers}")


if __name__ == "__main__":
    sys.exit(main())
