#!/usr/bin/env python3
"""Regenerate helpers/src/lint/keys.txt: the unit-file keys each systemd release knows.

`unitsmith lint` judges a unit by the systemd it will run under, so it needs, for every
release from OLDEST on, the keys systemd's unit loader accepts in each section, the parser
it uses for each (which decides what a valid value is), and the values of the few enum
parsers lint checks. All of it is read from systemd's own sources at each release:

  src/core/load-fragment-gperf.gperf.in    the loader's key table (a Jinja template: the
                                           EXEC/KILL/CGROUP context macros are expanded per
                                           section, both sides of every {% if %} kept)
  the *_table[] string tables              the values of the ENUM_PARSERS below

The output is committed; nothing here runs at build time. One line per key with the
versions where it appeared, changed parser or disappeared (not one copy per release).

Usage (a clone of https://github.com/systemd/systemd has every tag):

  tests/lint-keys/regenerate.py --git ~/src/systemd            # tags v252 .. newest vNNN
  tests/lint-keys/regenerate.py 252=GITDIR@REV 262=TREE ...    # per release, any mix
  tests/lint-keys/regenerate.py --check ...                    # compare, do not write

A SOURCE is VERSION=GITDIR@REV[+REV...] (commits or tags in a git directory) or
VERSION=TREE (an unpacked release tarball); a REV or TREE may end in #LABEL, the name the
output gives it (3e52279684#v260, for a mirror without the tags). Every version from OLDEST to
the newest given needs one. The revisions of one release are merged: a key any of them knows
counts as known by that release, since a machine on it may run any of its point releases
(v252.x added Scope.OOMPolicy=, for one). With --git, a release is its tag vNNN plus its
newest vNNN.x tag.
"""

import argparse
import os
import re
import subprocess
import sys

OLDEST = 252
GPERF = "src/core/load-fragment-gperf.gperf.in"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../helpers/src/lint/keys.txt")

# Enum parsers whose values lint checks (bad-value), and the string table of each.
ENUM_PARSERS = {
    "service_type": "service_type_table",
    "service_restart": "service_restart_table",
    "service_exit_type": "service_exit_type_table",
    "notify_access": "notify_access_table",
    "kill_mode": "kill_mode_table",
}
# Where those tables live (they moved between releases; all are searched).
TABLE_DIRS = ["src/core", "src/basic", "src/shared"]


class Source:
    """One revision of a release's source: a git revision or an unpacked tree."""

    def __init__(self, spec):
        spec, _, self.label = spec.partition("#")
        self.spec = spec
        if "@" in spec:
            self.git, self.rev = spec.rsplit("@", 1)
            self.tree = None
            self.commit = self._git("rev-parse", "--verify", self.rev + "^{commit}").strip()
        else:
            self.git = None
            self.tree = spec
            if not os.path.isfile(os.path.join(spec, GPERF)):
                sys.exit(f"{spec}: no {GPERF} (not a systemd source tree)")

    def _git(self, *args):
        return subprocess.run(["git", "-C", self.git, *args], check=True,
                              capture_output=True, text=True).stdout

    def read(self, path):
        if self.git:
            return self._git("show", f"{self.commit}:{path}")
        with open(os.path.join(self.tree, path), encoding="utf-8") as f:
            return f.read()

    def files(self, top):
        if self.git:
            out = self._git("ls-tree", "-r", "--name-only", self.commit, "--", top)
            return [p for p in out.splitlines() if p.endswith(".c")]
        found = []
        for d, _, names in os.walk(os.path.join(self.tree, top)):
            for n in names:
                if n.endswith(".c"):
                    found.append(os.path.relpath(os.path.join(d, n), self.tree))
        return sorted(found)

    def describe(self):
        if self.git:
            return f"git {self.commit} ({self.label or self.rev})"
        version = self.read("meson.version").strip() if os.path.exists(
            os.path.join(self.tree, "meson.version")) else "?"
        name = self.label or os.path.basename(os.path.normpath(self.tree))
        return f"release tarball {name} (meson.version {version})"


def render(template, flag):
    """The gperf table with every {% if NAME %} taken as `flag`."""
    import jinja2  # python3-jinja2; systemd's own build uses it for this file

    names = set(re.findall(r"{%-?\s*(?:el)?if\s+(?:not\s+)?([A-Z_][A-Z0-9_]*)", template))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(template).render({n: flag for n in names})


KEY_LINE = re.compile(r"^([A-Z][A-Za-z]*)\.([A-Za-z0-9]+),\s*([A-Za-z0-9_]+)\s*,")


def sources_of(spec):
    """The Sources of a VERSION=... spec: GITDIR@REV+REV... or TREE."""
    if "@" not in spec:
        return [Source(spec)]
    git, revs = spec.rsplit("@", 1)
    return [Source(f"{git}@{rev}") for rev in revs.split("+")]


def keys_of(srcs):
    """{(section, key): parser} of one release. A key that only one side of an {% if %}
    defines is kept; where both do, the enabled side's parser wins (Debian, Fedora and
    upstream's defaults build with those features). The first revision's parser wins."""
    keys = {}
    for src in srcs:
        for k, parser in keys_in(src).items():
            keys.setdefault(k, parser)
    return keys


def keys_in(src):
    template = src.read(GPERF)
    keys = {}
    for flag in (True, False):
        text = render(template, flag)
        body = text.split("\n%%\n", 1)[1] if "\n%%\n" in text else text
        for line in body.splitlines():
            m = KEY_LINE.match(line.strip())
            if m:
                section, key, parser = m.groups()
                parser = parser.removeprefix("config_parse_")
                keys.setdefault((section, key), parser)
    if len(keys) < 500:
        sys.exit(f"{src.spec}: only {len(keys)} keys parsed from {GPERF}: format changed?")
    return keys


def enum_values(srcs):
    """{parser: [value, ...]} for ENUM_PARSERS, merged over the revisions of a release."""
    merged = {}
    for src in srcs:
        for parser, values in enum_values_in(src).items():
            merged.setdefault(parser, [])
            merged[parser] += [v for v in values if v not in merged[parser]]
    return merged


def enum_values_in(src):
    wanted = {table: parser for parser, table in ENUM_PARSERS.items()}
    found = {}
    for top in TABLE_DIRS:
        for path in src.files(top):
            text = src.read(path)
            for m in re.finditer(r"static const char\s*\*\s*const\s+(\w+)\[[^\]]*\]\s*=\s*{(.*?)};",
                                 text, re.S):
                if m.group(1) in wanted:
                    found[wanted[m.group(1)]] = re.findall(r'"([^"]*)"', m.group(2))
    missing = set(ENUM_PARSERS) - set(found)
    if missing:
        sys.exit(f"{src.spec}: no string table for {sorted(missing)}")
    return found


def changes(states):
    """[(version, state)] → the versions where the state changes ('-' = absent)."""
    out, last = [], "-"
    for version, state in states:
        if state != last:
            out.append((version, state))
            last = state
    return out


def build(sources):
    versions = sorted(sources)
    per_version = {v: keys_of(sources[v]) for v in versions}
    enums = {v: enum_values(sources[v]) for v in versions}
    lines = [
        "# systemd's unit-file keys, release by release. GENERATED by tests/lint-keys/regenerate.py",
        "# from each release's src/core/load-fragment-gperf.gperf.in and the string tables of the",
        "# enum parsers lint checks. Do not edit: rerun the script (see its --help).",
        "#",
        "# A key line: SECTION.KEY CHANGE..., each CHANGE VERSION:PARSER (from that release on the",
        "# key exists, parsed by config_parse_PARSER) or VERSION:- (gone from that release on).",
        "# A value line: PARSER=VALUE CHANGE..., each CHANGE VERSION (accepted from then on) or",
        "# VERSION:- (refused from then on).",
        "#",
    ]
    for v in versions:
        lines.append(f"# {v}: " + " + ".join(s.describe() for s in sources[v]))
    lines.append("")
    lines.append(f"versions {versions[0]} {versions[-1]}")
    every = sorted(set().union(*per_version.values()), key=lambda sk: (sk[0], sk[1]))
    for section, key in every:
        states = [(v, per_version[v].get((section, key), "-")) for v in versions]
        lines.append(f"{section}.{key} " + " ".join(f"{v}:{s}" for v, s in changes(states)))
    for parser in sorted(ENUM_PARSERS):
        values = []
        for v in versions:
            for value in enums[v][parser]:
                if value not in values:
                    values.append(value)
        for value in values:
            states = [(v, "+" if value in enums[v][parser] else "-") for v in versions]
            text = " ".join(str(v) if s == "+" else f"{v}:-" for v, s in changes(states))
            lines.append(f"{parser}={value} {text}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--git", help="a systemd git clone: every tag vNNN from %d on" % OLDEST)
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    ap.add_argument("-o", "--output", default=OUT)
    ap.add_argument("sources", nargs="*", metavar="VERSION=SOURCE")
    args = ap.parse_args()

    sources = {}
    if args.git:
        tags = subprocess.run(["git", "-C", args.git, "tag", "--list", "v[0-9][0-9][0-9]*"],
                              check=True, capture_output=True, text=True).stdout.split()
        releases = {}
        for t in tags:
            m = re.fullmatch(r"v(\d{3})(?:\.(\d+))?", t)
            if m and int(m.group(1)) >= OLDEST:
                releases.setdefault(int(m.group(1)), []).append((int(m.group(2) or 0), t))
        for version, points in releases.items():
            points.sort()
            if points[0][0] != 0:
                continue  # no vNNN tag yet: not released
            revs = [points[0][1]] + ([points[-1][1]] if len(points) > 1 else [])
            sources[version] = sources_of(f"{args.git}@{'+'.join(revs)}")
    for spec in args.sources:
        version, _, where = spec.partition("=")
        if not version.isdigit() or not where:
            ap.error(f"{spec}: expected VERSION=GITDIR@REV or VERSION=TREE")
        sources[int(version)] = sources_of(where)
    if not sources:
        ap.error("no source given")
    missing = [v for v in range(OLDEST, max(sources) + 1) if v not in sources]
    if missing:
        ap.error(f"no source for systemd {', '.join(map(str, missing))}")

    text = build(sources)
    if args.check:
        with open(args.output, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{args.output} differs from what the sources give: rerun without --check")
                return 1
        print(f"{args.output}: up to date")
        return 0
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.output}: {len(text.splitlines())} lines, systemd {min(sources)}..{max(sources)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
