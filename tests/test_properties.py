"""Property-based test of `sxcloud plan` and `sxcloud synth` on hostile deployment files
(issue 9).

Deployment files are generated from the published JSON Schema (sxcloud/deployment.schema.json,
read at run time, so the test follows the schema as it changes), with realistic values where
the schema cannot say what a value looks like (CIDRs, ARM ids, endpoint URLs, backend
settings). Then they are mutated as an attacker or a careless editor would: wrong types,
control and non-Latin characters, long strings, Terraform interpolation markers, odd CIDRs
(scope ids, host bits, halves of the address space), odd ARM ids and URLs, YAML anchors,
aliases and tags, keys that are not strings, dates, bytes that are not UTF-8.

Each file goes through the real command line in this process (`sxcloud.cli.main`): `plan` for
every example, `synth` for a small sample (jsii starts once per process). The properties:

- the exit status is 0, 1 or 2, and no exception leaves the command (no traceback);
- every line on stderr is one of sxcloud's own (`sxcloud: ...`), short, and free of control
  characters; so is stdout;
- on exit 2 nothing is written: the --out folder is not created and no staging folder is
  left beside it;
- every cdk.tf.json of an accepted file holds no `${` or `%{` that Terraform would evaluate,
  except the exact references sxcloud itself writes.

The seed is fixed (`derandomize=True`) and so is the number of examples, so a run is
repeatable and its cost known.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import ipaddress
import json
import os
import re
import signal
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sxcloud import cli, config, escape

SCHEMA = config.schema()
ROLES = list(SCHEMA["properties"]["roles"]["properties"])

#: The references sxcloud writes into Terraform JSON itself (aws/attributes.py,
#: azure/attributes.py): the only `${` a cdk.tf.json may hold.
OWN_REFERENCES = re.compile(
    r"\$\{(aws_security_group\.appliance\.id"
    r"|azurerm_application_security_group\.[a-z_]+\.id"
    r"|azurerm_network_security_group\.[a-z_]+\.(id|name))\}")

PLAN_EXAMPLES = 300
SYNTH_EXAMPLES = 40
PLAN_SECONDS = 3  # a generated file that keeps plan busy longer is a hang (issue 9, item 9)
SYNTH_SECONDS = 30
LONGEST_LINE = 1000  # an error line echoes at most a short excerpt of the input


# --- hostile values -------------------------------------------------------------------------

MARKERS = ["${file(\"/etc/hostname\")}", "%{ if true }x%{ endif }", "${", "%{",
           "$${escaped}", "${aws_security_group.appliance.id}",
           "${azurerm_network_security_group.appliance.name}"]
ODD_TEXT = ["", " ", "\n", "a\nb", "x\r", "\x1b[2K\x1b[1A", "\x00", "\t", "\u202eevil",
            "\u2028", "é", "名前", "🔥", "a" * 300, "b" * 5000, "-", "--out", "../..", "~",
            "null", "true", "0", "sg-x", "rg.", "{}", "[]", "\\", "'", '"', "|", "<details>",
            "```", "\ud7ff"]
CIDRS_ODD = ["fe80::%${file(\"x\")}/64", "fe80::1%eth0/128", "fe80::%\x1b[2K/64",
             "10.0.0.1/24", "0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1", "0.0.0.0/0",
             "::/0", "10.0.0.0/8\n", " 10.0.0.0/8", "10.0.0.0", "::ffff:10.0.0.0/104",
             "10.0.0.0/33", "10.0.0.0/-1", "1.2.3.4/32\x00", "10.0.0.0/08", "010.0.0.0/8",
             "1.2.3.4/255.255.255.0", "2001:db8::/32%", "::1/128", "127.0.0.1/32",
             "169.254.169.254/32", "0.0.0.0/32"]
URLS_ODD = ["http://h.example/${filebase64(\"/etc/hostname\")}", "https://h.example/%{x}",
            "https://[::1", "http://127.0.0.1:99999", "https://h.example\n", "ftp://h.example",
            "https://user:pw@h.example/", "https://h.example/a b", "http://", "https://:80",
            "https://h.example:0", "https://h.example/\x1b[2K", "https://h.example#${x}",
            "https://xn--n3h.example/", "https://h.example/?q=${x}", "javascript:alert(1)"]
ARM_ODD = ["/subscriptions/${x}/resourceGroups/rg/providers/Microsoft.Network/"
           "applicationSecurityGroups/a",
           "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
           "networkInterfaces/%{x}",
           "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
           "virtualNetworks/v/subnets/\x1b[2K",
           "/subscriptions/s/resourceGroups/../providers/Microsoft.Network/"
           "applicationSecurityGroups/a",
           "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
           "applicationSecurityGroups/a\n",
           "/subscriptions//resourceGroups/rg/providers/Microsoft.Network/x/y",
           "subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n"]


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


VALUES_ODD: list[Any] = [0, -1, 1, 2, 1.5, float("nan"), float("inf"), float("-inf"),
                         10 ** 50, True, False, None, [], {}, [None], {"a": None},
                         datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 1, 12, 0),
                         b"\x00\xff", {"a", "b"}, _nested(200), {"__proto__": {"x": 1}},
                         {1: "a", "b": "c"}]

#: Raw YAML put where a value belongs (things a dict cannot carry through yaml.safe_dump).
RAW_YAML = ["!!int abc", "2024-13-01", "2024-01-01", "2024-01-01T00:00:00Z",
            "!!binary aGVsbG8=", "!!set {a, b}", ".nan", "-.inf", "*undefined",
            "!!python/object/apply:os.system ['touch pwned']", "!!str", "!<tag:x> y",
            "[" * 1000 + "]" * 1000, "{" * 300 + "}" * 300, "0x1F", "1e400", "~", "&a b",
            "|\n  multi\n  line", "'unterminated", "\"\\x1b[2K\"", "\"\\u0000\"",
            "[a, b", "{a: b", "@reserved", "`reserved", "%TAG ! x"]
#: Whole-document replacements and additions.
RAW_DOCUMENT = ["", "---\n", "- a\n- b\n", "just a string\n", "42\n", "? [a, b]\n: c\n",
                "a: 1\na: 2\n", "\tname: x\n", "%YAML 1.1\n---\nversion: 1\n",
                "version: 1\n---\nversion: 1\n", "\ufeffversion: 1\n"]


# --- strategies from the schema -------------------------------------------------------------

def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def _cidrs() -> st.SearchStrategy[list[str]]:
    def network(address: Any, prefix: int) -> str:
        return str(ipaddress.ip_network(f"{address}/{min(prefix, address.max_prefixlen)}",
                                        strict=False))
    v4 = st.builds(network, st.ip_addresses(v=4), st.integers(8, 32))
    v6 = st.builds(network, st.ip_addresses(v=6), st.integers(16, 128))
    return st.lists(st.one_of(v4, v4, v6), min_size=1, max_size=3, unique=True)


_ARM_KINDS = {"subnet_ids": "virtualNetworks/vnet-{n}/subnets/{n}",
              "network_interface_ids": "networkInterfaces/{n}",
              "application_security_group_ids": "applicationSecurityGroups/{n}"}


def _arm_ids(key: str, minimum: int = 0) -> st.SearchStrategy[list[str]]:
    """ARM ids of the kind `key` names (the wrong kinds come from the mutations)."""
    name = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
    kind = st.just(_ARM_KINDS[key]) if key in _ARM_KINDS \
        else st.sampled_from(list(_ARM_KINDS.values()))
    one = st.builds(
        lambda sub, rg, kind, n: (f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
                                  f"Microsoft.Network/{kind.format(n=n)}"),
        st.uuids().map(str), name, kind, name)
    return st.lists(one, min_size=max(minimum, 0), max_size=2, unique=True)


def _endpoints() -> st.SearchStrategy[dict[str, str]]:
    host = st.sampled_from(["localhost", "127.0.0.1", "[::1]", "ec2.example.com",
                            "moto.internal"])
    url = st.builds(lambda scheme, h, port, path: f"{scheme}://{h}{port}{path}",
                    st.sampled_from(["http", "https"]), host,
                    st.sampled_from(["", ":4566", ":5000"]), st.sampled_from(["", "/", "/aws"]))
    return st.dictionaries(st.sampled_from(["ec2", "sts", "s3", "iam"]), url, max_size=2)


_SCALAR_SETTING = st.one_of(st.from_regex(r"[a-z0-9][a-z0-9./_-]{0,20}", fullmatch=True),
                            st.booleans(), st.integers(0, 1000))
_BACKENDS = {
    "s3": ["bucket", "key", "region", "use_lockfile", "encrypt"],
    "azurerm": ["resource_group_name", "storage_account_name", "container_name", "key"],
    "gcs": ["bucket", "prefix"],
    "http": ["address", "lock_address"],
    "local": ["path"],
    "remote": ["hostname", "organization"],
}


def _backend() -> st.SearchStrategy[dict[str, Any]]:
    def settings_for(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        keys = _BACKENDS[kind]
        return st.fixed_dictionaries({keys[0]: _SCALAR_SETTING},
                                     optional={k: _SCALAR_SETTING for k in keys[1:]})
    kinds = [k for k in _BACKENDS
             if k in SCHEMA["$defs"].get("backend", {}).get("propertyNames", {}).get("enum", _BACKENDS)]
    return st.sampled_from(kinds or list(_BACKENDS)).flatmap(
        lambda kind: settings_for(kind).map(lambda settings: {kind: settings}))


def _by_hand(path: tuple[str, ...], node: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    """Values whose shape the schema does not say (or says too loosely to generate well)."""
    ref = node.get("$ref", "")
    key = path[-1] if path else ""
    if ref.endswith("/cidrs") or (len(path) == 2 and path[0] == "roles"):
        return _cidrs()
    if ref.endswith("/armIds") or key.endswith("_ids") and path[0] == "azure":
        return _arm_ids(key, _resolve(node).get("minItems", 0))
    if key == "endpoints":
        return _endpoints()
    if key == "backend":
        return _backend()
    if key == "rule_quota":  # mostly a quota that the generated roles fit in
        return st.sampled_from([60, 200, 1000])
    if key == "roles":  # every role present, so that most files pass the cross-key rules
        return st.fixed_dictionaries({role: _cidrs() for role in ROLES})
    if key == "expires":  # around the tests' today (conftest.TODAY), so most are accepted
        return st.dates(datetime.date(2026, 1, 1), datetime.date(2027, 12, 1)).map(str)
    if key == "peer" and path[:1] == ("exceptions",):  # one kind of peer, as the loader needs
        return st.one_of(st.just({"internet": True}),
                         st.fixed_dictionaries({"role": st.sampled_from(ROLES)}),
                         st.fixed_dictionaries({"cidrs": _cidrs()}))
    return None


def from_schema(node: dict[str, Any], path: tuple[str, ...] = (),
                full: bool = False) -> st.SearchStrategy[Any]:
    """A strategy for documents that the schema `node` describes (the keywords this schema
    uses; other keywords are ignored, which only makes a document more likely to be refused).
    `full`: every optional key is present too."""
    special = _by_hand(path, node)
    if special is not None:
        return special
    node = _resolve(node)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for combinator in ("oneOf", "anyOf"):
        if combinator in node:
            return st.one_of([from_schema(sub, path, full) for sub in node[combinator]])
    kind = node.get("type", "object" if "properties" in node else None)
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(node.get("minimum", -10), node.get("maximum", 10_000))
    if kind == "string":
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True)
        return st.text(max_size=node.get("maxLength", 20))
    if kind == "array":
        return st.lists(from_schema(node.get("items", {}), path, full),
                        min_size=node.get("minItems", 0),
                        max_size=min(node.get("maxItems", 3), 3),
                        unique_by=(lambda v: json.dumps(v, sort_keys=True))
                        if node.get("uniqueItems") else None)
    if kind == "object":
        properties = node.get("properties", {})
        required = set(properties if full else node.get("required", ()))
        strategies = {k: from_schema(v, (*path, k), full) for k, v in properties.items()}
        mapping = st.fixed_dictionaries(
            {k: s for k, s in strategies.items() if k in required},
            optional={k: s for k, s in strategies.items() if k not in required})
        if node.get("minProperties"):
            mapping = mapping.filter(lambda m: len(m) >= node["minProperties"])
        return mapping
    return st.none()


def _with_a_cloud(document: dict[str, Any]) -> dict[str, Any]:
    """A file needs a cloud section to be synthesized; most generated ones should have one."""
    if "aws" not in document and "azure" not in document:
        document["aws"] = {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0"}
    return document


DOCUMENTS = from_schema(SCHEMA).map(_with_a_cloud)
#: Every key present: bindings, endpoints, backends and associations, where a string from the
#: file goes into Terraform JSON with the least validation on the way.
FULL_DOCUMENTS = from_schema(SCHEMA, full=True)


# --- mutations ------------------------------------------------------------------------------

def _paths(value: Any, path: tuple[Any, ...] = (),
           seen: set[int] | None = None) -> Iterator[tuple[Any, ...]]:
    """Every place in a document, each shared or recursive container visited once."""
    seen = set() if seen is None else seen
    yield path
    if isinstance(value, (dict, list)):
        if id(value) in seen:
            return
        seen.add(id(value))
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _paths(sub, (*path, key), seen)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _paths(sub, (*path, index), seen)


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _odd_value(path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """A value an attacker would try at `path`: the pool for what lives there, or any."""
    names = [p for p in path if isinstance(p, str)]
    specific = [pool for pool, here in ((CIDRS_ODD, "roles" in names or "cidrs" in names),
                                        (URLS_ODD, "endpoints" in names),
                                        (ARM_ODD, any(n.endswith("_ids") for n in names)))
                if here]
    return st.one_of(st.sampled_from(VALUES_ODD + ODD_TEXT + MARKERS),
                     *(st.sampled_from(pool) for pool in specific))


def _alias_bomb(depth: int) -> Any:
    """Shared lists: yaml.safe_dump writes them as anchors and aliases, `depth` levels of
    nine references each (9**depth leaves from a few hundred bytes)."""
    value: Any = ["lol"]
    for _ in range(depth):
        value = [value] * 9
    return value


#: Where strings reach Terraform JSON with the least validation in between.
_LOOSE = ("backend", "endpoints", "application_security_group_ids", "associate")
ANY_MUTATION = ("replace", "replace", "marker", "add key", "delete", "alias", "bomb")
MARKER_MUTATION = ("marker", "marker", "marker", "marker", "alias")


@st.composite
def _mutate_tree(draw: st.DrawFn, document: dict[str, Any], bomb: int,
                 actions: tuple[str, ...]) -> dict[str, Any]:
    paths = list(_paths(document))
    path = draw(st.sampled_from(paths))
    action = draw(st.sampled_from(actions))
    parent = _get(document, path[:-1]) if path else None
    if action == "marker":  # an interpolation marker inside a string the file holds
        strings = [p for p in paths if p and isinstance(_get(document, p), str)]
        loose = [p for p in strings if any(part in _LOOSE for part in p)]
        if strings:
            path = draw(st.sampled_from(loose if loose and draw(st.integers(0, 4)) else strings))
            text = _get(document, path)
            at = draw(st.one_of(st.just(len(text)), st.integers(0, len(text))))
            _get(document, path[:-1])[path[-1]] = (text[:at] + draw(st.sampled_from(MARKERS))
                                                    + text[at:])
        return document
    if action == "add key":
        target = _get(document, path)
        if isinstance(target, dict):  # one or two unknown keys, of any type
            for key in draw(st.lists(st.one_of(
                    st.sampled_from([1, True, None, 1.5, datetime.date(2024, 1, 1),
                                     "__proto__", "", " ", "a" * 300, "\x1b"]),
                    st.text(max_size=5)), min_size=1, max_size=2)):
                target[key] = draw(st.sampled_from(VALUES_ODD + ODD_TEXT))
        return document
    if not path:
        return document
    if action == "delete":
        del parent[path[-1]]
    elif action == "alias":  # the same object twice: an anchor and an alias in the file
        # (an ancestor as the source makes the document recursive, which YAML allows)
        parent[path[-1]] = _get(document, draw(st.sampled_from(paths)))
    elif action == "bomb":
        parent[path[-1]] = _alias_bomb(draw(st.integers(2, bomb)))
    else:
        parent[path[-1]] = draw(_odd_value(path))
    return document


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1000)


@st.composite
def deployment_files(draw: st.DrawFn, mutations: tuple[int, int] = (0, 3), bomb: int = 9,
                     actions: tuple[str, ...] = ANY_MUTATION, full: bool = False) -> bytes:
    """The bytes of a deployment file: generated from the schema (`full`: with every key),
    then mutated by between `mutations[0]` and `mutations[1]` of `actions` (an alias bomb
    has at most `bomb` levels)."""
    document = draw(FULL_DOCUMENTS if full else DOCUMENTS)
    for _ in range(draw(st.integers(*mutations))):
        document = draw(_mutate_tree(document, bomb, actions))
    try:
        text = _dump(document)
    except yaml.YAMLError:  # a value safe_dump cannot write (a key it cannot represent)
        text = _dump({k: v for k, v in document.items() if isinstance(k, str)})
    raw = draw(st.sampled_from(["none"] * 6 + ["value", "document", "append", "bytes"])
               if actions == ANY_MUTATION else st.just("none"))
    if raw == "value":  # raw YAML as the value of one top-level key
        keys = re.findall(r"^([a-z_]+):", text, re.M) or ["name"]
        key = draw(st.sampled_from(keys))
        snippet = draw(st.sampled_from(RAW_YAML))
        text = re.sub(rf"^{key}:.*(\n[ -].*)*", lambda _: f"{key}: {snippet}", text, count=1,
                      flags=re.M)
    elif raw == "document":
        text = draw(st.sampled_from(RAW_DOCUMENT))
    elif raw == "append":
        text += draw(st.sampled_from(RAW_DOCUMENT[4:]))
    data = text.encode("utf-8", "surrogatepass")
    if raw == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\x00", b"\xef\xbb\xbf", b"\xc3"])) \
            + data[at:]
    return data


# --- running a command in this process ------------------------------------------------------

class _Alarm(BaseException):
    """Raised by the alarm when a command runs past its time (a BaseException, so that no
    `except Exception` in the code under test swallows it)."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Alarm()


def run(argv: list[str], seconds: float) -> tuple[int, str, str]:
    """`sxcloud ARGV` in this process: exit status, stdout, stderr. An exception that leaves
    the command propagates (it is the traceback the user would see)."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(argv)
            except SystemExit as done:  # argparse
                status = done.code if isinstance(done.code, int) else 2
    except _Alarm:
        # An ordinary exception from here, so that hypothesis shrinks it like any failure.
        raise TimeoutError(f"sxcloud {argv[0]} ran past {seconds} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return status, out.getvalue(), err.getvalue()


def check_output(status: int, stdout: str, stderr: str) -> None:
    """The properties every command run has, whatever the input."""
    assert status in (0, 1, 2), f"exit status {status}"
    assert "Traceback" not in stdout + stderr, stderr
    for line in stderr.splitlines():
        assert line.startswith("sxcloud: "), f"a stderr line that is not sxcloud's: {line!r}"
        assert len(line) <= LONGEST_LINE, f"a {len(line)}-character error line"
        assert not escape.control_characters(line), f"control characters on stderr: {line!r}"
        _no_internal_error(line)
    for line in stdout.splitlines():
        assert not escape.control_characters(line), f"control characters on stdout: {line!r}"
    if status == 2:
        assert stderr.strip(), "exit 2 without a message"


_INTERNAL: dict[str, type[AssertionError]] = {}


def _no_internal_error(line: str) -> None:
    """A line saying that sxcloud caught a bug of its own fails the test. Each place in
    sxcloud gets its own exception type, so that hypothesis reports each bug apart."""
    found = re.search(r"internal error \(([^)]*)\)|please report", line, re.I)
    if found:
        where = found.group(1) or "unknown"
        kind = _INTERNAL.setdefault(where, type(f"InternalError[{where}]", (AssertionError,), {}))
        raise kind(line)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield key
            yield from _strings(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from _strings(sub)


def foreign_templates(document: Any) -> list[str]:
    """Strings of a Terraform JSON document that Terraform would evaluate, other than
    sxcloud's own references (which are always a whole string: a reference inside a longer
    string did not come from sxcloud)."""
    return [s for s in _strings(document)
            if escape.has_template(s) and not OWN_REFERENCES.fullmatch(s)]


SETTINGS = dict(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.large_base_example])


@settings(max_examples=PLAN_EXAMPLES, **SETTINGS)
@given(deployment_files())
def test_plan_on_any_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="sxcloud-prop-") as folder:
        path = Path(folder) / "sxcloud.yaml"
        path.write_bytes(data)
        status, stdout, stderr = run(["plan", str(path)], PLAN_SECONDS)
        check_output(status, stdout, stderr)
        assert sorted(os.listdir(folder)) == ["sxcloud.yaml"], "plan wrote a file"


@settings(max_examples=SYNTH_EXAMPLES, **SETTINGS)
@given(deployment_files(mutations=(1, 1), bomb=4, actions=MARKER_MUTATION, full=True))
def test_synth_on_a_sample(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="sxcloud-prop-") as folder:
        path = Path(folder) / "sxcloud.yaml"
        path.write_bytes(data)
        out = Path(folder) / "out"
        status, stdout, stderr = run(["synth", str(path), "--out", str(out)], SYNTH_SECONDS)
        check_output(status, stdout, stderr)
        if status == 2:
            assert sorted(os.listdir(folder)) == ["sxcloud.yaml"], "exit 2 left files behind"
            return
        assert sorted(os.listdir(folder)) == ["out", "sxcloud.yaml"], "staging left behind"
        stacks = sorted((out / "stacks").glob("*/cdk.tf.json"))
        assert stacks
        for stack in stacks:
            found = foreign_templates(json.loads(stack.read_text()))
            assert not found, f"{stack.parent.name}: Terraform would evaluate {found[:3]}"
