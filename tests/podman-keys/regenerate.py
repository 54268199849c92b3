#!/usr/bin/env python3
"""Regenerate generator/src/quadlet/requirements.txt: which Podman release each Quadlet key,
and each podman command and flag the generator emits, needs.

The generator writes units for the Podman installed here, which may be older than the one
whose Quadlet it matches (Debian 12 has 4.3.1, with no Quadlet at all). A key works on a
Podman whose command line has every flag the generator emits for it, whatever release added
the key to Podman's own Quadlet; so both are recorded, read from containers/podman at every
release tag from OLDEST on, and its main branch:

  pkg/systemd/quadlet/quadlet.go     the keys each Quadlet group accepts (Podman 4.4 on)
  docs/source/markdown/podman-*.1.md[.in] and options/*.md
                                     the flags of each podman command, and the text of each
                                     flag (a value such as --sdnotify=healthy counts when the
                                     flag's text names it)
  CODE_FLAGS below                   hidden flags, which the docs do not list: found in the
                                     command's Go source

What the generator emits for each key is SPEC below (kept by hand beside the converters in
generator/src/quadlet/; a unit test checks that every key of the generator's tables has a
line). The output is committed; nothing here runs at build time.

Usage (a clone of https://github.com/containers/podman has every tag):

  tests/podman-keys/regenerate.py --git ~/src/podman          # tags v4.3.0 .. newest, and main
  tests/podman-keys/regenerate.py --git ~/src/podman --check  # compare, do not write
"""

import argparse
import os
import re
import subprocess
import sys

OLDEST = (4, 3, 0)
QUADLET_GO = "pkg/systemd/quadlet/quadlet.go"
DOCS = "docs/source/markdown"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "../../generator/src/quadlet/requirements.txt")

# What the generator emits for every unit of a type, whatever its keys (COMMAND [FLAG...]).
# A COMMAND is podman's subcommand with '-' for ' ' ("volume-create"); "podman" is the global
# options. FLAG=TOKEN: the flag, with a value its documentation must name.
BASE = {
    "Container": ["run --name --replace --rm --cgroups=split --sdnotify=conmon --detach",
                  "rm --volumes --force --ignore"],
    "Volume": ["volume-create --ignore"],
    "Network": ["network-create --ignore"],
    "Pod": ["pod-create --infra-conmon-pidfile --replace --exit-policy --infra-name --name",
            "pod-start", "pod-stop --ignore --time", "pod-rm --ignore --force"],
    "Kube": ["kube-play --replace --service-container", "kube-down"],
    "Image": ["pull"],
    "Build": ["build --tag"],
    "Artifact": ["artifact-pull"],
    "Quadlet": [],
}

# For each key: what the generator adds to the command line for it (nothing: "").
# Every key of every release's Quadlet must be here (the script stops on one that is not).
_SHARED = {
    "ContainersConfModule": "podman --module",
    "GlobalArgs": "",
    "PodmanArgs": "",
    "ServiceName": "",
}
SPEC = {
    "Container": dict(_SHARED, **{
        "AddCapability": "run --cap-add", "AddDevice": "run --device",
        "AddHost": "run --add-host", "Annotation": "run --annotation",
        "AppArmor": "run --security-opt=apparmor", "AutoUpdate": "run --label",
        "CgroupsMode": "run --cgroups", "ContainerName": "run --name",
        "DNS": "run --dns", "DNSOption": "run --dns-option", "DNSSearch": "run --dns-search",
        "DropCapability": "run --cap-drop", "Environment": "run --env",
        "EnvironmentFile": "run --env-file", "EnvironmentHost": "run --env-host",
        "Entrypoint": "run --entrypoint", "Exec": "", "ExposeHostPort": "run --expose",
        "GIDMap": "run --gidmap", "Group": "run --user", "GroupAdd": "run --group-add",
        "HealthCmd": "run --health-cmd", "HealthInterval": "run --health-interval",
        "HealthOnFailure": "run --health-on-failure",
        "HealthLogDestination": "run --health-log-destination",
        "HealthMaxLogCount": "run --health-max-log-count",
        "HealthMaxLogSize": "run --health-max-log-size",
        "HealthRetries": "run --health-retries",
        "HealthStartPeriod": "run --health-start-period",
        "HealthStartupCmd": "run --health-startup-cmd",
        "HealthStartupInterval": "run --health-startup-interval",
        "HealthStartupRetries": "run --health-startup-retries",
        "HealthStartupSuccess": "run --health-startup-success",
        "HealthStartupTimeout": "run --health-startup-timeout",
        "HealthTimeout": "run --health-timeout", "HostName": "run --hostname",
        "HttpProxy": "run --http-proxy", "IP": "run --ip", "IP6": "run --ip6", "Image": "",
        "Label": "run --label", "LogDriver": "run --log-driver", "LogOpt": "run --log-opt",
        "Mask": "run --security-opt=mask", "Memory": "run --memory", "Mount": "run --mount",
        "Network": "run --network", "NetworkAlias": "run --network-alias",
        "NoNewPrivileges": "run --security-opt=no-new-privileges",
        "Notify": "run --sdnotify=container", "PidsLimit": "run --pids-limit",
        "Pod": "run --pod", "PublishPort": "run --publish", "Pull": "run --pull",
        "ReadOnly": "run --read-only", "ReadOnlyTmpfs": "run --read-only-tmpfs",
        "ReloadCmd": "exec", "ReloadSignal": "kill --signal",
        "RemapGid": "run --userns", "RemapUid": "run --userns",
        "RemapUidSize": "run --userns", "RemapUsers": "run --userns",
        "Retry": "run --retry", "RetryDelay": "run --retry-delay", "Rootfs": "run --rootfs",
        "RunInit": "run --init", "SeccompProfile": "run --security-opt=seccomp",
        "Secret": "run --secret",
        "SecurityLabelDisable": "run --security-opt=label=disable",
        "SecurityLabelFileType": "run --security-opt=label=filetype",
        "SecurityLabelLevel": "run --security-opt=label=level",
        "SecurityLabelNested": "run --security-opt=label=nested",
        "SecurityLabelType": "run --security-opt=label=type",
        "ShmSize": "run --shm-size", "StartWithPod": "", "StopSignal": "run --stop-signal",
        "StopTimeout": "run --stop-timeout", "SubGIDMap": "run --subgidname",
        "SubUIDMap": "run --subuidname", "Sysctl": "run --sysctl", "Timezone": "run --tz",
        "Tmpfs": "run --tmpfs", "UIDMap": "run --uidmap", "Ulimit": "run --ulimit",
        "Unmask": "run --security-opt=unmask", "User": "run --user", "UserNS": "run --userns",
        "VolatileTmp": "run --tmpfs", "Volume": "run --volume", "WorkingDir": "run --workdir",
    }),
    "Volume": dict(_SHARED, **{
        "Copy": "volume-create --opt", "Device": "volume-create --opt",
        "Driver": "volume-create --driver", "Group": "volume-create --opt",
        "Image": "volume-create --driver=image", "Label": "volume-create --label",
        "Options": "volume-create --opt", "Type": "volume-create --opt",
        "User": "volume-create --opt", "VolumeName": "",
        "UID": "volume-create --uid", "GID": "volume-create --gid",
    }),
    "Network": dict(_SHARED, **{
        "DNS": "network-create --dns", "DisableDNS": "network-create --disable-dns",
        "Driver": "network-create --driver", "Gateway": "network-create --gateway",
        "IPAMDriver": "network-create --ipam-driver", "IPRange": "network-create --ip-range",
        "IPv6": "network-create --ipv6", "InterfaceName": "network-create --interface-name",
        "Internal": "network-create --internal", "Label": "network-create --label",
        "NetworkDeleteOnStop": "network-rm", "NetworkName": "",
        "Options": "network-create --opt", "Subnet": "network-create --subnet",
    }),
    "Kube": dict(_SHARED, **{
        "AutoUpdate": "kube-play --annotation", "ConfigMap": "kube-play --configmap",
        "ExitCodePropagation": "kube-play --service-exit-code-propagation",
        "KubeDownForce": "kube-down --force", "LogDriver": "kube-play --log-driver",
        "LogOpt": "kube-play --log-opt", "Network": "kube-play --network",
        "PublishPort": "kube-play --publish", "RemapGid": "kube-play --userns",
        "RemapUid": "kube-play --userns", "RemapUidSize": "kube-play --userns",
        "RemapUsers": "kube-play --userns", "SetWorkingDirectory": "",
        "UserNS": "kube-play --userns", "Yaml": "",
    }),
    "Image": dict(_SHARED, **{
        "AllTags": "pull --all-tags", "Arch": "pull --arch", "AuthFile": "pull --authfile",
        "CertDir": "pull --cert-dir", "Creds": "pull --creds",
        "DecryptionKey": "pull --decryption-key", "Image": "", "ImageTag": "",
        "OS": "pull --os", "Policy": "pull --policy", "Retry": "pull --retry",
        "RetryDelay": "pull --retry-delay", "TLSVerify": "pull --tls-verify",
        "Variant": "pull --variant",
    }),
    "Build": dict(_SHARED, **{
        "Annotation": "build --annotation", "Arch": "build --arch",
        "AuthFile": "build --authfile", "BuildArg": "build --build-arg", "DNS": "build --dns",
        "DNSOption": "build --dns-option", "DNSSearch": "build --dns-search",
        "Environment": "build --env", "File": "build --file", "ForceRM": "build --force-rm",
        "GroupAdd": "build --group-add", "IgnoreFile": "build --ignorefile",
        "ImageTag": "build --tag", "Label": "build --label", "Network": "build --network",
        "Pull": "build --pull", "Retry": "build --retry", "RetryDelay": "build --retry-delay",
        "Secret": "build --secret", "SetWorkingDirectory": "", "Target": "build --target",
        "TLSVerify": "build --tls-verify", "Variant": "build --variant",
        "Volume": "build --volume",
    }),
    "Artifact": dict(_SHARED, **{
        "Artifact": "", "AuthFile": "artifact-pull --authfile",
        "CertDir": "artifact-pull --cert-dir", "Creds": "artifact-pull --creds",
        "DecryptionKey": "artifact-pull --decryption-key", "Quiet": "artifact-pull --quiet",
        "Retry": "artifact-pull --retry", "RetryDelay": "artifact-pull --retry-delay",
        "TLSVerify": "artifact-pull --tls-verify",
    }),
    "Pod": dict(_SHARED, **{
        "AddHost": "pod-create --add-host", "DNS": "pod-create --dns",
        "DNSOption": "pod-create --dns-option", "DNSSearch": "pod-create --dns-search",
        "ExitPolicy": "pod-create --exit-policy", "GIDMap": "pod-create --gidmap",
        "HostName": "pod-create --hostname", "IP": "pod-create --ip", "IP6": "pod-create --ip6",
        "Label": "pod-create --label", "Network": "pod-create --network",
        "NetworkAlias": "pod-create --network-alias", "PodName": "pod-create --name",
        "PublishPort": "pod-create --publish", "RemapGid": "pod-create --userns",
        "RemapUid": "pod-create --userns", "RemapUidSize": "pod-create --userns",
        "RemapUsers": "pod-create --userns", "ShmSize": "pod-create --shm-size",
        "StopTimeout": "pod-stop --time", "SubGIDMap": "pod-create --subgidname",
        "SubUIDMap": "pod-create --subuidname", "UIDMap": "pod-create --uidmap",
        "UserNS": "pod-create --userns", "Volume": "pod-create --volume",
    }),
    "Quadlet": {"DefaultDependencies": ""},
}

# Values of a key that need more than the key does (GROUP.KEY=VALUE, compared ignoring case).
VALUES = {
    "Container.Notify=healthy": "run --sdnotify=healthy",
}

# Hidden flags (not in the docs): the Go file that defines them, at every release.
CODE_FLAGS = {
    ("kube-play", "--service-container"): "cmd/podman/kube/play.go",
    ("kube-play", "--service-exit-code-propagation"): "cmd/podman/kube/play.go",
}

# Which key tables the generator has, to print its own keys first. (The groups' order.)
GROUPS = ["Container", "Volume", "Network", "Kube", "Image", "Build", "Artifact", "Pod",
          "Quadlet"]


class Git:
    """Reads files of any revision through one `git cat-file --batch`."""

    def __init__(self, gitdir):
        self.gitdir = gitdir
        self.cat = subprocess.Popen(["git", "-C", gitdir, "cat-file", "--batch"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.blobs = {}

    def run(self, *args):
        return subprocess.run(["git", "-C", self.gitdir, *args], check=True,
                              capture_output=True, text=True).stdout

    def blob(self, oid):
        if oid not in self.blobs:
            self.cat.stdin.write(oid.encode() + b"\n")
            self.cat.stdin.flush()
            header = self.cat.stdout.readline().split()
            size = int(header[2])
            data = self.cat.stdout.read(size)
            self.cat.stdout.read(1)
            self.blobs[oid] = data.decode("utf-8", "replace")
        return self.blobs[oid]

    def tree(self, rev, top):
        """{path: blob id} of every file under top at rev."""
        out = {}
        for line in self.run("ls-tree", "-r", rev, "--", top).splitlines():
            meta, path = line.split("\t", 1)
            out[path] = meta.split()[2]
        return out


def release_tags(git):
    tags = []
    for t in git.run("tag", "--list", "v*").split():
        m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", t)
        if m and tuple(map(int, m.groups())) >= OLDEST:
            tags.append((tuple(map(int, m.groups())), t))
    return sorted(tags)


def main_version(git, rev):
    """The version main calls itself ("6.0.0-dev"), as (major, minor, patch) and the text."""
    for path in ("version/rawversion/version.go", "version/version.go"):
        try:
            src = git.run("show", f"{rev}:{path}")
        except subprocess.CalledProcessError:
            continue
        m = re.search(r'(?:RawVersion\s*=|semver\.MustParse\()\s*"(\d+)\.(\d+)\.(\d+)([^"]*)"', src)
        if m:
            nums = tuple(map(int, m.groups()[:3]))
            return nums, ".".join(map(str, nums)) + m.group(4)
    sys.exit(f"{rev}: no version in version/")


# ------------------------------------------------------------------ Quadlet keys of a release

def quadlet_keys(src):
    """{group: set of keys} from one quadlet.go (None before Quadlet existed)."""
    if src is None:
        return {}
    consts = dict(re.findall(r'^\s*(\w+)\s*=\s*"([^"]*)"', src, re.M))
    groups = {}
    for m in re.finditer(r"map\[string\]bool\{", src):
        end, depth = m.end(), 1
        while depth:
            depth += {"{": 1, "}": -1}.get(src[end], 0)
            end += 1
        body = src[m.end():end - 1]
        before = src[max(0, m.start() - 400):m.start()]
        # `supportedContainerKeys = map...` (4.4-5.5) or `GroupName: ContainerGroup, ...
        # SupportedKeys: map...` (5.6 on); the nearer one names the group.
        named = [(m2.start(), m2.group(1))
                 for m2 in re.finditer(r"supported(\w+?)Keys\s*=", before)]
        named += [(m2.start(), consts.get(m2.group(1), m2.group(1)))
                  for m2 in re.finditer(r"\bGroupName:\s*(\w+)", before)]
        if not named:
            continue
        group = max(named)[1]
        keys = {consts.get(k, k) for k in re.findall(r"(\w+)\s*:\s*true", body)}
        groups.setdefault(group, set()).update(keys)
    return groups


# --------------------------------------------------------------- podman's flags of a release

def command_docs(git, rev):
    """{command: {flag: text}} from the man pages' markdown at rev ("podman": global options)."""
    files = git.tree(rev, DOCS)
    options = {os.path.basename(p)[:-3]: oid for p, oid in files.items()
               if p.startswith(f"{DOCS}/options/") and p.endswith(".md")}
    out = {}
    for path, oid in files.items():
        m = re.fullmatch(re.escape(DOCS) + r"/podman(?:-([a-z-]+))?\.1\.md(?:\.in)?", path)
        if not m:
            continue
        command = m.group(1) or "podman"
        out[command] = flags_in(git.blob(oid), lambda name: git.blob(options[name])
                                if name in options else "")
    return out


def flags_in(text, option_file):
    """{--flag: its text} of one man page; `@@option NAME` pulls in options/NAME.md."""
    lines = []
    for line in text.splitlines():
        m = re.match(r"@@option\s+(\S+)", line)
        lines.extend(option_file(m.group(1)).splitlines() if m else [line])
    flags, current = {}, []
    for line in lines:
        if line.startswith("#"):
            current = re.findall(r"\*\*(--[a-z0-9-]+)\*\*", line) if line.startswith("####") else []
            for f in current:
                flags.setdefault(f, "")
            continue
        for f in current:
            flags[f] += line + "\n"
    return flags


def has(docs, code, spec):
    """Does a release's podman have COMMAND [FLAG[=TOKEN]] (one item of SPEC or BASE)?"""
    command, _, flag = spec.partition(" ")
    if command not in docs:
        return False
    if not flag:
        return True
    flag, _, token = flag.partition("=")
    text = docs[command].get(flag)
    if text is None:
        return (command, flag) in code
    return not token or token in text


# ---------------------------------------------------------------------------------- the table

def collect(git):
    releases = [(v, t[1:], t) for v, t in release_tags(git)]
    main_nums, main_text = main_version(git, "main")
    main_commit = git.run("rev-parse", "main").strip()
    releases.append((main_nums, main_text, "main"))
    facts = []
    for nums, label, rev in releases:
        commit = git.run("rev-parse", f"{rev}^{{commit}}").strip()
        try:
            src = git.run("show", f"{commit}:{QUADLET_GO}")
        except subprocess.CalledProcessError:
            src = None
        code = set()
        for (command, flag), path in CODE_FLAGS.items():
            try:
                if f'"{flag[2:]}"' in git.run("show", f"{commit}:{path}"):
                    code.add((command, flag))
            except subprocess.CalledProcessError:
                pass
        facts.append({"version": label, "rev": rev, "commit": commit,
                      "keys": quadlet_keys(src), "docs": command_docs(git, commit),
                      "code": code})
        print(f"  {label}: {sum(map(len, facts[-1]['keys'].values()))} Quadlet keys, "
              f"{len(facts[-1]['docs'])} man pages", file=sys.stderr)
    assert main_commit
    return facts


def first_release(facts, test):
    """The first release from which `test` holds in every later one ("-": never, or not since
    a later one: a flag removed again counts as missing)."""
    first = "-"
    for f in facts:
        if test(f):
            if first == "-":
                first = f["version"]
        else:
            first = "-"
    return first


def needs(facts, items):
    """The first release with every item (COMMAND [FLAG]) of the list."""
    return first_release(facts, lambda f: all(has(f["docs"], f["code"], i) for i in items))


def items_of(spec):
    """'run --a --b' -> ['run --a', 'run --b'] ('run' alone: the command)."""
    command, *flags = spec.split()
    return [command] + [f"{command} {fl}" for fl in flags]


def render(facts):
    out = [
        "# Which Podman release each Quadlet key, and each podman command and flag the generator",
        "# emits, needs. GENERATED by tests/podman-keys/regenerate.py from containers/podman at each",
        "# release tag (pkg/systemd/quadlet/quadlet.go for the keys, docs/source/markdown for the",
        "# flags). Do not edit: rerun the script (see its --help).",
        "#",
        "# releases V...                  every release read, oldest first (the last is main)",
        "# flag COMMAND [FLAG[=TOKEN]] V   the first release whose `podman COMMAND` has FLAG (and whose",
        "#                                 documentation of it names TOKEN); COMMAND alone: the command",
        "# base KIND V ITEM, ...           what every unit of KIND runs, and the release it needs",
        "# key GROUP.KEY QUADLET NEEDS ITEM, ...",
        "#                                 QUADLET: the first release whose Quadlet has the key;",
        "#                                 NEEDS: the first whose podman has the command of the type and",
        "#                                 every ITEM the generator emits for the key",
        "# value GROUP.KEY=VALUE NEEDS ITEM, ...  a value that needs more than its key",
        "# An ITEM is COMMAND or COMMAND FLAG[=TOKEN]; COMMAND is podman's subcommand with - for a",
        "# blank (volume-create), \"podman\" for the global options.",
        "# \"-\": none of the releases read. The oldest release stands for itself and every older one.",
        "#",
    ]
    for f in facts:
        out.append(f"# {f['version']}: git {f['commit']} ({f['rev']})")
    out.append("")
    out.append("releases " + " ".join(f["version"] for f in facts))
    every = set()
    for group in GROUPS:
        for line in BASE[group]:
            every.update(items_of(line))
        for spec in SPEC[group].values():
            if spec:
                every.update(items_of(spec))
    for spec in VALUES.values():
        every.update(items_of(spec))
    for item in sorted(every):
        command, _, flag = item.partition(" ")
        out.append(f"flag {command} {flag} {needs(facts, [item])}".replace("  ", " "))
    for group in GROUPS:
        items = [i for line in BASE[group] for i in items_of(line)]
        out.append(f"base {group} {needs(facts, items)} {', '.join(items)}".rstrip())
    seen = {g: set() for g in GROUPS}
    for f in facts:
        for group, keys in f["keys"].items():
            if group not in SPEC:
                sys.exit(f"{f['version']}: Quadlet group {group} is not in SPEC: add it")
            seen[group].update(keys)
    for group in GROUPS:
        command = BASE[group][0].split()[0] if BASE[group] else None
        for key in sorted(seen[group]):
            if key not in SPEC[group]:
                sys.exit(f"[{group}] {key}: in Podman's Quadlet but not in SPEC: add what the "
                         "generator emits for it")
            spec = SPEC[group][key]
            items = items_of(spec) if spec else []
            if command:
                items = [command] + [i for i in items if i != command]
            quadlet = first_release(facts, lambda f, g=group, k=key: k in f["keys"].get(g, ()))
            out.append(f"key {group}.{key} {quadlet} {needs(facts, items)} {', '.join(items)}".rstrip())
    for value, spec in VALUES.items():
        group = value.split(".")[0]
        items = [BASE[group][0].split()[0]] + items_of(spec)
        out.append(f"value {value} {needs(facts, items)} {', '.join(dict.fromkeys(items))}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--git", required=True, help="a containers/podman git clone (every tag)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    ap.add_argument("-o", "--output", default=OUT)
    args = ap.parse_args()
    git = Git(args.git)
    text = render(collect(git))
    if args.check:
        with open(args.output, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{args.output} differs from what {args.git} gives: rerun without --check")
        print(f"{args.output}: up to date")
        return
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
