#!/usr/bin/env python3
"""make-images.py ROOT: container images for the testing guest, made offline at rootfs build time
(the guest has no network and no registry is reachable).

Writes into ROOT/usr/share/e2e/images/:
  busybox.tar       a root filesystem tarball: /bin/busybox (static, from the guest's own
                    busybox-static package) and a link per applet; `podman import` turns it
                    into localhost/bb:e2e in each guest (image storage is a per-boot tmpfs).
  busybox.oci.tar   the same filesystem as an OCI image layout archive, for Quadlet .image
                    units (`Image=oci-archive:...`), which podman pulls like a registry image.
Both are deterministic (mtime 0, root-owned), so the recipe's cache stays reproducible.
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def rootfs_tar(busybox: bytes, applets: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, kind, mode, data=b"", link=""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, 0, 0, 0
            info.linkname = link
            info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data else None)

        for d in ["bin", "etc", "tmp", "data", "proc", "sys", "dev", "run", "var"]:
            add(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox)
        for a in sorted(set(applets) - {"busybox"}):
            add(f"bin/{a}", tarfile.SYMTYPE, 0o777, link="busybox")
        add("etc/passwd", tarfile.REGTYPE, 0o644, b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


def blob(files: dict, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    files[f"blobs/sha256/{digest}"] = data
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def oci_archive(layer: bytes) -> bytes:
    files: dict[str, bytes] = {}
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(files, json.dumps(config, sort_keys=True).encode(), "application/vnd.oci.image.config.v1+json"),
        "layers": [blob(files, layer, "application/vnd.oci.image.layer.v1.tar")],
    }
    mdesc = blob(files, json.dumps(manifest, sort_keys=True).encode(), "application/vnd.oci.image.manifest.v1+json")
    # Podman names an image pulled from an oci-archive after this annotation.
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": "localhost/archived:e2e"}
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [mdesc]}, sort_keys=True).encode()
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for d in ["blobs", "blobs/sha256"]:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            t.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            t.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def main() -> None:
    root = sys.argv[1]
    busybox = open(os.path.join(root, "bin/busybox"), "rb").read()
    applets = subprocess.run(["chroot", root, "/bin/busybox", "--list"], check=True,
                             capture_output=True, text=True).stdout.split()
    if "sh" not in applets or "sleep" not in applets:
        sys.exit(f"make-images: {root}/bin/busybox lacks sh or sleep (applets: {len(applets)})")
    layer = rootfs_tar(busybox, applets)
    out = os.path.join(root, "usr/share/e2e/images")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "busybox.tar"), "wb") as f:
        f.write(layer)
    with open(os.path.join(out, "busybox.oci.tar"), "wb") as f:
        f.write(oci_archive(layer))
    print(f"make-images: {len(applets)} applets, layer {len(layer)} bytes -> {out}")


if __name__ == "__main__":
    main()
