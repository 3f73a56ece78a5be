"""Issue 9, the writing side: what sxcloud writes (Terraform JSON, folders, the terminal) stays
safe whatever a Deployment holds.

The deployments here are built in Python, bypassing the loader, so that these tests hold
the writers to account on their own: the loader refuses most of these values as well.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import itertools
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import terraform
import terraform_live
from conftest import EXAMPLES, ROOT, deployment, example_data
from sxcloud import cli, config, escape
from sxcloud.app import plan_all, synth
from sxcloud.commands import common
from sxcloud.errors import InputError
from sxcloud.exceptions import (AwsObjects, AzureObjects, ExceptionPeer, PortRange,
                                SiteException, Traffic)

#: What an attacker writes: a Terraform function call and a template directive. If Terraform
#: evaluated either, the value would change (the file's content; "y").
FUNCTION = '${file("hostname")}'
DIRECTIVE = "%{ for x in [1] }y%{ endfor }"
SECRET = "LEAKED-HOSTNAME-CONTENT"
#: A template of characters an AWS rule description takes (the loader lets it into an
#: exception's reason, and the planners' description checks let it through).
IN_DESCRIPTION = "${path.module}"


# --- 1. Terraform template injection --------------------------------------------------------

def _poisoned(value: Any, marks: Iterator[str]) -> Any:
    """`value` with a template appended to every string sxcloud takes from a cloud section:
    a field added to a target later is poisoned too, with no change here."""
    if isinstance(value, str):
        return value + next(marks)
    if isinstance(value, tuple):
        return tuple(_poisoned(v, marks) for v in value)
    if isinstance(value, config.Backend):
        return config.Backend(value.type, {_poisoned(k, marks): _poisoned(v, marks)
                                           for k, v in value.settings.items()})
    if isinstance(value, dict):  # role and service names are sxcloud's keys; their values not
        return {k: _poisoned(v, marks) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(value, **{f.name: _poisoned(getattr(value, f.name), marks)
                                             for f in dataclasses.fields(value)})
    return value


def hostile_deployment(path: str, name: str) -> config.Deployment:
    """Every cloud-section string of the cluster examples poisoned, plus a role CIDR with a
    template in its IPv6 scope id."""
    marks = itertools.cycle([FUNCTION, DIRECTIVE])
    d = deployment(example_data(ROOT / "examples" / path), ROOT / "examples" / path)
    # `ipaddress` accepts a scope id and keeps it in str()
    scoped = {role: nets + (ipaddress.IPv6Network(f"fe80::%{FUNCTION}/64"),)
              for role, nets in d.roles.items() if role == "internal_nameserver"}
    aws = d.aws and dataclasses.replace(  # every kind of setting the AWS section may hold
        d.aws, endpoints={"ec2": "http://127.0.0.1:5000", "sts": "http://127.0.0.1:5000"},
        backend=config.Backend("s3", {"bucket": "state", "key": "a.tfstate"}))
    return dataclasses.replace(
        d, name=name, roles={**d.roles, **scoped},
        appliance=dataclasses.replace(d.appliance, ipv6=True),
        aws=_poisoned(aws, marks), azure=_poisoned(d.azure, marks),
        exceptions=hostile_exceptions(tuple(d.targets)))


def hostile_exceptions(clouds: tuple[str, ...], text: str = FUNCTION) -> tuple[SiteException, ...]:
    """Site exceptions (issue 16) with `text` in every string the writers take from them:
    reason and ticket (in descriptions, as IN_DESCRIPTION), owner (in tags), a scoped
    IPv6 peer, and the ids of security groups and application security groups."""
    asg = ("/subscriptions/6f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/rg/providers/"
           "Microsoft.Network/applicationSecurityGroups/asg-x" + text)
    base = SiteException(
        id="hostile-text", index=0, direction="inbound",
        traffic=Traffic("tcp", (PortRange(9000, 9000),)),
        peer=ExceptionPeer(cidrs=(ipaddress.IPv4Network("10.9.0.0/24"),
                                  ipaddress.IPv6Network(f"fe80::%{text}/64"))),
        reason="why " + IN_DESCRIPTION, owner="team" + text, ticket="T-1" + IN_DESCRIPTION,
        expires=datetime.date(2027, 1, 31), clouds=clouds)
    objects = dataclasses.replace(
        base, id="hostile-objects", index=1, direction="outbound",
        peer=ExceptionPeer(aws=AwsObjects(("sg-0123456789abcdef0" + text,)),
                           azure=AzureObjects((asg,))))
    return base, objects


def _strings(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every string in a Terraform JSON document, keys included, except
    the CDK's `//` comments (Terraform ignores them)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "//":
                yield f"{where}/{key}", key
                yield from _strings(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{where}[{index}]")
    elif isinstance(node, str):
        yield where, node


def _own_reference(text: str, stack: dict[str, Any]) -> bool:
    """A whole-string reference to an attribute of a resource of this very stack."""
    if not (text.startswith("${") and text.endswith("}")) or text.count("{") != 1:
        return False
    kind, name, _ = (text[2:-1].split(".") + ["", ""])[:3]
    return name in stack.get("resource", {}).get(kind, {})


def assert_inert(stack: dict[str, Any], label: str) -> int:
    """Every string is inert or one of sxcloud's own references; returns how many
    strings carried an escaped template (what input put there)."""
    escaped = 0
    for where, text in _strings(stack):
        if escape.has_template(text):
            assert _own_reference(text, stack), f"{label}{where}: Terraform would evaluate {text!r}"
        escaped += "$${" in text or "%%{" in text
    return escaped


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The poisoned cluster examples (both clouds), synthesized in one CDK app."""
    deployments = [hostile_deployment("aws-cluster-ipv6.yaml", "hostile-aws"),
                   hostile_deployment("azure-cluster.yaml", "hostile-azure")]
    out = tmp_path_factory.mktemp("hostile") / "cdktf.out"
    synth(plan_all(deployments), out)
    return deployments, out


def test_template_injection_is_written_literally(hostile, synthesized):
    """Item 1: `${...}` and `%{...}` from every input field reach cdk.tf.json escaped (in
    resources, provider, backend, outputs, map keys); sxcloud's own references do not; and
    every example stack holds nothing Terraform would evaluate but its own references."""
    deployments, out = hostile
    for d in deployments:
        for cloud in d.targets:
            stack = json.loads((out / "stacks" / f"{d.name}-{cloud}" / "cdk.tf.json").read_text())
            assert assert_inert(stack, f"{d.name}-{cloud}") >= 5
            text = json.dumps(stack)
            # read back as Terraform reads it, each template is the literal the input held
            assert escape.terraform_unescape(text).count(json.dumps(FUNCTION)[1:-1]) >= 2
            assert any(own for _, t in _strings(stack) if (own := _own_reference(t, stack)))
    aws = json.loads((out / "stacks" / "hostile-aws-aws" / "cdk.tf.json").read_text())
    assert aws["provider"]["aws"][0]["endpoints"][0]["ec2"].endswith("$${file(\"hostname\")}")
    assert all("$${" in k or "%%{" in k for k in aws["terraform"]["backend"]["s3"])
    assert any(v.startswith("fe80::%$${file") for v in
               (b.get("cidr_ipv6") for b in aws["resource"]["aws_vpc_security_group_egress_rule"].values())
               if v)
    for stack_dir in (synthesized.out / "stacks").iterdir():
        assert_inert(json.loads((stack_dir / "cdk.tf.json").read_text()), stack_dir.name)


def test_exception_fields_are_written_literally(hostile):
    """Issue 16: an exception's reason, ticket, owner, peer CIDRs and object ids reach the
    rule descriptions, tags and peers escaped, and read back as the literal input."""
    deployments, out = hostile
    seen = 0
    for d in deployments:
        for cloud in d.targets:
            stack = json.loads((out / "stacks" / f"{d.name}-{cloud}" / "cdk.tf.json").read_text())
            rules = {key: body for items in stack["resource"].values()
                     for key, body in items.items() if key.startswith("X-hostile")}
            assert len(rules) >= 3
            for key, body in rules.items():
                assert "$${path.module}" in body["description"], key
                assert escape.terraform_unescape(body["description"]).startswith(
                    "X-hostile-"), key
                if cloud == "aws":
                    assert body["tags"]["sxcloud:owner"] == "team" + FUNCTION.replace("${", "$${")
                seen += 1
            text = escape.terraform_unescape(json.dumps(stack))
            assert json.dumps(f"fe80::%{FUNCTION}/64")[1:-1] in text
            assert json.dumps(FUNCTION)[1:-1] in text
    assert seen == 6  # AWS: IPv4, IPv6, the group; Azure: v4, v6, the ASG


def test_adopted_name_and_description_are_written_literally(tmp_path):
    """Issue 17: `aws.adopt` keeps a live group's name and description, in characters EC2
    takes ('$', '{', '}' among them): synthesis writes them escaped, beside the import
    blocks of the group and its rules."""
    d = deployment(example_data(ROOT / "examples" / "aws-single.yaml"))
    key = next(r.key for r in plan_all([d])[0].aws.rules)
    adopted = dataclasses.replace(d, aws=dataclasses.replace(d.aws, adopt=config.AwsAdoption(
        "sg-0123456789abcdef0", "mail" + IN_DESCRIPTION, "gw " + IN_DESCRIPTION,
        {key: "sgr-0123456789abcdef0"})))
    synth(plan_all([adopted]), tmp_path / "out")
    stack = json.loads((tmp_path / "out" / "stacks" / f"{d.name}-aws" / "cdk.tf.json").read_text())
    group = stack["resource"]["aws_security_group"]["appliance"]
    assert (group["name"], group["description"]) == ("mail$${path.module}", "gw $${path.module}")
    assert assert_inert(stack, "adopted") >= 2
    assert {i["id"] for i in stack["import"]} == {"sg-0123456789abcdef0", "sgr-0123456789abcdef0"}


def test_verify_sweep_builder_escapes_as_synthesis_does(hostile):
    """attributes.resources(), which verify's sweep evaluates, writes the same escaped JSON."""
    from test_verify_sweep import _without_metadata, resources

    deployments, out = hostile
    for d in deployments:
        for cloud in d.targets:
            stack = json.loads((out / "stacks" / f"{d.name}-{cloud}" / "cdk.tf.json").read_text())
            assert resources(d, cloud) == _without_metadata(stack["resource"])


def test_terraform_reads_injected_templates_literally(moto_server, tmp_path):
    """Item 1 with real Terraform: `validate` and `plan` (aws provider, moto) take each
    template as text, and `file()` runs nowhere, though its file exists beside the stack.
    The issue's attack, an STS endpoint whose path calls a function, asks STS at the
    literal path."""
    base = deployment(example_data(ROOT / "examples" / "aws-cluster-ipv6.yaml"))
    vpc_id = base.aws.vpc_id + FUNCTION

    def site(name: str, sts: str) -> config.Deployment:
        return dataclasses.replace(base, name=name, azure=None, aws=dataclasses.replace(
            base.aws, vpc_id=vpc_id, endpoints={"ec2": moto_server.url, "sts": sts},
            backend=config.Backend("local", {"path": "state" + DIRECTIVE})))

    synth(plan_all([site("literal", moto_server.url),
                    site("exfil", f"{moto_server.url}/{FUNCTION}")]), tmp_path / "out")
    tfs = {}
    for name in ("literal", "exfil"):
        stack_dir = tmp_path / "out" / "stacks" / f"{name}-aws"
        (stack_dir / "hostname").write_text(SECRET)
        tfs[name] = terraform.init(stack_dir, backend=True)
        result = tfs[name].validate()
        assert result.retcode == 0 and result.value["valid"], result.value

    _, plan_doc = terraform_live.plan(tfs["literal"])
    assert SECRET not in json.dumps(plan_doc)
    group = next(r for r in plan_doc["planned_values"]["root_module"]["resources"]
                 if r["address"] == "aws_security_group.appliance")
    assert group["values"]["vpc_id"] == vpc_id

    log = moto_server.log.fileno()  # shared with the server: read it at offsets, not seek
    start = os.fstat(log).st_size
    failed = tfs["exfil"].plan(out="exfil.tfplan")  # fails: moto has no STS at that path
    requests = os.pread(log, os.fstat(log).st_size - start, start).decode(errors="replace")
    assert failed.retcode == 1
    assert f"POST /{FUNCTION}/" in requests, requests[-2000:]
    assert SECRET not in requests


# --- 5. backend values that are not JSON scalars -----------------------------------------

def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


NOT_JSON = {
    "date": datetime.date(2024, 1, 1),
    "datetime": datetime.datetime(2024, 1, 1, 12, 0),
    "binary": b"\x00\x01",
    "set": {"a", "b"},
    "nan": float("nan"),
    "minus_inf": float("-inf"),
    "nested": _nested(200),
    "proto": {"__proto__": {"polluted": True}},
    "big": 10**400,
}


def test_backend_values_that_are_not_json_are_refused_by_name(tmp_path):
    """Item 5: each is an InputError naming the file and the setting; nothing is written."""
    base = deployment(example_data(config.builtin_example()), "site.yaml")
    for key, value in NOT_JSON.items():
        backend = config.Backend("s3", {"bucket": "b", key: value})
        d = dataclasses.replace(base, azure=None,
                                aws=dataclasses.replace(base.aws, backend=backend))
        with pytest.raises(InputError) as raised:
            synth(plan_all([d]), tmp_path / "out")
        (line,) = raised.value.lines()
        assert line.startswith(f"site.yaml: aws.backend.s3.{key}: "), line
        assert list(tmp_path.iterdir()) == [], key


# --- 2. synth --out owns its folder -----------------------------------------------------

def _tree(root: Path) -> dict[str, Any]:
    """Every entry below root, links not followed: path -> (kind, content or target)."""
    out: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = os.lstat(path).st_mode
            out[str(path.relative_to(root))] = (
                ("link", os.readlink(path)) if stat.S_ISLNK(mode) else
                ("dir", None) if stat.S_ISDIR(mode) else ("file", path.read_bytes()))
    return out


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout in tmp_path/home/work/repo (cwd, HOME=tmp_path/home) with a deployment
    file, a .git folder, a committed symlink cdktf.out -> .., a file and other folders."""
    home = tmp_path / "home"
    repo = home / "work" / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    shutil.copy(config.builtin_example(), repo / "sxcloud.yaml")
    (repo / "cdktf.out").symlink_to("..")
    (repo / "afile").write_text("keep me\n")
    (repo / "data").mkdir()
    (repo / "data" / "notes.txt").write_text("not sxcloud's\n")
    (tmp_path / "inputs").mkdir()
    shutil.copy(config.builtin_example(), tmp_path / "inputs" / "site.yaml")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("secret\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(repo)
    return tmp_path


def _refusals(root: Path) -> list[list[str]]:
    long = "a" * 300
    return [
        ["synth"],  # the default cdktf.out is a symlink to ..
        ["synth", "--out", "."],
        ["synth", "--out", ".."],
        ["synth", "--out", str(root / "home")],  # ~
        ["synth", "--out", "/"],
        ["synth", "--out", "data"],  # not empty, no sxcloud manifest
        ["synth", str(root / "inputs" / "site.yaml"), "--out", str(root / "inputs")],
        ["synth", "--out", "afile/x"],
        ["synth", "--out", "/dev/null/x"],
        ["synth", "--out", "/proc/sxcloud-test/new/out"],
        ["synth", "--out", f"new/parents/{long}"],
        ["synth", "--out", f"{long}/out"],
    ]


def test_synth_out_refuses_folders_it_does_not_own(checkout, capsys):
    """Items 2 and 8: each refusal is exit 2 with one line on stderr, and the tree (links,
    files, folders) is exactly as before: nothing deleted, nothing created."""
    before = _tree(checkout)
    for argv in _refusals(checkout):
        code = cli.main(argv)
        captured = capsys.readouterr()
        errors = [line for line in captured.err.splitlines() if "error" in line]
        assert code == 2, (argv, captured.err)
        assert len(errors) == 1 and errors[0].startswith("sxcloud: error: "), (argv, captured.err)
        assert "Traceback" not in captured.err and captured.out == ""
        assert _tree(checkout) == before, argv
    assert not Path("/proc/sxcloud-test").exists()


def test_synth_out_replaces_only_its_own_output(checkout, capsys):
    """An empty folder and sxcloud's own earlier output are replaced; the manifest marks it."""
    (checkout / "empty").mkdir()
    out = checkout / "empty"
    assert cli.main(["synth", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sxcloud"]["version"] and manifest["stacks"]
    (out / "stale.txt").write_text("from an earlier run\n")
    assert cli.main(["synth", "--out", str(out)]) == 0
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in checkout.iterdir()) == ["empty", "home", "inputs"]
    capsys.readouterr()


# --- 3. the top level: no exception means exit 1, no traceback ------------------------------

OUTPUT_COMMANDS = [["plan", *EXAMPLES], ["catalog"], ["schema"], ["review", EXAMPLES[-1]],
                   ["plan", "--json", *EXAMPLES]]


def _run_into(stdout: Any, command: list) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sxcloud", *map(str, command)], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=300)


@pytest.mark.parametrize("command", OUTPUT_COMMANDS, ids=lambda c: " ".join(map(str, c[:2])))
def test_output_into_a_closed_pipe_or_a_full_disk(command):
    """Item 8: a pipe whose reader is gone (`| head -0`) and /dev/full as stdout end with
    exit 2 and one line naming the command, never a traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte, as with `| head -0`
    try:
        closed = _run_into(write, command)
    finally:
        os.close(write)
    with open("/dev/full", "w") as full:
        disk = _run_into(full, command)
    for result, what in ((closed, "closed before"), (disk, "No space left on device")):
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        assert result.returncode == 2, result.stderr
        assert errors == [errors[0]] and f"error: {command[0]}: " in errors[0], result.stderr
        assert what in errors[0] and "Traceback" not in result.stderr


def test_an_unexpected_exception_is_exit_2_in_one_line(monkeypatch, capsys):
    """A bug anywhere becomes exit 2 and one line that names the command and asks for a
    report, without the exception's text (it may hold a secret); SXCLOUD_DEBUG=1 adds the
    traceback."""
    import sxcloud.commands.catalog as catalog_command

    def broken(args):
        raise RuntimeError("token=SECRET-1234")

    monkeypatch.setattr(catalog_command, "run", broken)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.main(["catalog"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sxcloud: error: catalog: internal error")
    assert "RuntimeError" in err and "report" in err and "SECRET" not in err
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert cli.main(["catalog"]) == 2
    assert "Traceback" in capsys.readouterr().err


# --- 4. terminal output ---------------------------------------------------------------------

ESC = "\x1b[2K\x1b[1A"  # erase the line, move up: what hid lines of `sxcloud plan`


def test_terminal_escapes_in_values_never_reach_the_terminal(monkeypatch, capfd, tmp_path):
    """Item 7: plan, synth, the tables, warnings and progress print input values with their
    control characters shown, not sent (a scope id, an ARM id, a file name, a warning)."""
    d = deployment(example_data(ROOT / "examples" / "simple-both.yaml"), "evil" + ESC + ".yaml")
    roles = {**d.roles, "internal_network": d.roles["internal_network"] + (
        ipaddress.IPv6Network(f"fe80::%{ESC}/64"),)}
    d = dataclasses.replace(d, roles=roles, warnings=("a warning" + ESC,),
                            appliance=dataclasses.replace(d.appliance, ipv6=True))
    monkeypatch.setattr("sxcloud.commands.plan.load", lambda files: [d])
    assert cli.main(["plan"]) == 0
    common.progress("progress" + ESC)
    captured = capfd.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream
    assert "fe80::%\\x1b[2K\\x1b[1A/64" in captured.out  # the scope id, in the PEER column
    assert "evil\\x1b[2K\\x1b[1A.yaml" in captured.out
    assert "a warning\\x1b[2K" in captured.err and "progress\\x1b[2K" in captured.err

    monkeypatch.setattr("sxcloud.commands.synth.load_all", lambda files: [d])
    assert cli.main(["synth", "--out", str(tmp_path / ("out" + ESC))]) == 0
    captured = capfd.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert "out\\x1b[2K\\x1b[1A/stacks/" in captured.out


def test_terminal_escapes_in_exceptions_never_reach_the_terminal(monkeypatch, capfd):
    """Issue 16: an exception's owner and peers are shown in plan's tables and JSON, and
    the file in its expiry warning, with their control characters escaped (an id, reason
    or ticket with one is refused by the planner's description check, and by the loader)."""
    d = deployment(example_data(ROOT / "examples" / "aws-single.yaml"), "evil" + ESC + ".yaml")
    (text, objects) = hostile_exceptions(("aws",), ESC)
    text = dataclasses.replace(text, expires=datetime.date(2026, 12, 10))
    d = dataclasses.replace(d, exceptions=(text, objects))
    monkeypatch.setenv("SXCLOUD_TODAY", "2026-12-01")
    for command in (["plan"], ["plan", "--json"]):
        monkeypatch.setattr("sxcloud.commands.plan.load", lambda files: [d])
        assert cli.main(command) == 0
        captured = capfd.readouterr()
        assert "\x1b" not in captured.out + captured.err, command
        shown = "\\u001b" if "--json" in command else "\\x1b"
        assert f"team{shown}[2K" in captured.out and f"fe80::%{shown}[2K" in captured.out
        assert f"sg-0123456789abcdef0{shown}[2K" in captured.out
    assert "evil\\x1b[2K\\x1b[1A.yaml: exceptions[0]: X-hostile-text expires in 9 days" in captured.err


def test_verify_text_is_terminal_safe(synthesized, capfd, tmp_path):
    """Item 7 for verify's report: the folder it names (and any value a plan carries) is
    printed with its control characters shown, not sent."""
    folder = tmp_path / ("out" + ESC)
    shutil.copytree(synthesized.out, folder)
    assert cli.main(["verify", str(ROOT / "examples" / "simple-both.yaml"),
                     "--synth-dir", str(folder)]) == 0
    captured = capfd.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert "out\\x1b[2K\\x1b[1A/stacks/" in captured.out
