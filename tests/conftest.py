"""Shared fixtures. Synthesis starts jsii (~0.6 s), so every stack the tests need is
synthesized once per session, in one CDK app: the examples, the built-in example, variants
of each example with one option toggled (for the construct-id stability tests), and, for
an example with site exceptions, variants with one exception inserted, removed or edited."""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers (terraform.py)

from moto_server import aws_environment, moto_server  # noqa: E402,F401  (session fixtures)
from sxcloud import catalog, config  # noqa: E402
from sxcloud.app import plan_all, synth  # noqa: E402

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + [config.builtin_example()]
#: The example with site exceptions (one of EXAMPLES), for the tests of exceptions.
EXCEPTIONS_EXAMPLE = ROOT / "examples" / "exceptions-both.yaml"

#: "Today" for the whole session (and the commands it runs), so that the examples' expiry
#: dates give the same warnings on every day; tests of other days set their own.
TODAY = "2026-12-01"
os.environ["SXCLOUD_TODAY"] = TODAY

#: An exception inserted in the middle of an example's list (`exception_variants`): nothing
#: else in the stacks may change.
INSERTED_EXCEPTION = {
    "id": "inserted", "direction": "inbound", "protocol": "tcp", "ports": [9100, "9200-9210"],
    "peer": {"cidrs": ["10.0.55.0/24", "fd00:55::/64"]}, "reason": "Inserted in the middle",
    "owner": "test-team", "ticket": "T-1", "expires": "2027-01-31",
}


# --- tiers ----------------------------------------------------------------------------------
# The README's test command runs the everyday tier; `--exhaustive` (which .ci/run passes) adds
# the tests marked `exhaustive`: the whole 4,096-combination module sweep and the long moto
# runs. They are deselected, not skipped, so a run never reports them as passed or missing.

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--exhaustive", action="store_true",
                     help="also run the exhaustive tier (tests marked exhaustive); CI passes it")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--exhaustive"):
        return
    exhaustive = [item for item in items if item.get_closest_marker("exhaustive")]
    if exhaustive:
        config.hook.pytest_deselected(items=exhaustive)
        items[:] = [item for item in items if not item.get_closest_marker("exhaustive")]


def example_data(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def deployment(data: dict[str, Any], path: Path | str = "test.yaml") -> config.Deployment:
    return config.parse(copy.deepcopy(data), Path(path))


def edited(data: dict[str, Any], **edits: Any) -> dict[str, Any]:
    """A copy of `data` with edits, keys written as `aws__endpoints` (None removes a key)."""
    out = copy.deepcopy(data)
    for dotted, value in edits.items():
        *parents, last = dotted.split("__")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def toggles(data: dict[str, Any]) -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    """Options that can be flipped in an example without making it invalid."""
    appliance = data.get("appliance", {})
    features = appliance.get("features", {})
    schema_features = config.schema()["properties"]["appliance"]["properties"]["features"]["properties"]
    out = []
    for feature in catalog.FEATURES:
        on = features.get(feature, schema_features[feature]["default"])
        if feature.startswith("admin") and not on and not _has_role(data, "admin_pc"):
            continue
        out.append((f"features.{feature}", _setter(("appliance", "features", feature), not on)))
    out.append(("cluster", _setter(("appliance", "cluster"), not appliance.get("cluster", False))))
    out.append(("ipv6", _setter(("appliance", "ipv6"), not appliance.get("ipv6", False))))
    return out


def _has_role(data: dict[str, Any], role: str) -> bool:
    return bool(data["roles"].get(role)) or any(
        role in data.get(cloud, {}).get("bindings", {}) for cloud in ("aws", "azure"))


def _setter(keys: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return apply


@dataclass(frozen=True)
class Variant:
    base: str  # deployment name of the example
    name: str  # deployment name of the variant
    option: str  # what was toggled


def exception_variants(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Variants of an example with exceptions, by what was done: one exception inserted in the
    middle of the list, the first one removed, and the second one edited (another port)."""
    items = data["exceptions"]
    middle = len(items) // 2
    edited_one = copy.deepcopy(items[1])
    edited_one["ports"] = [*edited_one.get("ports", []), 7777]
    return {
        "inserted": {**data, "exceptions": [*items[:middle], INSERTED_EXCEPTION, *items[middle:]]},
        "removed": {**data, "exceptions": items[1:]},
        "edited": {**data, "exceptions": [items[0], edited_one, *items[2:]]},
    }


@dataclass
class Synthesized:
    out: Path
    variants: list[Variant]  # one option toggled
    changes: list[Variant]  # one exception inserted, removed or edited (option: the change)

    def stack(self, name: str) -> dict[str, Any]:
        return json.loads((self.out / "stacks" / name / "cdk.tf.json").read_text())

    def stack_dir(self, name: str) -> Path:
        return self.out / "stacks" / name


def changed_exceptions(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An example's exception variants (`exception_variants`) by change, each named
    `<name>-<change>`; none for an example without exceptions."""
    if not data.get("exceptions"):
        return {}
    return {change: {**changed, "name": f"{data['name']}-{change}"}
            for change, changed in exception_variants(data).items()}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    deployments, variants, changes = [], [], []
    for path in EXAMPLES:
        data = example_data(path)
        deployments.append(deployment(data, path))
        for index, (option, apply) in enumerate(toggles(data)):
            changed = copy.deepcopy(data)
            apply(changed)
            changed["name"] = f"{data['name']}-t{index}"
            deployments.append(deployment(changed, path))
            variants.append(Variant(data["name"], changed["name"], option))
        for change, changed in changed_exceptions(data).items():
            deployments.append(deployment(changed, path))
            changes.append(Variant(data["name"], changed["name"], change))
    out = tmp_path_factory.mktemp("synth") / "cdktf.out"
    synth(plan_all(deployments), out)
    return Synthesized(out, variants, changes)
