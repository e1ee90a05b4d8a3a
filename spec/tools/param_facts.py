"""Adds each message parameter's release and default to spec/datamodel.json.

xapi's doc/data/xenapi.json (where the datamodel's other facts come from) leaves out two facts
of a parameter that clients and servers use: `param_release` (the release that added it; the
official C# generator makes one overload per release) and `param_default` (xapi's dispatcher
fills a missing trailing parameter with it). Both are read here from the `~versioned_params`
records of xapi's `ocaml/idl/datamodel*.ml`, in a checkout at the commit `meta.commit` names.

    python3 spec/tools/param_facts.py /path/to/xen-api [spec/datamodel.json]

A parameter gets `"release"` when its message uses versioned parameters (the others all date
from their message) and `"default"` when xapi gives one, as the JSON value of its wire form.
"""

import json
import re
import sys
from pathlib import Path

RECORD = re.compile(r"\{\s*param_type\s*=(?P<body>.*?)\}", re.S)
FIELD = re.compile(r";?\s*(param_\w+)\s*=\s*(.*?)\s*(?=;\s*param_\w+\s*=|$)", re.S)
CALL = re.compile(r"(?<![\w\"])call\s+~")
NULL_REF = "OpaqueRef:NULL"
EPOCH = "19700101T00:00:00Z"


def constants(xapi: Path) -> dict:
    """`let name = value` lines of ocaml/xapi-consts/constants.ml, as JSON values."""
    text = (xapi / "ocaml/xapi-consts/constants.ml").read_text()
    out = {}
    for name, value in re.findall(r"^let (\w+) = (\S+)\s*$", text, re.M):
        if value in ("true", "false"):
            out[name] = value == "true"
        elif re.fullmatch(r"-?\d+L?", value):
            out[name] = int(value.rstrip("L"))
        elif re.fullmatch(r"-?\d+\.\d*", value):
            out[name] = float(value)
    return out


def default_value(text: str, consts: dict):
    """The JSON form of a `Some (V...)` default, None for `None`."""
    text = text.strip()
    if text == "None":
        return None
    m = re.fullmatch(r"Some\s*\((V\w+)\s*(.*)\)", text, re.S)
    if not m:
        raise ValueError(f"unknown default {text!r}")
    kind, arg = m.group(1), m.group(2).strip()
    if arg.startswith("Constants."):
        return consts[arg[len("Constants.") :]]
    if arg == "null_ref":
        return NULL_REF
    if kind in ("VString", "VEnum", "VRef"):
        return json.loads(arg)
    if kind == "VBool":
        return arg == "true"
    if kind == "VInt":
        return int(arg.rstrip("L"))
    if kind == "VFloat":
        return float(arg)
    if kind == "VMap" and arg == "[]":
        return {}
    if kind == "VSet" and arg == "[]":
        return []
    if kind == "VDateTime" and arg == "Date.epoch":
        return EPOCH
    raise ValueError(f"unknown default {text!r}")


def release_name(text: str):
    """`miami_release` -> `miami`, `numbered_release "1.2.3"` -> `1.2.3`; None for a variable."""
    text = text.strip()
    m = re.fullmatch(r'numbered_release\s+"([^"]+)"', text)
    if m:
        return m.group(1)
    m = re.fullmatch(r"(?:Datamodel_common\.)?(\w+)_release", text)
    if m and m.group(1) != "call":
        return {"miami_symc": "symc"}.get(m.group(1), m.group(1).replace("_", "-"))
    return None


def versioned_calls(xapi: Path, consts: dict):
    """(message name, [(param, release, default)]) for each `~versioned_params` list."""
    for path in sorted((xapi / "ocaml/idl").glob("datamodel*.ml")):
        text = path.read_text()
        for block in re.finditer(r"~versioned_params\s*:\s*\[", text):
            start = block.end()
            depth, i = 1, start
            while depth:
                depth += {"[": 1, "]": -1}.get(text[i], 0)
                i += 1
            calls = list(CALL.finditer(text, 0, block.start()))
            if not calls:
                continue
            call = calls[-1].start()
            name = re.search(r'~name\s*:\s*"([^"]+)"', text[call:])
            if name is None:
                continue
            params = []
            for rec in RECORD.finditer(text[start : i - 1]):
                fields = dict(FIELD.findall("param_type=" + rec.group("body")))
                pname = re.fullmatch(r'"([^"]+)"', fields["param_name"].strip())
                if pname is None:
                    params = None
                    break
                params.append(
                    (
                        pname.group(1),
                        release_name(fields["param_release"]),
                        default_value(fields.get("param_default", "None"), consts),
                    )
                )
            if params:
                yield name.group(1), params


def main() -> int:
    xapi = Path(sys.argv[1])
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "spec/datamodel.json")
    model = json.loads(out.read_text())
    by_name = {}
    for cls in model["classes"]:
        for msg in cls["messages"]:
            by_name.setdefault(msg["name"], []).append(msg)
    matched = 0
    for name, params in versioned_calls(xapi, constants(xapi)):
        for msg in by_name.get(name, []):
            names = [p["name"] for p in msg["params"] if p["name"] != "session_id"]
            # xenapi.json may predate the newest parameters: its list is then a prefix.
            if not names or names != [p[0] for p in params[: len(names)]]:
                continue
            matched += 1
            facts = {p[0]: p for p in params}
            for p in msg["params"]:
                if p["name"] == "session_id":
                    continue
                _, release, default = facts[p["name"]]
                if release is not None:
                    p["release"] = release
                if default is not None:
                    p["default"] = default
    sources = model["meta"]["from"]
    if "ocaml/idl/datamodel*.ml" not in sources:
        sources.append("ocaml/idl/datamodel*.ml")
    out.write_text(json.dumps(model, indent=1, ensure_ascii=False))
    print(f"{matched} messages with versioned parameters updated in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
