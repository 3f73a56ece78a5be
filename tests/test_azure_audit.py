"""`sxcloud audit azure`: the real azure-mgmt-network client, over real HTTPS, against an
ARM-compatible endpoint on 127.0.0.1 (tests/arm_endpoint.py) that serves the NSG which the
synthesized stack would create (tests/arm_render.py)."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from arm_endpoint import ArmEndpoint
from arm_render import nsg_from_stack
from conftest import ROOT, Synthesized
from http_stub import Stub

from sxcloud import config
from sxcloud.cli import main

SUB = "6f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
TOKEN = "test-arm-token"
CLUSTER = ROOT / "examples" / "azure-cluster.yaml"
AZURE_FILES = [CLUSTER, ROOT / "examples" / "simple-both.yaml", config.builtin_example()]
NSG_READ = "Microsoft.Network/networkSecurityGroups/read"


@pytest.fixture
def arm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmEndpoint]:
    """A running endpoint, trusted through REQUESTS_CA_BUNDLE; the static token is set."""
    endpoint = ArmEndpoint(token=TOKEN, forbidden_tokens={"token-without-read"})
    with endpoint.serve(tmp_path):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.ca_file))
        monkeypatch.setenv("SXCLOUD_AZURE_TOKEN", TOKEN)
        monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
        yield endpoint
    assert endpoint.writes == [], "the audit tried to write"


def stack_name(path: Path) -> str:
    return f"{config.load(path).name}-azure"


def deploy(arm: ArmEndpoint, synthesized: Synthesized, path: Path = CLUSTER,
           change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Put the NSG that `terraform apply` of the file's stack would create; change it first."""
    group, body = nsg_from_stack(synthesized.stack(stack_name(path)), SUB)
    if change:
        change(body)
    arm.put_nsg(SUB, group, body)
    return body


def audit(arm: ArmEndpoint, path: Path = CLUSTER, *extra: str,
          capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["audit", "azure", str(path), "--subscription", SUB, "--arm-endpoint", arm.url,
                 *extra])
    out, err = capsys.readouterr()
    return code, out, err


def audit_json(arm: ArmEndpoint, capsys: pytest.CaptureFixture[str],
               path: Path = CLUSTER) -> tuple[int, dict[str, Any]]:
    code, out, _ = audit(arm, path, "--json", capsys=capsys)
    return code, json.loads(out)


def rules(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The NSG's security rules by name (their properties, to change in place)."""
    return {r["name"]: r["properties"] for r in body["properties"]["securityRules"]}


# --- no drift ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", AZURE_FILES, ids=lambda p: p.stem)
def test_the_stack_as_applied_has_no_drift(arm, synthesized, capsys, path):
    body = deploy(arm, synthesized, path)
    code, report = audit_json(arm, capsys, path)
    assert code == 0, report
    assert report["drift"] is False and report["findings"] == [] and report["notes"] == []
    assert report["summary"]["live_rules"] == len(body["properties"]["securityRules"]) > 0
    assert report["network_security_group"]["id"] == body["id"]


def test_one_read_request_and_no_list_call(arm, synthesized, capsys):
    """The audit makes a single GET of the NSG (so there is no list call whose pages could be
    missed), with an api-version and the bearer token; and no write (the fixture checks)."""
    body = deploy(arm, synthesized)
    assert audit(arm, capsys=capsys)[0] == 0
    (request,) = arm.requests
    assert (request.method, request.path) == ("GET", body["id"])
    assert request.query["api-version"] == ["2026-03-01"]
    assert request.authorization == f"Bearer {TOKEN}"


def test_api_version_can_be_chosen(arm, synthesized, capsys):
    deploy(arm, synthesized)
    assert audit(arm, CLUSTER, "--api-version", "2018-11-01", capsys=capsys)[0] == 0
    assert arm.requests[0].query["api-version"] == ["2018-11-01"]


def test_arm_spellings_of_the_same_rule_are_no_drift(arm, synthesized, capsys):
    """ARM may answer with a one-element list in the singular field, ids in another case, a
    host without /32, or 0-65535 for '*'; none of that is drift."""
    def respell(body: dict[str, Any]) -> None:
        for props in rules(body).values():
            if len(props["destinationPortRanges"]) == 1:
                props["destinationPortRange"] = props["destinationPortRanges"].pop()
            if props.get("sourcePortRange") == "*":
                props["sourcePortRange"] = "0-65535"
            for side in ("sourceApplicationSecurityGroups", "destinationApplicationSecurityGroups"):
                for group in props.get(side, []):
                    group["id"] = group["id"].upper()
            if "sourceAddressPrefixes" in props:
                props["sourceAddressPrefixes"] = [p.removesuffix("/32") for p in props["sourceAddressPrefixes"]]
        rules(body)["allow-in-internet-tcp"]["sourceAddressPrefix"] = "internet"

    deploy(arm, synthesized, ROOT / "examples" / "simple-both.yaml", respell)
    code, report = audit_json(arm, capsys, ROOT / "examples" / "simple-both.yaml")
    assert (code, report["findings"]) == (0, [])


def test_every_synthesized_azure_stack_audits_clean(synthesized):
    """Each example and each of its one-option variants: the rendered stack, read through the
    SDK's models, equals what the audit derives from the plan (no HTTP: breadth, not depth)."""
    from azure.mgmt.network.models import NetworkSecurityGroup
    from conftest import EXAMPLES, deployment, example_data, toggles

    from sxcloud.azure import drift
    from sxcloud.azure.plan import plan

    checked = 0
    for path in EXAMPLES:
        data = example_data(path)
        if "azure" not in data:
            continue
        variants = [(data["name"], data)]
        for index, (_, apply) in enumerate(toggles(data)):
            changed = copy.deepcopy(data)
            apply(changed)
            changed["name"] = f"{data['name']}-t{index}"
            variants.append((changed["name"], changed))
        for name, variant in variants:
            d = deployment(variant, path)
            group, body = nsg_from_stack(synthesized.stack(f"{name}-azure"), SUB)
            report = drift.audit(plan(d), NetworkSecurityGroup(body), subscription=SUB,
                                 resource_group=group, location=d.azure.location)
            assert (report.findings, report.notes) == ((), ()), name
            checked += 1
    assert checked >= 20


# --- drift ------------------------------------------------------------------------------------

PORTAL_RULE = {
    "name": "portal-allow-rdp",
    "properties": {"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "3389",
                   "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                   "access": "Allow", "priority": 300, "direction": "Inbound",
                   "provisioningState": "Succeeded"},
}


def test_a_rule_added_in_the_portal_is_unexpected(arm, synthesized, capsys):
    deploy(arm, synthesized, change=lambda b: b["properties"]["securityRules"].append(PORTAL_RULE))
    code, report = audit_json(arm, capsys)
    assert code == 1 and report["drift"] is True
    (finding,) = report["findings"]
    assert (finding["kind"], finding["rule"], finding["direction"], finding["priority"]) == \
        ("unexpected", "portal-allow-rdp", "Inbound", 300)
    assert finding["live"]["destination_ports"] == ["3389"] and finding["intended"] is None


def test_a_changed_priority_is_reported_on_the_rule(arm, synthesized, capsys):
    def move(body: dict[str, Any]) -> None:
        rules(body)["allow-out-internet-udp"]["priority"] = 150
    deploy(arm, synthesized, change=move)
    code, report = audit_json(arm, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert (finding["kind"], finding["rule"]) == ("changed", "allow-out-internet-udp")
    assert finding["changes"] == [{"field": "priority", "intended": "101", "live": "150"}]


def test_a_deleted_rule_is_missing(arm, synthesized, capsys):
    def delete(body: dict[str, Any]) -> None:
        body["properties"]["securityRules"] = [
            r for r in body["properties"]["securityRules"] if r["name"] != "deny-in-all"]
    deploy(arm, synthesized, change=delete)
    code, report = audit_json(arm, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert (finding["kind"], finding["rule"], finding["priority"]) == ("missing", "deny-in-all", 4096)
    assert finding["live"] is None and finding["intended"]["access"] == "Deny"


EXCHANGE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mail/"
            "providers/Microsoft.Network/applicationSecurityGroups/asg-exchange")
ROGUE = EXCHANGE.replace("asg-exchange", "asg-rogue")


@pytest.mark.parametrize("rule, field, change, intended, live", [
    ("deny-in-all", "access", {"access": "Allow"}, "Deny", "Allow"),
    ("allow-out-internet-udp", "protocol", {"protocol": "*"}, "Udp", "*"),
    ("allow-in-internet-tcp", "destination_ports", {"destinationPortRanges": ["25", "443", "22"]},
     "25, 443", "22, 25, 443"),
    ("allow-in-admin-pc-v4-tcp", "source_prefixes", {"sourceAddressPrefixes": ["10.40.99.0/24", "0.0.0.0/0"]},
     "10.40.99.0/24, 10.41.5.0/24", "0.0.0.0/0, 10.40.99.0/24"),
    ("allow-in-internal-mail-server-asg-tcp", "source_asgs",
     {"sourceApplicationSecurityGroups": [{"id": ROGUE}]}, EXCHANGE, ROGUE),
    ("allow-in-internet-tcp", "description", {"description": "opened by hand"},
     "sxcloud: R04 smtp-inbound, R11 webmail", "opened by hand"),
    ("allow-in-internet-tcp", "direction", {"direction": "Outbound"}, "Inbound", "Outbound"),
])
def test_each_changed_field_is_named(arm, synthesized, capsys, rule, field, change, intended, live):
    deploy(arm, synthesized, change=lambda body: rules(body)[rule].update(change))
    code, report = audit_json(arm, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert (finding["kind"], finding["rule"]) == ("changed", rule)
    assert finding["changes"] == [{"field": field, "intended": intended, "live": live}]


def test_human_report_names_each_finding(arm, synthesized, capsys):
    def drift_three_ways(body: dict[str, Any]) -> None:
        body["properties"]["securityRules"].append(PORTAL_RULE)
        rules(body)["allow-out-internet-udp"]["priority"] = 150
        body["properties"]["securityRules"] = [
            r for r in body["properties"]["securityRules"] if r["name"] != "deny-out-all"]
    deploy(arm, synthesized, change=drift_three_ways)
    code, out, err = audit(arm, capsys=capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("mail-azure-cluster-azure: network security group "
                               "nsg-mail-azure-cluster-appliance in resource group rg-mail")
    assert any(l.split()[:4] == ["unexpected", "portal-allow-rdp", "Inbound", "300"] for l in lines)
    assert any(l.split()[:5] == ["changed", "allow-out-internet-udp", "Outbound", "150", "priority"]
               and "150 (intended: 101)" in l for l in lines)
    assert any(l.split()[:4] == ["missing", "deny-out-all", "Outbound", "4096"] for l in lines)
    assert lines[-1].strip() == "drift: 1 missing, 1 unexpected, 1 changed"
    assert "reading network security group" in err


def test_human_report_without_drift(arm, synthesized, capsys):
    deploy(arm, synthesized)
    code, out, _ = audit(arm, capsys=capsys)
    assert code == 0
    assert out.splitlines()[-1].strip() == "no drift: its 11 rules are the 11 the file intends"


# --- notes: the NSG itself and its default rules ----------------------------------------------

def test_changed_default_rules_are_notes_not_drift(arm, synthesized, capsys):
    def change_defaults(body: dict[str, Any]) -> None:
        defaults = body["properties"]["defaultSecurityRules"]
        for rule in defaults:
            if rule["name"] == "AllowInternetOutBound":
                rule["properties"]["destinationAddressPrefix"] = "*"
        body["properties"]["defaultSecurityRules"] = [
            r for r in defaults if r["name"] != "DenyAllInBound"]
    deploy(arm, synthesized, change=change_defaults)
    code, report = audit_json(arm, capsys)
    assert code == 0 and report["findings"] == []
    assert len(report["notes"]) == 2
    assert any("AllowInternetOutBound" in n and "destination_prefixes * (documented: Internet)" in n
               for n in report["notes"])
    assert any("DenyAllInBound is missing" in n for n in report["notes"])


def test_nsg_notes_location_tags_and_state(arm, synthesized, capsys):
    def elsewhere(body: dict[str, Any]) -> None:
        body["location"] = "northeurope"
        body["tags"] = {}
        body["properties"]["provisioningState"] = "Updating"
    deploy(arm, synthesized, change=elsewhere)
    code, out, err = audit(arm, capsys=capsys)
    assert code == 0
    assert "the NSG is in northeurope, the file says azure.location westeurope" in err
    assert "lacks the tags sxcloud gives it (sxcloud-deployment=mail-azure-cluster" in err
    assert "provisioningState is Updating" in err


# --- errors: exit 2 with a clear message ------------------------------------------------------

def test_an_nsg_that_does_not_exist(arm, synthesized, capsys):
    arm.resource_groups.add((SUB, "rg-mail"))  # the group exists, the NSG does not
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out) == (2, "")
    assert "network security group nsg-mail-azure-cluster-appliance in resource group rg-mail" in err
    assert "does not exist (404 ResourceNotFound:" in err
    assert "Has the stack mail-azure-cluster-azure been applied" in err
    assert f"\nsxcloud: error: {CLUSTER}: azure: the network security group" in err


def test_a_resource_group_that_does_not_exist(arm, capsys):
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out) == (2, "")
    assert f"{CLUSTER}: azure.resource_group: resource group rg-mail does not exist" in err
    assert "404 ResourceGroupNotFound" in err


def test_401_names_the_permission(arm, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized)
    monkeypatch.setenv("SXCLOUD_AZURE_TOKEN", "not-the-token")
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out) == (2, "")
    assert "refused the token in SXCLOUD_AZURE_TOKEN (401 InvalidAuthenticationToken" in err
    assert NSG_READ in err


def test_403_names_the_permission(arm, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized)
    monkeypatch.setenv("SXCLOUD_AZURE_TOKEN", "token-without-read")
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out) == (2, "")
    assert "access denied (403 AuthorizationFailed" in err
    assert f"the identity needs {NSG_READ} on the network security group " \
           "nsg-mail-azure-cluster-appliance" in err


def test_the_endpoint_records_writes(arm, synthesized):
    """The guard that every test relies on is not vacuous: a write through the same SDK is
    refused and recorded. (The fixture's own check is then emptied.)"""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.network import NetworkManagementClient

    from sxcloud.azure.credentials import static_token

    body = deploy(arm, synthesized)
    with NetworkManagementClient(static_token(TOKEN), SUB, base_url=arm.url) as client:
        with pytest.raises(HttpResponseError):
            client.network_security_groups.begin_delete("rg-mail", body["name"]).result()
    assert [(w.method, w.path) for w in arm.writes] == [("DELETE", body["id"])]
    arm.writes.clear()


def test_tls_is_verified(arm, synthesized, capsys, monkeypatch):
    """Without the test CA in REQUESTS_CA_BUNDLE, the self-signed endpoint is refused."""
    deploy(arm, synthesized)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out) == (2, "")
    assert f"--arm-endpoint: cannot reach {arm.url}" in err and "CERTIFICATE_VERIFY_FAILED" in err
    assert arm.requests == []


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_an_expired_static_token_is_refused_before_any_request(arm, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized)
    monkeypatch.setenv("SXCLOUD_AZURE_TOKEN", jwt({"exp": int(time.time()) - 60}))
    code, _, err = audit(arm, capsys=capsys)
    assert code == 2 and "SXCLOUD_AZURE_TOKEN: the token expired at" in err
    assert arm.requests == []


@pytest.mark.parametrize("env, args, message", [
    ({}, [], "--subscription: is required"),
    ({"AZURE_SUBSCRIPTION_ID": "my-sub"}, [], "AZURE_SUBSCRIPTION_ID: 'my-sub' is not a subscription id"),
    ({}, ["--subscription", "sub-1"], "--subscription: 'sub-1' is not a subscription id"),
])
def test_subscription_errors(arm, capsys, monkeypatch, env, args, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(["audit", "azure", str(CLUSTER), "--arm-endpoint", arm.url, *args])
    assert code == 2 and message in capsys.readouterr().err
    assert arm.requests == []


def test_subscription_from_the_environment(arm, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUB)
    assert main(["audit", "azure", str(CLUSTER), "--arm-endpoint", arm.url]) == 0
    assert arm.requests[0].path.startswith(f"/subscriptions/{SUB}/")


@pytest.mark.parametrize("args, message", [
    (["--arm-endpoint", "http://127.0.0.1:1"], "--arm-endpoint: 'http://127.0.0.1:1' is not an https:// URL"),
    (["--arm-audience", "audience"], "--arm-audience: 'audience' is not an https:// URL"),
])
def test_endpoint_errors(arm, capsys, args, message):
    code = main(["audit", "azure", str(CLUSTER), "--subscription", SUB, *args])
    assert code == 2 and message in capsys.readouterr().err


def test_a_file_without_azure_section(arm, capsys):
    code, _, err = audit(arm, ROOT / "examples" / "aws-single.yaml", capsys=capsys)
    assert code == 2 and "aws-single.yaml: azure: is missing" in err


# --- DefaultAzureCredential -------------------------------------------------------------------

def clear_identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SXCLOUD_AZURE_TOKEN", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                "AZURE_FEDERATED_TOKEN_FILE", "AZURE_USERNAME", "IDENTITY_ENDPOINT",
                "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT",
                "IMDS_ENDPOINT", "AZURE_TOKEN_CREDENTIALS"):
        monkeypatch.delenv(key, raising=False)


def test_default_azure_credential_signs_in(arm, synthesized, capsys, monkeypatch):
    """Without SXCLOUD_AZURE_TOKEN, DefaultAzureCredential signs in (here through its managed
    identity step) for the audience of --arm-endpoint, and its token reaches ARM."""
    deploy(arm, synthesized)
    clear_identity_env(monkeypatch)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{arm.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", arm.identity_header)
    assert audit(arm, capsys=capsys)[0] == 0
    (token_request,) = arm.token_requests
    assert token_request.query["resource"] == [arm.url]
    assert arm.requests[0].authorization == f"Bearer {TOKEN}"


def test_arm_audience_sets_the_token_scope(arm, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized)
    clear_identity_env(monkeypatch)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{arm.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", arm.identity_header)
    audience = "https://management.contoso.onmicrosoft.com/81c5a9c0-0000-0000-0000-000000000001"
    assert audit(arm, CLUSTER, "--arm-audience", audience, capsys=capsys)[0] == 0
    assert arm.token_requests[0].query["resource"] == [audience]


def test_no_credential_at_all(arm, synthesized, capsys, monkeypatch, tmp_path):
    deploy(arm, synthesized)
    clear_identity_env(monkeypatch)
    monkeypatch.setenv("PATH", str(tmp_path))  # no az, azd or pwsh to fall back on
    monkeypatch.setenv("HOME", str(tmp_path))  # no shared token cache
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")  # skip the IMDS probe
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out) == (2, "")
    assert "DefaultAzureCredential could not get a token for " f"{arm.url}/.default" in err
    assert "set SXCLOUD_AZURE_TOKEN" in err
    assert arm.requests == []


# --- the token stays home: where a token may be sent ------------------------------------------
#
# A proxy stub (tests/http_stub.py) stands in front of every host but this machine, so a
# request to a refused endpoint would be recorded there; an empty log means none was sent.

def error_lines(err: str) -> list[str]:
    return [l for l in err.splitlines() if l.startswith("sxcloud: error:")]


def through_proxy(monkeypatch: pytest.MonkeyPatch, proxy: Stub) -> None:
    for key in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(key, proxy.url)
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)


def test_known_arm_hosts_are_the_sdks():
    """The hosts sxcloud trusts are those azure-mgmt-core names for the Azure clouds."""
    from urllib.parse import urlsplit

    from azure.core import AzureClouds
    from azure.mgmt.core.tools import get_arm_endpoints

    from sxcloud.azure.audit import ARM_AUDIENCE_HOSTS, ARM_HOSTS

    endpoints = [get_arm_endpoints(cloud) for cloud in AzureClouds]
    assert sorted(urlsplit(e["resource_manager"]).hostname for e in endpoints) == sorted(ARM_HOSTS)
    assert {urlsplit(s).hostname for e in endpoints for s in e["credential_scopes"]} <= \
        set(ARM_AUDIENCE_HOSTS)


def test_a_static_token_goes_only_to_a_known_cloud(arm, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized)
    with Stub() as proxy:
        through_proxy(monkeypatch, proxy)
        code = main(["audit", "azure", str(CLUSTER), "--subscription", SUB,
                     "--arm-endpoint", "https://management.example.net"])
        out, err = capsys.readouterr()
        assert (code, out, proxy.requests, arm.requests) == (2, "", [], [])
        (line,) = error_lines(err)
        assert line == ("sxcloud: error: command line: --arm-endpoint: management.example.net "
                        "is not the Resource Manager of a known Azure cloud (management.azure.com, "
                        "management.usgovcloudapi.net, management.chinacloudapi.cn) nor this "
                        "machine, and the static token in SXCLOUD_AZURE_TOKEN would be sent "
                        "there; pass --trust-arm-endpoint if that host is yours (Azure Stack Hub)")
        # With the flag the request does go out (into the proxy, which refuses it): so the
        # empty log above means something.
        code = main(["audit", "azure", str(CLUSTER), "--subscription", SUB,
                     "--arm-endpoint", "https://management.example.net", "--trust-arm-endpoint"])
        assert code == 2 and "CONNECT management.example.net:443" in proxy.requests
        # A known cloud's host is not refused (the request goes to it, here into the proxy).
        proxy.requests.clear()
        code = main(["audit", "azure", str(CLUSTER), "--subscription", SUB,
                     "--arm-endpoint", "https://management.usgovcloudapi.net"])
        assert code == 2 and proxy.requests == ["CONNECT management.usgovcloudapi.net:443"] * 3


def test_a_token_for_a_known_audience_is_not_sent_elsewhere(arm, capsys, monkeypatch):
    """DefaultAzureCredential, asked for a public-cloud ARM token (--arm-audience), would hand
    it to a foreign endpoint: refused before any token is even requested."""
    clear_identity_env(monkeypatch)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{arm.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", arm.identity_header)
    with Stub() as proxy:
        through_proxy(monkeypatch, proxy)
        code = main(["audit", "azure", str(CLUSTER), "--subscription", SUB, "--arm-endpoint",
                     "https://arm.example.net", "--arm-audience", "https://management.azure.com"])
        _, err = capsys.readouterr()
        assert (code, proxy.requests, arm.token_requests) == (2, [], [])
    (line,) = error_lines(err)
    assert "a token for management.azure.com (--arm-audience)" in line


# --- errors: exit 2, one line that names what failed, never the token --------------------------

@pytest.mark.parametrize("token, kind", [
    ("eyJhbGciOi.secret-part\nX-Injected: 1", "a line break or another control character"),
    ("eyJhbGciOi.secret-part\u00e9\u0394", "a character outside ASCII"),
    ("eyJhbGciOi.secret part", "a space"),
])
def test_a_token_with_characters_no_token_holds(arm, synthesized, capsys, monkeypatch, token, kind):
    deploy(arm, synthesized)
    monkeypatch.setenv("SXCLOUD_AZURE_TOKEN", token)
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out, arm.requests) == (2, "", [])
    (line,) = error_lines(err)
    assert line.startswith(f"sxcloud: error: SXCLOUD_AZURE_TOKEN: holds {kind}, which no")
    assert "secret" not in err


def test_a_token_echoed_by_the_endpoint_is_not_shown(arm, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized)
    arm.echo_token = True
    secret = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.not-accepted-here.c2lnbmF0dXJl"
    monkeypatch.setenv("SXCLOUD_AZURE_TOKEN", secret)
    code, out, err = audit(arm, capsys=capsys)
    assert (code, out) == (2, "")
    assert arm.requests[0].authorization == f"Bearer {secret}"  # the endpoint had it...
    (line,) = error_lines(err)
    assert "The access token '[credential removed]' is invalid" in line  # ...and echoed it
    assert secret not in err


@pytest.mark.parametrize("url, message", [
    ("https://[::1", "'https://[::1' is not a URL (Invalid IPv6 URL)"),
    ("https://management.azure.com:443x", "is not a URL (Port could not be cast"),
    ("https://127.0.0.1:99999", "is not a URL (Port out of range"),
    ("https://manage ment.azure.com", "has no valid host name or IP address"),
    ("https://management.azure.com/?api-version=1", "has a query or fragment"),
    ("https://x@management.azure.com", "holds a user name or password"),
])
def test_unusable_arm_urls(arm, capsys, url, message):
    code = main(["audit", "azure", str(CLUSTER), "--subscription", SUB, "--arm-endpoint", url])
    out, err = capsys.readouterr()
    assert (code, out, arm.requests) == (2, "", [])
    (line,) = error_lines(err)
    assert line.startswith("sxcloud: error: command line: --arm-endpoint: ") and message in line


def test_connection_refused(arm, capsys):
    with Stub() as closed:
        port = closed.url.rsplit(":", 1)[1]  # open a moment ago, closed now
    code = main(["audit", "azure", str(CLUSTER), "--subscription", SUB,
                 "--arm-endpoint", f"https://127.0.0.1:{port}"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    (line,) = error_lines(err)
    assert f"--arm-endpoint: cannot reach https://127.0.0.1:{port}:" in line


def test_an_endpoint_that_never_answers(arm, synthesized, capsys):
    from sxcloud.azure.audit import RETRIES

    deploy(arm, synthesized)
    arm.hang = True
    code, out, err = audit(arm, CLUSTER, "--timeout", "0.5", capsys=capsys)
    assert (code, out) == (2, "")
    (line,) = error_lines(err)
    assert f"--arm-endpoint: {arm.url} did not answer" in line
    assert len(arm.requests) == RETRIES + 1  # retried, but not forever


@pytest.mark.parametrize("status, body, message", [
    (200, b"<html>a captive portal", "is not the JSON ARM sends"),
    (500, b"\xff\xfe not even text", "is not the JSON ARM sends"),
])
def test_an_answer_arm_never_gives(arm, synthesized, capsys, status, body, message):
    deploy(arm, synthesized)
    arm.raw_answer = (status, body)
    code, out, err = audit(arm, CLUSTER, "--timeout", "2", capsys=capsys)
    assert (code, out) == (2, "")
    (line,) = error_lines(err)
    assert message in line and TOKEN not in err


@pytest.mark.parametrize("body", [b"[]", b'"nsg"', b'{"properties": 5}',
                                  b'{"properties": {"securityRules": "x"}}',
                                  b'{"properties": {"securityRules": [{"name": 5, "properties": []}]}}',
                                  b'{"properties": {"securityRules": [{"properties": {"priority": "high"}}]}}'])
def test_json_that_is_not_an_nsg(arm, synthesized, capsys, body):
    deploy(arm, synthesized)
    arm.raw_answer = (200, body)
    code, out, err = audit(arm, CLUSTER, capsys=capsys)
    assert (code, out) == (2, ""), err
    (line,) = error_lines(err)
    assert "azure: " in line and "Traceback" not in err
