"""modules/sxcloud-rules: its outputs equal sxcloud's stacks, bad input fails the plan naming
the key, its generated tables are current, and its `terraform test` files pass.

The equivalence runs in one `terraform plan` over every scenario: the examples and their
one-option variants, the example with site exceptions and its variants (one inserted,
removed, edited; all compared with the CDK's real synthesis), bindings, IPv6 and many-CIDR
deployments, the sweep's covering set and every SWEEP_STRIDE-th of its 4,096 combinations,
each with the sweep's site exceptions. All 4,096 (both clouds each) are compared in chunks
of SWEEP_CHUNK, one plan after another (the exhaustive tier): one plan of them all does not
fit this machine's memory (bench/modules_rules.py --sweep prints the time and memory).

"Today" is the tests' SXCLOUD_TODAY (conftest), given to the module as its `today`.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from pathlib import Path

import pytest

import module_rules as mr
import sweep
from conftest import EXAMPLES, ROOT, changed_exceptions, example_data, toggles
from sxcloud import config
from sxcloud.escape import terminal
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import plan as azure_plan
from sxcloud.errors import InputError
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
    blocks = {cloud: (stacks[cloud] if stacks else mr.values(mr.expected(d, cloud))) if cloud in d.targets
              else None for cloud in ("aws", "azure")}
    return {**blocks, "usage": mr.expected_usage(d), "warnings": mr.expected_warnings(d)}


@pytest.fixture(scope="module")
def scenarios(synthesized) -> dict[str, tuple[dict, dict]]:
    """name -> (deployment document, what the module must output)."""
    out: dict[str, tuple[dict, dict]] = {}
    for path in EXAMPLES:  # the examples and the variants conftest synthesized for real:
        data = example_data(path)  # options toggled, exceptions inserted, removed and edited
        documents = [data, *changed_exceptions(data).values()]
        for index, (_, apply) in enumerate(toggles(data)):
            variant = copy.deepcopy(data)
            apply(variant)
            variant["name"] = f"{data['name']}-t{index}"
            documents.append(variant)
        for document in documents:
            d = config.parse(copy.deepcopy(document), path)
            stacks = {cloud: mr.values(_without_metadata(
                synthesized.stack(f"{d.name}-{cloud}")["resource"])) for cloud in d.targets}
            out[f"example-{d.name}"] = (document, _expected(d, stacks))
    for name, document in mr.variants().items():
        out[f"variant-{name}"] = (document, _expected(config.parse(copy.deepcopy(document), Path(name))))
    combinations = list(sweep.combinations())
    chosen = {i for i in range(0, len(combinations), SWEEP_STRIDE)}
    chosen |= {combinations.index(c) for c in sweep.covering()}
    for i in sorted(chosen):
        document = sweep.as_document(combinations[i], "sweep", exceptions=True)
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
    # the exceptions reach both clouds, with their tags, priorities and expiry warnings
    example = planned["example-mail-exceptions"]
    assert example["aws"]["aws_vpc_security_group_ingress_rule"]["X-noc-snmp_in_udp161_cidr_10-0-50-10_32"]["tags"]["sxcloud:ticket"] == "CHG-1234"
    assert example["azure"]["azurerm_network_security_rule"]["X-azure-monitor-out-tag-AzureMonitor"]["destination_address_prefix"] == "AzureMonitor"
    swept = [planned[name] for name in scenarios if name.startswith("sweep-")]
    assert all(any("X-dns-ping expired on 2026-11-15" in w for w in s["warnings"]) for s in swept)
    assert all(any("X-mail-extra expires in 19 days" in w for w in s["warnings"]) for s in swept)
    assert all(s["azure"]["azurerm_network_security_rule"]["ssh-from-admins"]["priority"] == 300 for s in swept)


@pytest.mark.exhaustive  # 817 s here on a quiet machine, with the exceptions
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


#: Terminal controls a value may carry: CSI (as ESC [ and as the C1 character), BEL, and an
#: OSC 8 hyperlink whose text hides where it points.
BEL, CSI = "\x07", "\x1b[2J\x9b31m"
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
#: Every character the loader escapes, to prove the module shows each one as the loader does.
UNSAFE = "".join(chr(c) for c in range(0x110000)
                 if not 0xD800 <= c < 0xE000 and terminal(chr(c)) != chr(c))

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
    # issue 15: the routed IPv6 Internet (2000::/3) is no role
    "routed6-sevens": (_bad("routed6-sevens", appliance__ipv6=True,
                            roles__internal_network=[f"{0x2000 + i * 0x200:x}::/7" for i in range(16)]),
                       [("roles.internal_network[0]", "wider than /19"),
                        ("roles.internal_network", "whole routed IPv6 Internet (2000::/3)")]),
    "routed6-wide": (_bad("routed6-wide", roles__admin_pc=["2a00::/18"]),
                     [("roles.admin_pc[0]", "wider than /19, wider than any allocation in the routed")]),
    "routed6-half": (_bad("routed6-half", roles__admin_pc=["2000::/4"]),
                     [("roles.admin_pc", "half or more of the routed IPv6 Internet (2000::/3)")]),
    # issue 15: values with ESC, BEL, CSI (C1 and ESC [) and an OSC 8 link reach the error text
    "terminal-name": (_bad("terminal-name", name=f"mail{CSI}{BEL}-{UNSAFE}"), [("name", "control or format")]),
    "terminal-cidr": (_bad("terminal-cidr", roles__admin_pc=[f"10.9.9.0/24{OSC8}"]),
                      [("roles.admin_pc[0]", "control or format")]),
    "terminal-key": (_bad("terminal-key", aws__backend={f"s3{CSI}": {"bucket": "b"}}),
                     [("aws.backend", "a key holds control")]),
    "version": (_bad("version", version=2), [("deployment", "version: is required and must be 1")]),
    "not-a-mapping": (["a", "list"], [("deployment", "must be a mapping")]),
}


def _x(**over) -> dict:
    """A valid site exception with these keys replaced (None: left out)."""
    base = {"id": "noc-snmp", "direction": "inbound", "protocol": "udp", "ports": [161],
            "peer": {"cidrs": ["10.0.50.10/32"]}, "reason": "SNMP polling", "owner": "noc-team",
            "expires": "2027-06-30"}
    return {k: v for k, v in {**base, **over}.items() if v is not None}


#: Bad site exceptions: name -> (document, [(key, text)]), each also refused by sxcloud
#: (test_bad_exceptions_are_refused_by_sxcloud_too).
BAD_EXCEPTIONS: dict[str, tuple[object, list[tuple[str, str]]]] = {
    "x-id": (_bad("x-id", exceptions=[_x(id="Noc_SNMP")]), [("exceptions[0].id", "lower-case letters")]),
    "x-same-id": (_bad("x-same-id", exceptions=[_x(), _x(ports=[162])]), [("exceptions[1].id", "ids must be unique")]),
    "x-unknown-key": (_bad("x-unknown-key", exceptions=[_x(onwer="x")]), [("exceptions[0].onwer", "unknown key")]),
    "x-missing": (_bad("x-missing", exceptions=[_x(owner=None, expires=None)]),
                  [("exceptions[0].owner", "is required"), ("exceptions[0].expires", "is required")]),
    "x-named-number": (_bad("x-named-number", exceptions=[_x(protocol=6)]), [("exceptions[0].protocol", "has a name: write 'tcp'")]),
    "x-protocol": (_bad("x-protocol", exceptions=[_x(protocol="gre", ports=None)]), [("exceptions[0].protocol", "tcp, udp, icmp, all")]),
    "x-all-ports": (_bad("x-all-ports", exceptions=[_x(protocol="all")]), [("exceptions[0].ports", "all protocols takes no ports")]),
    "x-no-ports": (_bad("x-no-ports", exceptions=[_x(protocol="tcp", ports=None)]), [("exceptions[0].ports", "is required for tcp")]),
    "x-port-range": (_bad("x-port-range", exceptions=[_x(ports=["99-1"])]), [("exceptions[0].ports[0]", "not a port range")]),
    "x-port-form": (_bad("x-port-form", exceptions=[_x(ports=["80:90"])]), [("exceptions[0].ports[0]", "is not valid here")]),
    "x-overlap": (_bad("x-overlap", exceptions=[_x(ports=[80, "70-90"])]), [("exceptions[0].ports[0]", "80 overlaps 70-90")]),
    "x-icmp-on-tcp": (_bad("x-icmp-on-tcp", exceptions=[_x(icmp_type=8)]), [("exceptions[0].icmp_type", "is for icmp only")]),
    "x-code-alone": (_bad("x-code-alone", exceptions=[_x(protocol="icmp", ports=None, icmp_code=0, clouds=["aws"])]),
                     [("exceptions[0].icmp_code", "needs icmp_type")]),
    "x-two-peers": (_bad("x-two-peers", exceptions=[_x(peer={"internet": True, "role": "admin_pc"})]),
                    [("exceptions[0].peer", "exactly one of internet, role, or addresses")]),
    "x-peer-internet": (_bad("x-peer-internet", exceptions=[_x(peer={"cidrs": ["0.0.0.0/0"]})]),
                        [("exceptions[0].peer.cidrs[0]", "the Internet is `internet: true`")]),
    "x-peer-wide": (_bad("x-peer-wide", exceptions=[_x(peer={"cidrs": ["10.0.0.0/7"]})]), [("exceptions[0].peer.cidrs[0]", "wider than /8")]),
    "x-peer-routed": (_bad("x-peer-routed", exceptions=[_x(peer={"cidrs": ["2001:db8::/32", "2a00::/12"]})]),
                      [("exceptions[0].peer.cidrs[1]", "wider than /19, wider than any allocation in the routed IPv6 Internet (2000::/3)")]),
    "x-peer-host-bits": (_bad("x-peer-host-bits", exceptions=[_x(peer={"cidrs": ["10.0.50.7/24"]})]),
                         [("exceptions[0].peer.cidrs[0]", "the network is 10.0.50.0/24")]),
    "x-peer-twice": (_bad("x-peer-twice", exceptions=[_x(peer={"cidrs": ["10.0.50.0/24", "10.0.50.0/24"]})]),
                     [("exceptions[0].peer.cidrs[1]", "listed twice")]),
    "x-tag-internet": (_bad("x-tag-internet", exceptions=[_x(peer={"azure": {"service_tags": ["Internet"]}}, clouds=["azure"])]),
                       [("exceptions[0].peer.azure.service_tags[0]", "`internet: true`, not a service tag")]),
    "x-sg-id": (_bad("x-sg-id", exceptions=[_x(peer={"aws": {"security_group_ids": ["sg-1"]}}, clouds=["aws"])]),
                [("exceptions[0].peer.aws.security_group_ids[0]", "sg- and 8 or 17 hex digits")]),
    "x-reason": (_bad("x-reason", exceptions=[_x(reason="SNMP & syslog")]), [("exceptions[0].reason", "takes no '&'")]),
    "x-control": (_bad("x-control", exceptions=[_x(reason="SNMP\x1b[31m polling")]),
                  [("exceptions[0].reason", "control or format characters")]),
    "x-control-port": (_bad("x-control-port", exceptions=[_x(ports=["80-90\x1b]0;pwned\x07"], peer={"cidrs": ["10.0.50.0/24\u202e"]})]),
                       [("exceptions[0].ports[0]", "control or format characters"),
                        ("exceptions[0].peer.cidrs[0]", "control or format characters")]),
    "x-control-key": (_bad("x-control-key", exceptions=[{**_x(), "own\x1b[8mer": "x"}]),
                      [("exceptions[0]", "a key holds control or format characters")]),
    "x-expires-far": (_bad("x-expires-far", exceptions=[_x(expires="2028-06-30")]),
                      [("exceptions[0].expires", "at most 366 days")]),
    "x-expires-day": (_bad("x-expires-day", exceptions=[_x(expires="2027-02-30")]), [("exceptions[0].expires", "YYYY-MM-DD")]),
    "x-clouds": (_bad("x-clouds", azure=None, exceptions=[_x(clouds=["azure"])]),
                 [("exceptions[0].clouds[0]", "the file has no 'azure' section")]),
    "x-azure-protocol": (_bad("x-azure-protocol", exceptions=[_x(protocol=47, ports=None)]),
                         [("exceptions[0].protocol", "Azure knows only tcp, udp, icmp, all, 50 (ESP) and 51 (AH)")]),
    "x-azure-icmp-type": (_bad("x-azure-icmp-type", exceptions=[_x(protocol="icmp", ports=None, icmp_type=8)]),
                          [("exceptions[0].icmp_type", "Azure cannot match an ICMP type")]),
    "x-azure-off": (_bad("x-azure-off", exceptions=[_x(clouds=["aws"], azure={"priority": 300})]),
                    [("exceptions[0].azure", "the exception is not on azure")]),
    "x-role-nothing": (_bad("x-role-nothing", exceptions=[_x(peer={"role": "internal_nameserver"})]),
                       [("exceptions[0].peer.role", "so it names nothing on aws")]),
    "x-nothing-on-aws": (_bad("x-nothing-on-aws", exceptions=[_x(peer={"azure": {"service_tags": ["AzureMonitor"]}})]),
                         [("exceptions[0].peer", "names nothing on aws")]),
    # the planners' checks: an NSG rule named for a peer of two kinds, Azure priority and
    # name collisions, a rule EC2 would refuse as a duplicate
    "x-azure-name-two": (_bad("x-azure-name-two", exceptions=[_x(peer={"cidrs": ["10.0.50.10/32", "fd00::/64"]}, azure={"name": "snmp"})]),
                         [("exceptions[0].azure", "names one NSG rule, but X-noc-snmp needs 2")]),
    "x-priority": (_bad("x-priority", exceptions=[_x(azure={"priority": 300}), _x(id="other", ports=[162], azure={"priority": 300})]),
                   [("exceptions[1]", "X-other's rule X-other-in-v4 takes priority 300 (Inbound), which X-noc-snmp's rule X-noc-snmp-in-v4 has; Azure needs unique priorities per direction. Give one of them a free priority, e.g. exceptions[1].azure.priority: 301")]),
    "x-priority-own": (_bad("x-priority-own", exceptions=[_x(azure={"priority": 4000})]),
                       [("exceptions[0]", "which sxcloud's own rule allow-in-azure-load-balancer has")]),
    "x-name": (_bad("x-name", exceptions=[_x(azure={"name": "DENY-IN-ALL"})]),
               [("exceptions[0]", "is also the name of sxcloud's own rule deny-in-all")]),
    "x-duplicate": (_bad("x-duplicate", exceptions=[_x(protocol="tcp", ports=[25], peer={"cidrs": ["10.0.1.10/32"]})]),
                    [("exceptions[0]", "X-noc-snmp's rule X-noc-snmp_in_tcp25_cidr_10-0-1-10_32 is the same rule as R03_in_tcp25_cidr_10-0-1-10_32 (R03)")]),
}
BAD.update(BAD_EXCEPTIONS)


#: Each group gets a plan of its own: a failed check of one module instance stops Terraform
#: from evaluating what comes after it in the others (the variable's validation before every
#: output; the input problems, seen here, before the cloud outputs' quota and limit checks).
#: The planners' checks of exceptions fail the cloud outputs' preconditions, as the quota does.
PLANNER_CASES = {"x-azure-name-two", "x-priority", "x-priority-own", "x-name", "x-duplicate"}
GROUPS = ({"version", "not-a-mapping"}, {"quota", "azure-addresses"}, PLANNER_CASES)


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
        if isinstance(name, str) and re.fullmatch(r"[a-z0-9-]{1,40}", name) and key not in ("deployment", "aws", "azure") \
                and case not in PLANNER_CASES:
            assert any(f"The deployment '{name}'" in d for d in found), found


def test_no_value_reaches_the_terminal_raw(bad_plan):
    """Issue 15, case 8: a name or a role CIDR holding ESC or BEL reached the terminal raw
    through the plan's error. Every error now shows each control character as the loader
    does (escape.terminal), and no line carries one."""
    for detail in bad_plan:
        raw = [c for c in detail if unicodedata.category(c) in ("Cc", "Cf") and c != "\n"]
        assert not raw, (raw, detail)
    for shown in (f"The deployment '{terminal(f'mail{CSI}{BEL}-{UNSAFE}')}'",
                  terminal(f"'10.9.9.0/24{OSC8}' is not a valid CIDR block"),
                  terminal(f"aws.backend.s3{CSI}: 's3{CSI}' is not a valid key here")):
        assert any(shown in d for d in bad_plan), (shown, bad_plan)


def test_the_plan_output_a_person_reads_has_no_terminal_controls(tmp_path):
    """The same through `terraform plan` as a person runs it (text, not -json; -no-color so
    that Terraform's own colours do not count): not one ESC, BEL or C1 control."""
    mr.root(tmp_path, {"x": BAD["terminal-name"][0], "y": BAD["terminal-cidr"][0]})
    assert mr.terraform(tmp_path, "init", "-backend=false").returncode == 0
    result = mr.terraform(tmp_path, "plan")
    assert result.returncode == 1 and "\\x1b" in result.stderr, result.stderr
    raw = [c for c in result.stdout + result.stderr
           if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n"]
    assert not raw, raw


@pytest.mark.parametrize("case", sorted(BAD_EXCEPTIONS))
def test_bad_exceptions_are_refused_by_sxcloud_too(case):
    """The module refuses what sxcloud refuses, under the same key: the loader, or the
    planners for the rules' clashes."""
    document, expected = BAD_EXCEPTIONS[case]
    with pytest.raises(InputError) as caught:
        d = config.parse(copy.deepcopy(document), Path(f"{case}.yaml"))
        for cloud in d.targets:
            (aws_plan if cloud == "aws" else azure_plan).plan(d)
    found = [(key, message) for _, key, message in caught.value.problems]
    for key, text in expected:
        assert any(k == key and text in m for k, m in found), found


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
