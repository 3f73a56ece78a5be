"""modules/sxcloud-rules: its outputs equal sxcloud's stacks, bad input fails the plan naming
the key, its generated tables are current, and its `terraform test` files pass.

The equivalence runs in one `terraform plan` over every scenario: the examples and their
one-option variants (compared with the CDK's real synthesis), bindings, IPv6 and many-CIDR
deployments, the sweep's covering set and every SWEEP_STRIDE-th of its 4,096 combinations.
All 4,096 (both clouds each) are compared in chunks of SWEEP_CHUNK, one plan after another:
one plan of them all does not fit this machine's memory (bench/modules_rules.py --sweep
prints the time and memory; about 8 minutes here).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

import module_rules as mr
import sweep
from conftest import EXAMPLES, ROOT, example_data, toggles
from sxcloud import config
from test_config import ASG, changed
from tools import generate

SWEEP_STRIDE = 16
#: Deployments per plan for the whole sweep: the fastest here (256 costs more than twice 128;
#: two plans at a time are slower than one after another on 2 cores).
SWEEP_CHUNK = 128


def _without_metadata(block: dict) -> dict:
    return {t: {n: {k: v for k, v in body.items() if k != "//"} for n, body in named.items()}
            for t, named in block.items()}


def _expected(d: config.Deployment, stacks: dict | None = None) -> dict:
    blocks = {cloud: (stacks[cloud] if stacks else mr.expected(d, cloud)) if cloud in d.targets
              else None for cloud in ("aws", "azure")}
    return {**blocks, "usage": mr.expected_usage(d), "warnings": mr.expected_warnings(d)}


@pytest.fixture(scope="module")
def scenarios(synthesized) -> dict[str, tuple[dict, dict]]:
    """name -> (deployment document, what the module must output)."""
    out: dict[str, tuple[dict, dict]] = {}
    for path in EXAMPLES:  # the examples and the variants conftest synthesized for real
        data = example_data(path)
        documents = [data]
        for index, (_, apply) in enumerate(toggles(data)):
            variant = copy.deepcopy(data)
            apply(variant)
            variant["name"] = f"{data['name']}-t{index}"
            documents.append(variant)
        for document in documents:
            d = config.parse(copy.deepcopy(document), path)
            stacks = {cloud: _without_metadata(synthesized.stack(f"{d.name}-{cloud}")["resource"])
                      for cloud in d.targets}
            out[f"example-{d.name}"] = (document, _expected(d, stacks))
    for name, document in mr.variants().items():
        out[f"variant-{name}"] = (document, _expected(config.parse(copy.deepcopy(document), Path(name))))
    combinations = list(sweep.combinations())
    chosen = {i for i in range(0, len(combinations), SWEEP_STRIDE)}
    chosen |= {combinations.index(c) for c in sweep.covering()}
    for i in sorted(chosen):
        document = sweep.as_document(combinations[i], "sweep")
        out[f"sweep-{i:04d}"] = (document, _expected(config.parse(copy.deepcopy(document), Path("sweep.yaml"))))
    return out


@pytest.fixture(scope="module")
def planned(scenarios, tmp_path_factory) -> dict:
    workdir = mr.root(tmp_path_factory.mktemp("rules"), {k: doc for k, (doc, _) in scenarios.items()})
    return mr.plan_outputs(workdir)


def test_outputs_equal_the_stacks_for_every_scenario(scenarios, planned):
    differences = []
    for name, (_, want) in scenarios.items():
        got = dict(planned[name])
        got["warnings"] = sorted(got["warnings"])
        for part in ("aws", "azure", "usage", "warnings"):
            if got[part] != want[part]:
                differences.append((name, part))
    assert differences == []
    kinds = {name.split("-")[0] for name in scenarios}
    assert kinds == {"example", "variant", "sweep"}
    assert len(scenarios) > 4096 // SWEEP_STRIDE + 30
    # the variants reach what they are for: bound peers, IPv6, hundreds of CIDRs
    many = planned["variant-many-cidrs"]
    assert many["usage"]["ingress"]["IPv4"] > 600 and many["usage"]["ingress"]["IPv6"] > 240
    bound = planned["variant-bound"]["aws"]["aws_vpc_security_group_ingress_rule"]
    assert any("prefix_list_id" in r for r in bound.values())


@pytest.mark.exhaustive  # about 8 minutes here
def test_whole_sweep_equals_sxcloud_in_chunks():
    compared, different = mr.sweep_in_chunks(SWEEP_CHUNK)
    assert compared == 4096
    assert different == []


# --- bad input ------------------------------------------------------------------------------

def _bad(label: str, **edits) -> dict:
    """test_config's good file with these edits, named after the case (unless the case is the name)."""
    data = changed(**edits)
    if "name" not in edits:
        data["name"] = label
    return data


def _many(count: int, second: int = 0) -> list[str]:
    return [f"10.{100 + second + i // 250}.{i % 250}.0/24" for i in range(count)]


#: name -> (document, [(key, text the message contains)]); the config tests' bad-input classes
#: that apply to the module, and the module's own (quota, Azure limits, CIDR forms).
BAD: dict[str, tuple[object, list[tuple[str, str]]]] = {
    "unknown-key": (_bad("unknown-key", appliance__fetures={}), [("appliance.fetures", "unknown key")]),
    "unknown-top": (_bad("unknown-top", gcp={}), [("gcp", "unknown key")]),
    "malformed-cidr": (_bad("malformed-cidr", roles__admin_pc=["10.0.99.0/24", "10.0.300.0/24"]),
                       [("roles.admin_pc[1]", "10.0.300.0/24")]),
    "leading-zero": (_bad("leading-zero", roles__admin_pc=["010.0.99.0/24"]), [("roles.admin_pc[0]", "not a valid CIDR")]),
    "host-no-prefix": (_bad("host-no-prefix", roles__internal_mail_server=["10.0.1.10"]),
                       [("roles.internal_mail_server[0]", "10.0.1.10/32")]),
    "host6-no-prefix": (_bad("host6-no-prefix", roles__internal_mail_server=["fd00::25"]),
                        [("roles.internal_mail_server[0]", "fd00::25/128")]),
    "host-bits": (_bad("host-bits", roles__admin_pc=["10.0.99.7/24"]), [("roles.admin_pc[0]", "10.0.99.0/24")]),
    "host-bits6": (_bad("host-bits6", roles__admin_pc=["fd00:99::1/64"]), [("roles.admin_pc[0]", "fd00:99::/64")]),
    "v4-mapped": (_bad("v4-mapped", roles__admin_pc=["::ffff:10.0.0.0/104"]), [("roles.admin_pc[0]", "IPv4-mapped")]),
    "dns-internal": (_bad("dns-internal", appliance__dns="internal"), [("roles.internal_nameserver", "dns is internal")]),
    "admin-no-pc": (_bad("admin-no-pc", roles__admin_pc=None), [("roles.admin_pc", "admin_https")]),
    "one-binding": (_bad("one-binding", roles__internal_mail_server=None,
                         aws__bindings={"internal_mail_server": {"security_group_ids": ["sg-0123456789abcdef0"]}}),
                    [("roles.internal_mail_server", "azure has no binding")]),
    "whole-internet": (_bad("whole-internet", roles__admin_pc=["0.0.0.0/0"]), [("roles.admin_pc[0]", "whole Internet")]),
    "whole-internet6": (_bad("whole-internet6", roles__admin_pc=["::/0"]), [("roles.admin_pc[0]", "whole Internet")]),
    "duplicate": (_bad("duplicate", roles__admin_pc=["10.0.99.0/24", "10.0.99.0/24"]), [("roles.admin_pc[1]", "twice")]),
    "missing": (_bad("missing", name=None, aws__vpc_id=None), [("name", "is required"), ("aws.vpc_id", "is required")]),
    "types": (_bad("types", appliance__cluster="yes", appliance__dns="google", name="Mail_Prod"),
              [("appliance.cluster", "true or false"), ("appliance.dns", "internal, external, builtin, cloud"),
               ("name", "lower-case")]),
    "cloud-ids": (_bad("cloud-ids", aws__vpc_id="vpc-123",
                       aws__bindings={"admin_pc": {"prefix_list_ids": ["sg-0123456789abcdef0"]}}),
                  [("aws.vpc_id", "vpc-"), ("aws.bindings.admin_pc.prefix_list_ids[0]", "pl-")]),
    "asg-is-nic": (_bad("asg-is-nic", azure__bindings={"admin_pc": {"application_security_group_ids": [
        ASG.replace("applicationSecurityGroups", "networkInterfaces").format("x")]}}),
        [("azure.bindings.admin_pc.application_security_group_ids[0]", "application security group")]),
    "eleven-asgs": (_bad("eleven-asgs", azure__bindings={"admin_pc": {
        "application_security_group_ids": [ASG.format(i) for i in range(11)]}}),
        [("azure.bindings.admin_pc.application_security_group_ids", "at most 10")]),
    "backend": (_bad("backend", aws__backend={"consul": {"path": "x"}}), [("aws.backend.consul", "s3")]),
    "endpoint": (_bad("endpoint", aws__endpoints={"ec2": "localhost:4566"}), [("aws.endpoints.ec2", "URL")]),
    "control": (_bad("control", aws__endpoints={"ec2": "http://a\x01b"}), [("aws.endpoints.ec2", "control or format characters")]),
    "format-char": (_bad("format-char", aws__backend={"s3": {"bucket": "b\u202e", "key": "k", "region": "eu-central-1"}}),
                    [("aws.backend.s3.bucket", "control or format characters")]),
    "control-key": (_bad("control-key", appliance__features={"ntp\x07": True}), [("appliance.features", "a key holds control")]),
    "endpoint-user": (_bad("endpoint-user", aws__endpoints={"ec2": "http://u:p@localhost:4566"}), [("aws.endpoints.ec2", "URL")]),
    "sg-name": (_bad("sg-name", name="sg-mail"), [("name", "not starting with 'sg-'")]),
    "rg-dot": (_bad("rg-dot", azure__resource_group="rg-mail."), [("azure.resource_group", "not ending in '.'")]),
    "too-wide": (_bad("too-wide", roles__admin_pc=["10.0.0.0/7"]), [("roles.admin_pc[0]", "wider than /8")]),
    "too-wide6": (_bad("too-wide6", roles__admin_pc=["fc00::/6"]), [("roles.admin_pc[0]", "wider than /7")]),
    "half": (_bad("half", roles__admin_pc=["0.0.0.0/1", "128.0.0.0/1"]),
             [("roles.admin_pc[0]", "wider than /8"), ("roles.admin_pc", "are the whole IPv4 Internet")]),
    "half-of-roles": (_bad("half-of-roles", roles__admin_pc=[f"{i}.0.0.0/8" for i in range(1, 65)],
                           roles__internal_mail_server=[f"{i}.0.0.0/8" for i in range(65, 129)]),
                      [("roles", "together the roles' ranges cover half or more of the IPv4")]),
    "no-cloud": (_bad("no-cloud", aws=None, azure=None), [("deployment", "nothing to synthesize")]),
    "quota-type": (_bad("quota-type", aws__rule_quota=0), [("aws.rule_quota", "between 1 and 1000")]),
    "quota": (_bad("quota", roles__admin_pc=_many(61)), [("aws", "64 IPv4 ingress rules exceed the quota of 60")]),
    "azure-addresses": (_bad("azure-addresses", aws=None, appliance__features={"admin_http": True},
                             roles__admin_pc=_many(2001), roles__internal_mail_server=_many(2000, 20)),
                        [("azure", "4001 source addresses")]),
    "version": (_bad("version", version=2), [("deployment", "version: is required and must be 1")]),
    "not-a-mapping": (["a", "list"], [("deployment", "must be a mapping")]),
}


#: Each group gets a plan of its own: a failed check of one module instance stops Terraform
#: from evaluating what comes after it in the others (the variable's validation before every
#: output; the input problems, seen here, before the cloud outputs' quota and limit checks).
GROUPS = ({"version", "not-a-mapping"}, {"quota", "azure-addresses"})


def _errors(workdir: Path, cases: dict) -> list[str]:
    """One plan over these bad deployments; the details of its error diagnostics."""
    mr.root(workdir, {k: doc for k, (doc, _) in cases.items()})
    assert mr.terraform(workdir, "init", "-backend=false").returncode == 0
    result = mr.terraform(workdir, "plan", "-json")
    assert result.returncode == 1
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [m["diagnostic"]["detail"] for m in messages
            if m.get("type") == "diagnostic" and m["diagnostic"]["severity"] == "error"]


@pytest.fixture(scope="module")
def bad_plan(tmp_path_factory) -> list[str]:
    tmp = tmp_path_factory.mktemp("bad")
    rest = set(BAD).difference(*GROUPS)
    return [error for i, group in enumerate((*GROUPS, rest))
            for error in _errors(tmp / str(i), {k: BAD[k] for k in sorted(group)})]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_fails_the_plan_naming_the_key(bad_plan, case):
    document, expected = BAD[case]
    name = document.get("name") if isinstance(document, dict) else None
    for key, text in expected:
        found = [d for d in bad_plan if any(line.startswith(f"{key}: ") and text in line
                                            for line in d.splitlines())]
        assert found, f"no error names {key} with '{text}':\n" + "\n---\n".join(bad_plan)
        if isinstance(name, str) and re.fullmatch(r"[a-z0-9-]{1,40}", name) and key not in ("deployment", "aws", "azure"):
            assert any(f"The deployment '{name}'" in d for d in found), found


# --- the module's files ---------------------------------------------------------------------

def test_generated_files_are_current():
    assert generate.stale() == [], "run scripts/generate"


def test_stale_generated_file_is_found(tmp_path):
    path = next(iter(generate.GENERATED))
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text((ROOT / path).read_text().replace('"R01"', '"R99"'))
    assert generate.stale(tmp_path) == list(generate.GENERATED)


def test_terraform_test_files_pass():
    result = mr.terraform(mr.MODULE, "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout and " passed" in result.stdout


def test_module_is_formatted():
    result = mr.terraform(ROOT / "modules", "fmt", "-check", "-recursive")
    assert result.returncode == 0, result.stdout
