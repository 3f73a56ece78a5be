"""`sxcloud audit aws` without applying a stack: the comparison of intended and live rules (a
pure function over DescribeSecurityGroupRules items), the refusal of bad input, which
endpoint may receive the caller's credentials, and errors of the SDK, the transport and the
endpoint (against moto's server and tests/http_stub.py).

The live items here are written the way the EC2 API documents them (spec/clouds.md):
lower-case protocol names or protocol numbers, -1 as both ports of an all-traffic rule,
ReferencedGroupInfo with the owner's UserId. The end-to-end tests read them from moto.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, deployment, example_data
from http_stub import Stub
from moto_server import recording
from sxcloud import cli
from sxcloud.aws import live
from sxcloud.aws.drift import compare, live_rule
from sxcloud.exceptions import today
from sxcloud.aws.plan import (CIDR_IPV4, CIDR_IPV6, EGRESS, PREFIX_LIST, SECURITY_GROUP, SELF,
                              SgPlan, SgRule, plan)
from sxcloud.commands.audit import trust

GROUP = "sg-0feedfacefeedface"


def planned(example: str) -> SgPlan:
    path = ROOT / "examples" / example
    return plan(deployment(example_data(path), path))


def as_described(rule: SgRule, number: int) -> dict[str, Any]:
    """The DescribeSecurityGroupRules item AWS would return for a planned rule."""
    item: dict[str, Any] = {
        "SecurityGroupRuleId": f"sgr-{number:017x}", "GroupId": GROUP,
        "GroupOwnerId": "123456789012", "IsEgress": rule.direction == EGRESS,
        "IpProtocol": rule.ip_protocol,
        "FromPort": -1 if rule.from_port is None else rule.from_port,
        "ToPort": -1 if rule.to_port is None else rule.to_port,
        "Description": rule.description,
    }
    value = GROUP if rule.peer.value == SELF else rule.peer.value
    item.update({CIDR_IPV4: {"CidrIpv4": value}, CIDR_IPV6: {"CidrIpv6": value},
                 PREFIX_LIST: {"PrefixListId": value},
                 SECURITY_GROUP: {"ReferencedGroupInfo": {"GroupId": value,
                                                          "UserId": "123456789012"}},
                 }[rule.peer.kind])
    return item


def described(p: SgPlan) -> list[dict[str, Any]]:
    return [as_described(r, n) for n, r in enumerate(p.rules)]


def drift_of(p: SgPlan, items: list[dict[str, Any]], on: date | None = None):  # type: ignore[no-untyped-def]
    """The drift of live `items` against `p` on day `on` (default: today())."""
    return compare(p, GROUP, [live_rule(i) for i in items], on or today())


@pytest.mark.parametrize("example", ["aws-single.yaml", "aws-cluster-ipv6.yaml",
                                     "simple-both.yaml"])
def test_a_group_as_planned_has_no_drift(example: str) -> None:
    p = planned(example)
    d = drift_of(p, described(p))
    assert not d.found
    assert (d.intended, d.live) == (len(p.rules), len(p.rules))


def test_the_same_rule_written_differently_is_the_same_rule() -> None:
    p = planned("aws-cluster-ipv6.yaml")
    items = described(p)
    v6 = next(i for i in items if i.get("CidrIpv6") == "fd00:30::53/128")
    v6["CidrIpv6"] = "FD00:0030:0000:0000:0000:0000:0000:0053/128"  # the long, upper-case form
    tcp = next(i for i in items if i["IpProtocol"] == "tcp")
    tcp["IpProtocol"] = "6"  # a protocol number
    for item in items:
        if not item["Description"]:
            del item["Description"]
    assert not drift_of(p, items).found
    simple = planned("simple-both.yaml")
    everything = [i for i in described(simple) if i["IpProtocol"] == "-1"]
    assert everything and all(i["FromPort"] == -1 for i in everything)  # AWS's way
    assert not drift_of(simple, described(simple)).found


def test_missing_unexpected_and_changed_are_told_apart() -> None:
    p = planned("aws-cluster-ipv6.yaml")
    items = described(p)
    gone = next(r for r in p.rules if r.flow.row.id == "R04")
    moved = next(n for n, r in enumerate(p.rules) if r.flow.row.id == "R11")
    worded = next(n for n, r in enumerate(p.rules) if r.peer.value == SELF)
    items[moved] = {**items[moved], "FromPort": 444, "ToPort": 444}
    items[worded] = {**items[worded], "Description": "edited in the console"}
    items = [i for i, r in zip(items, p.rules) if r is not gone]
    items.append({"SecurityGroupRuleId": "sgr-0000000000000ffff", "GroupId": GROUP,
                  "IsEgress": False, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                  "CidrIpv4": "0.0.0.0/0"})
    d = drift_of(p, items)
    assert [r.key for r in d.missing] == [gone.key, p.rules[moved].key]
    assert [(u.rule_id, u.permission.ports, u.permission.peer) for u in d.unexpected] == [
        ("sgr-0000000000000ffff", "tcp/22", "0.0.0.0/0"),
        (as_described(p.rules[moved], moved)["SecurityGroupRuleId"], "tcp/444",
         p.rules[moved].peer.value)]
    assert [(c.rule.key, [(f.field, f.intended, f.live) for f in c.changes])
            for c in d.changed] == [(p.rules[worded].key, [
                ("description", p.rules[worded].description, "edited in the console")])]
    assert d.found


def test_self_means_this_group_and_no_other() -> None:
    p = planned("aws-cluster-ipv6.yaml")
    items = described(p)
    for item in items:
        if item.get("ReferencedGroupInfo", {}).get("GroupId") == GROUP:
            item["ReferencedGroupInfo"] = {"GroupId": "sg-0aaaaaaaaaaaaaaaa"}
    d = drift_of(p, items)
    selfish = [r.key for r in p.rules if r.peer.value == SELF]
    assert selfish and [r.key for r in d.missing] == selfish
    assert {u.permission.peer for u in d.unexpected} == {"sg-0aaaaaaaaaaaaaaaa"}


# --- bad input: exit 2, the file and the key named, nothing on stdout ------------------------

@pytest.mark.parametrize("args,message", [
    (["examples/azure-cluster.yaml"], "examples/azure-cluster.yaml: aws: is not in this file"),
    (["examples/aws-single.yaml", "--group-id", "sg-1"],
     "examples/aws-single.yaml: --group-id: 'sg-1' is not a security group id"),
    (["examples/no-such.yaml"], "examples/no-such.yaml: no such file"),
    (["examples/aws-single.yaml", "--endpoint-url", "not-a-url"],
     "examples/aws-single.yaml: --endpoint-url: 'not-a-url' is not an http:// or https:// URL"),
    (["examples/aws-single.yaml", "--profile", "sxcloud-no-such-profile"],
     "examples/aws-single.yaml: --profile: The config profile (sxcloud-no-such-profile) "
     "could not be found"),
])
def test_bad_input_exits_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))  # no user profiles
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    assert cli.main(["audit", "aws", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"sxcloud: error: {message}" in err


# --- credentials stay home: which endpoint receives the signed requests -----------------------
#
# A proxy stub (tests/http_stub.py) stands in front of every host that is not this machine:
# whatever the audit would send to AWS or to a refused endpoint reaches it first and is
# recorded, so "no request" is observed, not assumed. moto's recorder watches the file's
# endpoint.

SINGLE = ROOT / "examples" / "aws-single.yaml"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessiontokenTHATmustNEVERbePRINTED0123456789"


@pytest.fixture
def aws_env(aws_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials, no user AWS config, no proxy unless a test sets one."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                "no_proxy"):
        monkeypatch.delenv(key, raising=False)


def through_proxy(monkeypatch: pytest.MonkeyPatch, proxy: Stub) -> None:
    for key in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(key, proxy.url)


def with_ec2_endpoint(tmp_path: Path, url: str) -> Path:
    data = example_data(SINGLE)
    data["aws"]["endpoints"] = {"ec2": url}
    path = tmp_path / "single.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[str], str]:
    """`audit aws ARGS`: exit status, stdout, the error lines, all of stderr."""
    code = cli.main(["audit", "aws", *args])
    out, err = capsys.readouterr()
    return code, out, [l for l in err.splitlines() if l.startswith("sxcloud: error:")], err


def test_the_files_endpoint_is_used_only_when_asked(aws_env, moto_server, monkeypatch,
                                                    tmp_path, capsys):
    path = with_ec2_endpoint(tmp_path, moto_server.url)
    with Stub() as proxy:
        through_proxy(monkeypatch, proxy)
        with recording(moto_server) as received:
            code, out, errors, err = run(capsys, str(path))
        # Not to the file's endpoint: to AWS's own (here: into the proxy, which refuses).
        assert received == []
        assert "CONNECT ec2.eu-central-1.amazonaws.com:443" in proxy.requests
        assert "aws.endpoints.ec2 is not used" in err and "--use-file-endpoints" in err
        assert (code, out, len(errors)) == (2, "", 1)
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.delenv("HTTPS_PROXY")
    with recording(moto_server) as received:
        code, _, errors, _ = run(capsys, str(path), "--use-file-endpoints")
    assert "DescribeSecurityGroups" in received  # asked: the file's endpoint (moto) is used
    assert code == 2 and "no security group" in errors[0]


@pytest.mark.parametrize("where", ["file", "option"])
def test_plain_http_is_refused_except_to_this_machine(aws_env, monkeypatch, tmp_path, capsys,
                                                      where):
    def audit(url: str) -> tuple[int, str, list[str], str]:
        if where == "file":
            return run(capsys, str(with_ec2_endpoint(tmp_path, url)), "--use-file-endpoints")
        return run(capsys, str(SINGLE), "--endpoint-url", url)

    with Stub() as proxy:
        through_proxy(monkeypatch, proxy)
        code, out, errors, _ = audit("http://203.0.113.7:8080")
        assert (code, out, proxy.requests) == (2, "", [])  # refused before any request
        key = "aws.endpoints.ec2" if where == "file" else "--endpoint-url"
        assert len(errors) == 1 and f": {key}: 'http://203.0.113.7:8080' is plain http to " \
            "203.0.113.7" in errors[0]
        # The same host over https is allowed, and the proxy does see that request: so the
        # empty log above means something.
        assert audit("https://203.0.113.7:8443")[0] == 2
        assert "CONNECT 203.0.113.7:8443" in proxy.requests


def test_plain_http_to_this_machine_is_allowed(aws_env, moto_server, capsys):
    port = moto_server.url.rsplit(":", 1)[1]
    for url in (moto_server.url, f"http://localhost:{port}"):
        with recording(moto_server) as received:
            code, _, errors, _ = run(capsys, str(SINGLE), "--endpoint-url", url)
        assert code == 2 and "no security group" in errors[0]
        assert "DescribeSecurityGroups" in received


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.9.8.7", True), ("::1", True), ("localhost", True),
    ("LOCALHOST.", True), ("::ffff:127.0.0.1", True), ("128.0.0.1", False),
    ("127.0.0.1.example.com", False), ("localhost.example.com", False), ("::2", False),
    ("10.0.0.1", False), ("example.com", False),
])
def test_what_counts_as_this_machine(host: str, loopback: bool) -> None:
    assert trust.is_loopback(host) is loopback


# --- errors: exit 2, one line that names what failed, nothing secret ---------------------------

@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:99999", "'http://127.0.0.1:99999' is not a URL (Port out of range"),
    ("https://[::1", "'https://[::1' is not a URL (Invalid IPv6 URL)"),
    ("https://ec2.example.com:http", "is not a URL (Port could not be cast"),
    ("https://exa mple.com", "has no valid host name or IP address"),
    ("https://ec2.example.com/?Action=x", "has a query or fragment"),
    ("https://ec2.example.com/caf\u00e9", "has a path with characters other than"),
    ("https://ec2.example.com/a\nb", "'https://ec2.example.com/a\\nb' holds control characters"),
    ("ftp://ec2.example.com", "is not an http:// or https:// URL"),
])
def test_unusable_endpoint_urls(aws_env, monkeypatch, capsys, url, message):
    with Stub() as proxy:
        through_proxy(monkeypatch, proxy)
        code, out, errors, _ = run(capsys, str(SINGLE), "--endpoint-url", url)
        assert proxy.requests == []
    assert (code, out, len(errors)) == (2, "", 1)
    assert f"{SINGLE}: --endpoint-url: " in errors[0] and message in errors[0]


def test_a_url_with_a_password_is_refused_without_echo(aws_env, capsys):
    code, _, errors, err = run(capsys, str(SINGLE), "--endpoint-url",
                               "https://user:hunter2-secret@ec2.example.com")
    assert code == 2 and len(errors) == 1 and "holds a user name or password" in errors[0]
    assert "hunter2" not in err


def test_an_answer_that_is_not_xml(aws_env, capsys):
    with Stub(status=200, body=b"<html><body>captive portal</bod") as ec2:
        code, out, errors, _ = run(capsys, str(SINGLE), "--endpoint-url", ec2.url)
    assert (code, out, len(errors)) == (2, "", 1)
    assert "cannot be read as the EC2 API's XML" in errors[0] and "--endpoint-url" in errors[0]


def test_an_error_that_echoes_the_session_token(aws_env, monkeypatch, capsys):
    """An endpoint may put what it received into its error; the message never shows it."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    body = ("<Response><Errors><Error><Code>AuthFailure</Code><Message>token "
            f"{SESSION_TOKEN} is not valid</Message></Error></Errors>"
            "<RequestID>x</RequestID></Response>").encode()
    with Stub(status=400, body=body) as ec2:
        code, out, errors, err = run(capsys, str(SINGLE), "--endpoint-url", ec2.url)
    assert (code, out, len(errors)) == (2, "", 1)
    assert "AuthFailure: token [credential removed] is not valid" in errors[0]
    assert SESSION_TOKEN not in err and SESSION_TOKEN[:20] not in err


def test_an_endpoint_that_never_answers(aws_env, capsys):
    with Stub(hang=True) as ec2:
        code, out, errors, _ = run(capsys, str(SINGLE), "--endpoint-url", ec2.url,
                                   "--timeout", "0.5")
        tried = len(ec2.requests)
    assert (code, out, len(errors)) == (2, "", 1)
    assert "the EC2 endpoint did not answer" in errors[0]
    assert tried == live.ATTEMPTS  # retried, but not forever


def test_connection_refused(aws_env, capsys):
    with Stub() as closed:
        url = closed.url  # a port that was open a moment ago, and is closed now
    code, out, errors, _ = run(capsys, str(SINGLE), "--endpoint-url", url)
    assert (code, out, len(errors)) == (2, "", 1)
    assert f"Could not connect to the endpoint URL: \"{url}/\"" in errors[0]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "100000"])
def test_timeout_must_be_sensible(aws_env, capsys, value):
    code, _, errors, _ = run(capsys, str(SINGLE), "--timeout", value)
    assert code == 2 and len(errors) == 1 and "--timeout" in errors[0]
