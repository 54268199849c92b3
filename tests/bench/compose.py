#!/usr/bin/env python3
"""How long the generator takes for a 20-service Compose project (issue 14: "in milliseconds").

Builds /dev/shm/.../compose/big/compose.yaml with N services (image, ports, a named volume, a
bind mount, environment, a healthcheck, depends_on with service_healthy on the previous one, all
on one network), runs the generator on it R times, and prints the median wall-clock time, the
same for an empty input directory (the floor: process start, directory listing), and the
difference. Exits 1 when the project takes longer than --max-ms.

usage: compose.py GENERATOR [--services 20] [--rounds 30] [--max-ms 50]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

SERVICE = """  svc{i}:
    image: registry.example.com/team/app-{i}:1.{i}
    ports: ["{port}:8080"]
    volumes:
      - data{i}:/data
      - ./conf/{i}:/etc/app:ro
    environment:
      APP_ID: "{i}"
      APP_NAME: app number {i}
      LOG_LEVEL: ${{LOG_LEVEL:-info}}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8080/health"]
      interval: 10s
    restart: unless-stopped
    networks: [back]
"""


def project(root, n):
    d = os.path.join(root, "in", "compose", "big")
    os.makedirs(d)
    text = "services:\n"
    for i in range(n):
        text += SERVICE.format(i=i, port=20000 + i)
        if i > 0:
            text += f"    depends_on:\n      svc{i-1}:\n        condition: service_healthy\n"
    text += "volumes:\n" + "".join(f"  data{i}:\n" for i in range(n))
    text += "networks:\n  back:\n"
    with open(os.path.join(d, "compose.yaml"), "w") as f:
        f.write(text)
    with open(os.path.join(d, ".env"), "w") as f:
        f.write("LOG_LEVEL=debug\n")
    return os.path.join(root, "in")


def run(gen, inputs, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    env = {"UNITSMITH_UNIT_DIRS": inputs, "PATH": "/usr/bin:/bin"}
    t = time.perf_counter()
    p = subprocess.run([gen, "--no-kmsg-log", out], env=env, capture_output=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"generator failed ({p.returncode}): {p.stderr.decode()[-800:]}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("generator")
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--max-ms", type=float, default=50.0)
    a = ap.parse_args()
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    root = tempfile.mkdtemp(prefix="unitsmith-compose-bench-", dir=base)
    try:
        inputs = project(root, a.services)
        empty = os.path.join(root, "empty")
        os.makedirs(empty)
        out = os.path.join(root, "out")
        units = None
        p_times, e_times = [], []
        for _ in range(a.rounds):
            p_times.append(run(a.generator, inputs, out))
            if units is None:
                units = sum(len(fs) for _, _, fs in os.walk(out))
            e_times.append(run(a.generator, empty, out))
        p, e = statistics.median(p_times), statistics.median(e_times)
        print(f"compose project of {a.services} services ({units} files written), {a.rounds} rounds, median:")
        print(f"  generator on the project   {p*1000:7.2f} ms")
        print(f"  generator on no input      {e*1000:7.2f} ms")
        print(f"  the project's own cost     {(p-e)*1000:7.2f} ms")
        if p * 1000 > a.max_ms:
            sys.exit(f"compose: {p*1000:.1f} ms is over --max-ms {a.max_ms}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
