#!/usr/bin/env python3
"""validate.py CONFIG.ign [...]: check Ignition configs against Ignition's own JSON schema.

The schema (ignition-3.4.0.schema.json beside this file; SOURCE says where it comes from)
checks types and required keys with the jsonschema library (Debian: python3-jsonschema). It
allows any key an object does not name, so a typo ("contnets") would pass it: every key is also
checked against the properties the schema gives that object (through $ref and allOf), as
Ignition's parser does when it refuses unknown keys. Then what the schema cannot say but
Ignition checks: the config's version is the schema's, paths are absolute and unique, and a
verification hash is sha256-/sha512- with the right number of hex digits.

Exit status 0 when every config is valid, 1 otherwise (each problem printed with its JSON path).
"""

import json
import re
import sys
from pathlib import Path

import jsonschema

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "ignition-3.4.0.schema.json"
SPEC_VERSION = "3.4.0"
HASH = re.compile(r"^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})$")


def resolve(schema, node):
    """Follow a local $ref ("#/definitions/a/definitions/b") to the schema it names."""
    while "$ref" in node:
        target = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def allowed(schema, node):
    """The property names an object may have, and each one's schema (allOf merged)."""
    node = resolve(schema, node)
    props = dict(node.get("properties", {}))
    for branch in node.get("allOf", []):
        props.update(allowed(schema, branch))
    return props


def unknown_keys(schema, node, value, path):
    """Every key of VALUE (recursively) that its schema does not name."""
    node = resolve(schema, node)
    if isinstance(value, dict):
        props = allowed(schema, node)
        for key, item in value.items():
            if key not in props:
                yield f"{path}: unknown key '{key}' (known: {', '.join(sorted(props))})"
            else:
                yield from unknown_keys(schema, props[key], item, f"{path}.{key}")
    elif isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            yield from unknown_keys(schema, node["items"], item, f"{path}[{i}]")


def ignition_rules(config):
    """What Ignition's validation checks beyond the schema, for the parts a recipe uses."""
    version = config.get("ignition", {}).get("version")
    if version != SPEC_VERSION:
        yield f"$.ignition.version: '{version}', this schema is for {SPEC_VERSION}"
    storage = config.get("storage", {})
    seen = set()
    for kind in ("files", "directories", "links"):
        for i, node in enumerate(storage.get(kind, [])):
            where = f"$.storage.{kind}[{i}]"
            path = node.get("path", "")
            if not path.startswith("/"):
                yield f"{where}.path: '{path}' is not absolute"
            if path in seen:
                yield f"{where}.path: '{path}' is written twice"
            seen.add(path)
            for j, res in enumerate([node.get("contents") or {}] + node.get("append", [])):
                h = (res.get("verification") or {}).get("hash")
                if h is not None and not HASH.match(h):
                    yield f"{where}: hash '{h}' is not sha256-<64 hex> or sha512-<128 hex>"
    names = set()
    for i, unit in enumerate(config.get("systemd", {}).get("units", [])):
        name = unit.get("name", "")
        if not re.match(r"^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|timer|path|mount|automount|swap|slice|scope|device)$", name):
            yield f"$.systemd.units[{i}].name: '{name}' is not a unit name"
        if name in names:
            yield f"$.systemd.units[{i}].name: '{name}' twice"
        names.add(name)


def problems(schema, config):
    validator = jsonschema.Draft4Validator(schema)
    for err in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        yield f"{where}: {err.message}"
    yield from unknown_keys(schema, schema, config, "$")
    yield from ignition_rules(config)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    bad = 0
    for name in argv[1:]:
        try:
            config = json.loads(Path(name).read_text())
        except (OSError, ValueError) as e:
            print(f"{name}: {e}")
            bad += 1
            continue
        found = list(problems(schema, config))
        for p in found:
            print(f"{name}: {p}")
        if found:
            bad += 1
        else:
            print(f"{name}: valid Ignition {SPEC_VERSION} config (schema: {SCHEMA.name})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
