"""Deployments for the sxcloud-rules module's equivalence proof, and Terraform to evaluate them.

Every scenario is a deployment document (what `yamldecode(file(...))` gives the module); one
Terraform root calls the module with `for_each` over all of them, so one `terraform plan`
evaluates thousands of deployments. The root gives the module the tests' "today"
(SXCLOUD_TODAY, which conftest fixes), so that expiry warnings and limits are reproducible. The expected values come from sxcloud itself: the CDK
stacks' `resource` blocks for the examples (tests/conftest.py synthesizes them), and the same
attribute functions the constructs use (aws/attributes.py, azure/attributes.py) for the rest.
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import os
import queue
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import sweep
from conftest import ROOT
from sxcloud import config, exceptions
from sxcloud.aws import attributes as aws_attributes
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import attributes as azure_attributes
from sxcloud.azure import plan as azure_plan

MODULE = ROOT / "modules" / "sxcloud-rules"

Document = dict[str, Any]


def root(workdir: Path, scenarios: dict[str, Document]) -> Path:
    """A Terraform root that calls the module once per scenario (scenarios.json beside it),
    with sxcloud's "today" (SXCLOUD_TODAY) as the module's `today`."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "scenarios.json").write_text(json.dumps(scenarios))
    source = os.path.relpath(MODULE, workdir)  # a relative source, as users write it
    (workdir / "main.tf").write_text(f"""
module "rules" {{
  for_each   = jsondecode(file("${{path.module}}/scenarios.json"))
  source     = "{source}"
  deployment = each.value
  today      = "{exceptions.today()}"
}}

output "results" {{
  value = {{
    for k, m in module.rules : k => {{
      aws = m.aws_resources, azure = m.azure_resources, usage = m.aws_usage, warnings = m.warnings
    }}
  }}
}}
""")
    return workdir


def terraform(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The terraform binary in `workdir`, without colour or prompts."""
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    return subprocess.run(["terraform", *args, "-no-color"], cwd=workdir, env=env,
                          capture_output=True, text=True)


def plan_outputs(workdir: Path) -> dict[str, Any]:
    """`terraform plan` of the root, and the planned value of its `results` output."""
    for args in (("init", "-backend=false"), ("plan", "-out=tfplan", "-json")):
        result = terraform(workdir, *args)
        assert result.returncode == 0, f"terraform {args[0]} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
    shown = terraform(workdir, "show", "-json", "tfplan")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["planned_values"]["outputs"]["results"]["value"]


def expected(d: config.Deployment, cloud: str) -> dict[str, Any]:
    """The cloud's `resource` block as sxcloud's attribute functions build it."""
    if cloud == "aws":
        return aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)
    return azure_attributes.resources(
        azure_plan.plan(d), location=d.azure.location, resource_group=d.azure.resource_group,
        subnet_ids=d.azure.subnet_ids, network_interface_ids=d.azure.network_interface_ids)


def expected_usage(d: config.Deployment) -> dict[str, Any] | None:
    if d.aws is None:
        return None
    plan = aws_plan.plan(d)
    out: dict[str, Any] = {"quota": plan.quota}
    for (direction, family), count in plan.usage().items():
        out.setdefault(direction, {})[family] = count
    return out


def expected_warnings(d: config.Deployment) -> list[str]:
    """The loader's warnings without the file name, and the planners' (sorted: the module
    lists bindings in key order, the loader in file order)."""
    out = [w.removeprefix(f"{d.path}: ") for w in d.warnings]
    out += [w.removeprefix(f"{d.path}: ") for w in exceptions.expiry_warnings(d)]
    if d.aws:
        out += aws_plan.plan(d).warnings
    if d.azure:
        out += azure_plan.plan(d).warnings
    return sorted(out)


def values(block: Any) -> Any:
    """A `resource` block as Terraform reads its JSON: `$${` and `%%{` (how synthesis writes a
    literal `${` or `%{` from the file, sxcloud/literal.py) are the text `${` and `%{`, which is
    what the module outputs."""
    if isinstance(block, dict):
        return {k: values(v) for k, v in block.items()}
    if isinstance(block, list):
        return [values(v) for v in block]
    if isinstance(block, str):
        return block.replace("$${", "${").replace("%%{", "%{")
    return block


def differences(outputs: dict[str, Any], documents: dict[str, Document]) -> list[str]:
    """The scenarios (and which of their outputs) that differ from what sxcloud computes:
    `outputs` is the `results` output of a root() plan over `documents`."""
    out = []
    for name, document in documents.items():
        d = config.parse(copy.deepcopy(document), Path(f"{name}.yaml"))
        got = outputs[name]
        for cloud in ("aws", "azure"):
            if got[cloud] != (values(expected(d, cloud)) if cloud in d.targets else None):
                out.append(f"{name}: {cloud}")
        if got["usage"] != expected_usage(d):
            out.append(f"{name}: usage")
        if sorted(got["warnings"]) != expected_warnings(d):
            out.append(f"{name}: warnings")
    return out


def sweep_in_chunks(chunk: int, parallel: int = 1,
                    progress: Callable[[str], None] | None = None) -> tuple[int, list[str]]:
    """Plan all 4,096 combinations of the sweep in chunks of `chunk` deployments (one plan of
    them all does not fit this machine's memory), `parallel` plans at a time, and compare
    each chunk's outputs with sxcloud's while the next ones plan. Returns the number of
    combinations compared and the differences (see differences())."""
    docs = sweep_documents()
    names = sorted(docs)
    chunks = [names[i:i + chunk] for i in range(0, len(names), chunk)]
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        # One root per worker, initialised once; each chunk rewrites its scenarios.json.
        free: queue.SimpleQueue[Path] = queue.SimpleQueue()
        for w in range(parallel):
            workdir = root(Path(tmp) / str(w), {})
            init = terraform(workdir, "init", "-backend=false")
            assert init.returncode == 0, init.stdout + init.stderr
            free.put(workdir)

        def plan(part: list[str]) -> tuple[list[str], dict[str, Any]]:
            workdir = free.get()
            try:
                root(workdir, {k: docs[k] for k in part})
                return part, plan_outputs(workdir)
            finally:
                free.put(workdir)

        compared, different = 0, []
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            for future in concurrent.futures.as_completed([pool.submit(plan, c) for c in chunks]):
                part, outputs = future.result()
                different += differences(outputs, {k: docs[k] for k in part})
                compared += len(part)
                if progress:
                    progress(f"  {compared}/{len(names)} compared, {len(different)} differences, "
                             f"{time.monotonic() - start:.0f} s")
    return compared, different


def sweep_documents() -> dict[str, Document]:
    """The 4,096 option combinations of tests/sweep.py, as deployment documents with the
    sweep's site exceptions."""
    return {f"sweep-{i:04d}": sweep.as_document(options, "sweep", exceptions=True)
            for i, options in enumerate(sweep.combinations())}


def _asg(name: str) -> str:
    return ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-var/"
            f"providers/Microsoft.Network/applicationSecurityGroups/{name}")


def variants() -> dict[str, Document]:
    """Bindings, IPv6 and many-CIDR deployments beyond the examples and the sweep."""
    base = copy.deepcopy(sweep.BASE)
    out: dict[str, Document] = {}

    bound = copy.deepcopy(base)
    bound["name"] = "bound"
    bound["appliance"] = {"cluster": True, "dns": "internal", "features": {"admin_http": True}}
    bound["aws"]["bindings"] = {
        "internal_network": {"security_group_ids": ["sg-0123456789abcdef0"]},
        "internal_mail_server": {"security_group_ids": ["sg-11111111", "sg-22222222"],
                                 "prefix_list_ids": ["pl-33333333"]},
        "internal_nameserver": {"prefix_list_ids": ["pl-0123456789abcdef0", "pl-44444444"]},
        "admin_pc": {"security_group_ids": ["sg-55555555"]},
    }
    bound["azure"]["bindings"] = {
        "internal_mail_server": {"application_security_group_ids": [_asg(f"asg-mail-{i}") for i in range(10)]},
        "internal_nameserver": {"application_security_group_ids": [_asg("asg.dns_1")]},
        "admin_pc": {"application_security_group_ids": [_asg("asg-admins")]},
    }
    net = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{rg}/providers/Microsoft.Network/"
    bound["azure"]["associate"] = {
        "subnet_ids": [net.format(rg="rg-a") + "virtualNetworks/vnet/subnets/snet-dmz",
                       net.format(rg="rg-b") + "virtualNetworks/vnet/subnets/snet-dmz"],
        "network_interface_ids": [net.format(rg="rg-a") + "networkInterfaces/nic.mail_1",
                                  net.format(rg="RG-A") + "networkInterfaces/NIC-mail-2"],
    }
    out["bound"] = bound

    v6 = copy.deepcopy(base)
    v6["name"] = "ipv6-only"
    v6["appliance"] = {"ipv6": True, "dns": "external", "internal_firewall": False,
                       "features": {"admin_http": True, "vspp_dcc": True, "sms": True}}
    v6["roles"] = {
        "internal_network": ["FD00:70:0::/48", "2001:db8:0:0::/64"],
        "internal_mail_server": ["fd00:70::25/128", " fd00:70:0:0:0:0:0:26/128 "],
        "external_nameserver": ["2620:fe::fe/128", "2620:FE::9/128"],
        "admin_pc": ["fd00:70:99::/64", "fd00:71::/64"],  # the second lies outside: a warning
        "internal_nameserver": ["fd00:70::53/128"],  # not used with dns: external: a warning
    }
    v6["aws"]["bindings"] = {}
    v6["azure"]["bindings"] = {"internal_network": {"application_security_group_ids": [_asg("asg-net")]}}
    out["ipv6-only"] = v6

    many = copy.deepcopy(base)
    many["name"] = "many-cidrs"
    many["appliance"] = {"ipv6": True, "features": {"admin_http": True}}
    many["roles"]["admin_pc"] = ([f"10.{100 + i // 250}.{i % 250}.0/24" for i in range(300)]
                                 + [f"fd00:99:{i:x}::/64" for i in range(120)])
    many["roles"]["internal_mail_server"] = [f"10.60.1.{i}/32" for i in range(1, 41)]
    many["aws"] = {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0", "rule_quota": 1000}
    many["azure"]["bindings"] = {}
    out["many-cidrs"] = many

    minimal = {"version": 1, "name": "minimal",
               "roles": {"internal_network": ["10.1.0.0/16"], "internal_mail_server": ["10.1.0.25/32"],
                         "external_nameserver": ["9.9.9.9/32"], "admin_pc": ["10.1.99.0/24"]},
               "aws": {"region": "eu-west-1", "vpc_id": "vpc-01234567"},
               "azure": {"location": "westeurope", "resource_group": "rg-minimal"}}
    out["minimal"] = minimal
    return out
