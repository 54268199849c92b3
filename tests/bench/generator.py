#!/usr/bin/env python3
"""Generator speed against the floor: `cp -r` of the same input directory.

For N typical .container files (image, published port, bind volume, env, a .network
reference, [Install]) on tmpfs, runs the generator and `cp -r` alternately, R rounds each,
and reports the median time of each, the median of the per-round ratios, and the median CPU
time (user + system, all threads) of each, which other load on the machine moves less.
`cp -r` reads every file once and writes every file once: no generator can beat it by much.

usage: generator.py GENERATOR [--sizes 1,100,1000,10000] [--rounds R] [--max-ratio-1000 X]
                    [--baseline OTHER_GENERATOR] [--env NAME=VALUE]...
Exits 1 when --max-ratio-1000 is given and the 1000-file ratio exceeds it.
--baseline compares against another generator binary (an older build) instead of `cp -r`, on
the same inputs; --env adds to the generator's environment (both generators' with --baseline),
e.g. UNITSMITH_PODMAN_VERSION=4.3.1.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

CONTAINER = """[Unit]
Description=Service {i}

[Container]
Image=registry.example.com/team/app-{i}:1.{i}
PublishPort={port}:8080
Volume=/srv/app-{i}/data:/data:Z
Environment=APP_ID={i} "APP_NAME=app number {i}" LOG_LEVEL=info
Network=shared.network
Label=app=app-{i}

[Service]
Restart=always

[Install]
WantedBy=multi-user.target
"""

NETWORK = "[Network]\nSubnet=10.90.0.0/16\n"


def make_inputs(root, n):
    d = os.path.join(root, "in")
    os.makedirs(d)
    with open(os.path.join(d, "shared.network"), "w") as f:
        f.write(NETWORK)
    for i in range(n):
        with open(os.path.join(d, f"app-{i:05d}.container"), "w") as f:
            f.write(CONTAINER.format(i=i, port=20000 + i % 40000))
    return d


def timed(cmd, env=None):
    """Wall-clock and CPU (user + system) seconds of one run."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({p.returncode}): {err.decode()[-500:]}")
    return dt, usage.ru_utime + usage.ru_stime


def bench(gen, n, rounds, tmp, baseline=None, extra_env=()):
    root = tempfile.mkdtemp(prefix=f"bench-{n}-", dir=tmp)
    try:
        src = make_inputs(root, n)
        env = {"QUADLET_UNIT_DIRS": src, "PATH": os.environ.get("PATH", "")}
        env.update(kv.split("=", 1) for kv in extra_env)
        other = ([baseline, "--no-kmsg-log"], env) if baseline else (["cp", "-r", src], None)
        gtimes, ctimes, ratios, gcpu, ccpu = [], [], [], [], []
        for r in range(rounds + 1):
            out_g, out_c = os.path.join(root, "gen"), os.path.join(root, "cp")
            for d in (out_g, out_c):
                shutil.rmtree(d, ignore_errors=True)
            # Alternate which goes first so neither always gets the warmer cache.
            if r % 2:
                c = timed(other[0] + [out_c], other[1])
                g = timed([gen, "--no-kmsg-log", out_g], env)
            else:
                g = timed([gen, "--no-kmsg-log", out_g], env)
                c = timed(other[0] + [out_c], other[1])
            if r == 0:
                continue  # warm-up round: page cache, binary loading
            gtimes.append(g[0]); ctimes.append(c[0]); ratios.append(g[0] / c[0])
            gcpu.append(g[1]); ccpu.append(c[1])
        units = len([f for f in os.listdir(out_g) if f.endswith(".service")])
        if units != n + 1:
            sys.exit(f"expected {n + 1} units, the generator wrote {units}")
        med = statistics.median
        return med(gtimes), med(ctimes), med(ratios), med(gcpu), med(ccpu)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("generator")
    ap.add_argument("--sizes", default="1,100,1000,10000")
    ap.add_argument("--rounds", type=int, default=0, help="default: scaled to the size")
    ap.add_argument("--max-ratio-1000", type=float)
    ap.add_argument("--baseline", help="another generator to compare with, instead of cp -r")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    a = ap.parse_args()
    tmp = "/dev/shm" if os.path.isdir("/dev/shm") else None
    against = a.baseline or "cp -r"
    print(f"generator vs {against}, inputs and outputs on tmpfs ({tmp}); median of alternating rounds"
          + (f"; environment {' '.join(a.env)}" if a.env else ""))
    # Other work on the machine moves the wall-clock ratio: say how busy it was.
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    other = "baseline" if a.baseline else "cp -r"
    print(f"{'files':>7} {'rounds':>6} {'generator':>11} {other:>11} {'ratio':>7}"
          f" {'gen cpu':>11} {other + ' cpu':>11}")
    verdict = 0
    for n in [int(s) for s in a.sizes.split(",")]:
        rounds = a.rounds or (31 if n <= 1000 else 7)
        baseline = os.path.abspath(a.baseline) if a.baseline else None
        g, c, ratio, gc, cc = bench(os.path.abspath(a.generator), n, rounds, tmp, baseline, a.env)
        print(f"{n:>7} {rounds:>6} {g * 1000:>9.2f}ms {c * 1000:>9.2f}ms {ratio:>6.2f}x"
              f" {gc * 1000:>9.2f}ms {cc * 1000:>9.2f}ms")
        if n == 1000 and a.max_ratio_1000 and ratio > a.max_ratio_1000:
            print(f"1000 files: {ratio:.2f}x exceeds the target {a.max_ratio_1000}x")
            verdict = 1
    sys.exit(verdict)


if __name__ == "__main__":
    main()
