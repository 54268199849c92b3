#!/usr/bin/env python3
"""How much of the Compose corpus the generator translates.

Runs the built generator once per project of tests/compose-corpus/ (each copied to
WORK/NAME/compose/NAME/ and read through UNITSMITH_UNIT_DIRS, with --dry-run) and reports,
per project and in total:

  - whether the project is fully translated (no failure stub at all),
  - the services that became container units and those that became failure stubs
    (a project that cannot be read at all is one stub, PROJECT.service, counted apart),
  - the first error of the project (the Error= of its first stub),
  - whether the generator crashed or was killed (exit status, signal, time-out).

Numbers before and after a change come from two runs:

    tests/compose-corpus/measure.py --json > before.json     # on main
    tests/compose-corpus/measure.py --compare before.json    # on the branch

Options:
  --generator PATH   the generator binary (default: target/release/unitsmith-generator)
  --json             print the whole result as JSON on stdout
  --compare FILE     also print what changed against an earlier --json result
  --only NAME        measure only this project (repeatable)
  --workdir DIR      where the projects are copied (default: target/compose-corpus-measure;
                     a directory no other user can write, as the generator's trust checks
                     want when run as root)
  --timeout SECONDS  per project (default 60)

The last line is always the summary:
  TOTAL projects=N full=N containers=N service_stubs=N project_stubs=N crashed=N
"""

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
# Stubs of what is not a service: `PROJECT-NAME-build`, `-volume`, `-network`.
RESOURCE_SUFFIXES = ("-build.service", "-volume.service", "-network.service")


def projects(corpus):
    for name in sorted(os.listdir(corpus)):
        d = os.path.join(corpus, name)
        if os.path.isdir(d) and any(os.path.exists(os.path.join(d, f)) for f in COMPOSE_FILES):
            yield name, d


def split_units(stdout):
    """`---NAME---` headers of --dry-run → {name: text}, in order."""
    units, name, lines = [], None, []
    for line in stdout.splitlines():
        if line.startswith("---") and line.endswith("---") and len(line) > 6:
            if name is not None:
                units.append((name, "\n".join(lines)))
            name, lines = line[3:-3], []
        else:
            lines.append(line)
    if name is not None:
        units.append((name, "\n".join(lines)))
    return units


def stub_error(text):
    in_section = False
    for line in text.splitlines():
        if line.startswith("["):
            in_section = line == "[X-Unitsmith]"
        elif in_section and line.startswith("Error="):
            return line[len("Error="):]
    return None


def measure_one(generator, name, src, work, timeout):
    base = os.path.join(work, name)
    shutil.rmtree(base, ignore_errors=True)
    project_dir = os.path.join(base, "compose", name)
    shutil.copytree(src, project_dir, symlinks=True)
    os.chmod(base, 0o755)
    env = dict(os.environ, UNITSMITH_UNIT_DIRS=base)
    env.pop("QUADLET_UNIT_DIRS", None)
    r = {"project": name, "containers": 0, "service_stubs": 0, "resource_stubs": 0,
         "project_stub": False, "full": False, "crashed": None, "first_error": None,
         "container_units": [], "stub_units": []}
    try:
        p = subprocess.run([generator, "--dry-run", os.path.join(base, "out")], env=env,
                           capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        r["crashed"] = f"timed out after {timeout} s"
        return r
    if p.returncode < 0:
        r["crashed"] = f"killed by signal {signal.Signals(-p.returncode).name}"
    elif p.returncode not in (0, 1):
        r["crashed"] = f"exit status {p.returncode}"
    for unit, text in split_units(p.stdout):
        err = stub_error(text)
        if err is not None:
            r["stub_units"].append(unit)
            if r["first_error"] is None:
                r["first_error"] = err.replace(project_dir + "/", "")
            if unit.endswith(RESOURCE_SUFFIXES):
                r["resource_stubs"] += 1
            elif unit == f"{name}.service":
                # PROJECT.service (the directory's name): the project could not be read at all.
                r["project_stub"] = True
            else:
                r["service_stubs"] += 1
        elif "\n[X-Container]\n" in "\n" + text + "\n":
            r["containers"] += 1
            r["container_units"].append(unit)
    r["full"] = r["crashed"] is None and not r["stub_units"]
    shutil.rmtree(base, ignore_errors=True)
    return r


def totals(results):
    return {
        "projects": len(results),
        "full": sum(r["full"] for r in results),
        "containers": sum(r["containers"] for r in results),
        "service_stubs": sum(r["service_stubs"] for r in results),
        "resource_stubs": sum(r["resource_stubs"] for r in results),
        "project_stubs": sum(r["project_stub"] for r in results),
        "crashed": sum(r["crashed"] is not None for r in results),
    }


def summary_line(t):
    return ("TOTAL projects={projects} full={full} containers={containers} "
            "service_stubs={service_stubs} project_stubs={project_stubs} "
            "resource_stubs={resource_stubs} crashed={crashed}").format(**t)


def status(r):
    if r["crashed"]:
        return "CRASH"
    if r["full"]:
        return "full"
    if r["project_stub"]:
        return "STUB"
    return "partial"


def compare(before, results, name):
    old = {r["project"]: r for r in before["projects"]}
    lines = []
    for r in results:
        o = old.get(r["project"])
        if o is None:
            lines.append(f"  {r['project']}: new ({status(r)})")
            continue
        if (status(o), o["containers"], o["service_stubs"]) != (status(r), r["containers"], r["service_stubs"]):
            lines.append(f"  {r['project']}: {status(o)} {o['containers']}c/{o['service_stubs']}s"
                         f" -> {status(r)} {r['containers']}c/{r['service_stubs']}s")
    print(f"changed against {name}:")
    print("\n".join(lines) if lines else "  nothing")
    print("before:", summary_line(before["totals"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", default=os.path.join(ROOT, "target/release/unitsmith-generator"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--compare")
    ap.add_argument("--only", action="append")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "target/compose-corpus-measure"))
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("corpus", nargs="?", default=HERE)
    a = ap.parse_args()
    if not os.access(a.generator, os.X_OK):
        sys.exit(f"{a.generator}: not built (cargo build --release -p unitsmith-generator)")
    os.makedirs(a.workdir, exist_ok=True)
    os.chmod(a.workdir, 0o755)
    results = [measure_one(a.generator, n, d, a.workdir, a.timeout)
               for n, d in projects(a.corpus) if not a.only or n in a.only]
    t = totals(results)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if a.json:
        json.dump({"source": a.generator, "totals": t, "peak_rss_kib": peak_kib, "projects": results},
                  sys.stdout, indent=1)
        print()
    else:
        for r in results:
            err = (r["first_error"] or r["crashed"] or "").replace("\n", " ")
            print(f"{r['project']:32} {status(r):7} {r['containers']:3} containers {r['service_stubs']:3} stubs"
                  + (f"  {err[:150]}" if err else ""))
        print(f"peak memory of one generator run: {peak_kib} KiB")
    if a.compare:
        with open(a.compare) as f:
            compare(json.load(f), results, a.compare)
    print(summary_line(t), file=sys.stderr if a.json else sys.stdout)


if __name__ == "__main__":
    main()
