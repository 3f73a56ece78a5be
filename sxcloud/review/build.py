"""Putting a review together: per stack, the firewall, its change, warnings and findings.

Two ways in:
- `from_files`: the head deployment files, and optionally a base version of them (other
  files, or the same paths at a git ref). The change is base -> head.
- `from_plans`: Terraform plans of the head's stacks. The change is what `apply` does
  (the plan's before -> after), and the plan's result is checked against the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..app import Planned, plan_all
from ..azure.limits import RULES_MAX
from ..config import Deployment
from ..errors import InputError
from ..verify.tfjson import AFTER, BEFORE
from . import attribution, findings, packets, settings, tfplan
from .diff import Change, compare
from .exceptions import ExceptionReview, intended
from .exceptions import review as exception_review
from .openings import Firewall, QuotaUse, aws_quota
from .paths import display_path
from .planactions import RULE_TYPES, ResourceAction, actions, other_rules
from .policyfile import NONE, Policy
from .settings import SettingChange
from .verification import VerifyResult, planned_document, planned_resources, results


@dataclass
class StackReview:
    stack: str
    cloud: str
    source: str  # where the head comes from: a file, or a plan file
    head: Firewall | None  # None: the change removes the stack
    base: Firewall | None  # None: new, or nothing to compare with
    change: Change | None  # None: no base was given
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # plan vs files; each one fails review
    verify: VerifyResult | None = None
    settings: list[SettingChange] | None = None  # None: no base to compare with
    current: list[tuple[str, str]] = field(default_factory=list)  # settings, without a base
    resources: list[ResourceAction] | None = None  # a plan's other resources (--plan only)
    exceptions: ExceptionReview | None = None  # the site exceptions (review.exceptions)

    @property
    def all_findings(self) -> list[str]:
        """Every finding of this stack: the plan against the files, settings, resources,
        site exceptions."""
        return (self.findings + [c.meaning for c in self.settings or () if c.finding]
                + [r.meaning for r in self.resources or () if r.finding]
                + (self.exceptions.findings if self.exceptions else []))

    @property
    def changed(self) -> bool:
        """Whether the change touches anything: openings, settings or other resources."""
        return bool((self.change is not None and not self.change.empty) or self.settings
                    or self.resources)


@dataclass
class Review:
    stacks: list[StackReview]
    compared_with: str | None  # "base files ...", "origin/main", "Terraform plan"
    plan_mode: bool = False
    notes: list[str] = field(default_factory=list)  # about the review as a whole

    @property
    def exit_code(self) -> int:
        """1 when there is a finding (the plan contradicts the files, a setting moves the
        stack's traffic or state) or verify failed; 0 otherwise."""
        bad = any(s.all_findings or (s.verify and s.verify.failed) for s in self.stacks)
        return 1 if bad else 0


def _stack_review(fw_head: Firewall | None, fw_base: Firewall | None, source: str,
                  deployment: Deployment | None, planned: Planned | None,
                  compared: bool) -> StackReview:
    shown = fw_head or fw_base
    assert shown is not None
    review = StackReview(shown.stack, shown.cloud, source, fw_head, fw_base,
                         compare(fw_base, fw_head) if compared else None)
    if not compared and deployment is not None:
        review.current = settings.current(deployment, shown.cloud)
    if fw_head is not None:
        review.warnings = findings.warnings(fw_head)
        review.notes = findings.notes(fw_head, deployment)
        if planned is not None:
            plan = planned.aws if shown.cloud == "aws" else planned.azure
            cloud_warnings = [w.removeprefix(f"{shown.cloud}: ") for w in plan.warnings]
            config_warnings = [w.split(": ", 1)[-1] for w in planned.deployment.warnings]
            review.notes += findings.other_warnings(config_warnings + cloud_warnings)
    return review


def _pairs(head: list[Planned], base: list[Planned],
           by_path: dict[Path, Deployment]) -> dict[int, Planned]:
    """The base version of each head deployment (by the index of the head's Planned): the
    version of its own file first (a rename is a rename, not a new stack and a removed one),
    then the base deployment of its name that no other file took."""
    of_deployment = {id(p.deployment): p for p in base}
    out: dict[int, Planned] = {}
    taken: set[int] = set()
    for index, p in enumerate(head):
        version = by_path.get(p.deployment.path)
        if version is not None and id(version) in of_deployment:
            out[index] = of_deployment[id(version)]
            taken.add(id(version))
    by_name = {p.deployment.name: p for p in base if id(p.deployment) not in taken}
    for index, p in enumerate(head):
        if index not in out and p.deployment.name in by_name:
            out[index] = by_name.pop(p.deployment.name)
            taken.add(id(out[index].deployment))
    return out


def from_files(head: list[Deployment], base: list[Deployment] | None = None,
               base_label: str | None = None, new_files: list[str] | None = None,
               synth_dir: Path | None = None, *, by_path: dict[Path, Deployment] | None = None,
               links: dict[Path, list[SettingChange]] | None = None,
               policy: Policy = NONE) -> Review:
    """Review the head files, against a base version of them when one is given: `by_path`
    holds the base version of a head file read from the same path, `links` the links a
    change adds or retargets on each head file's path, and `policy` what the base trusts."""
    head_planned = plan_all(head)
    base_planned = plan_all(base) if base is not None else []
    pairs = _pairs(head_planned, base_planned, by_path or {})
    # the head's resource blocks as verify reads them: for verify and the change in packets
    documents = {f"{p.deployment.name}-{cloud}": planned_document(p, cloud)
                 for p in head_planned for cloud in p.deployment.targets}
    verified = results(head_planned, synth_dir, documents=documents)
    stacks = []
    seen: set[tuple[int, str]] = set()  # (id of the base deployment, cloud) compared
    for index, p in enumerate(head_planned):
        paired = pairs.get(index)
        base_firewalls = {fw.cloud: fw for fw in intended(paired)} if paired else {}
        for fw in intended(p):
            fw_base = base_firewalls.get(fw.cloud)
            d_base = paired.deployment if paired and fw_base else None
            if d_base is not None:
                seen.add((id(d_base), fw.cloud))
            review = _stack_review(fw, fw_base, display_path(p.deployment.path),
                                   p.deployment, p, base is not None)
            if review.change is not None and paired is not None and fw_base is not None:
                review.change = replace(review.change, packets=packets.between(
                    fw.cloud, (paired.deployment, planned_document(paired, fw.cloud)),
                    (p.deployment, documents[fw.stack])))
            if base is not None:
                review.settings = ((links or {}).get(p.deployment.path, [])
                                   + settings.compare(d_base, p.deployment, fw.cloud, policy))
            review.exceptions = exception_review(p.deployment, d_base, fw.cloud, fw, fw_base,
                                                 base is not None)
            review.verify = verified.get(fw.stack)
            stacks.append(review)
    for bp in base_planned:
        for fw in intended(bp):
            if (id(bp.deployment), fw.cloud) not in seen:  # the change drops this stack
                review = _stack_review(None, fw, display_path(bp.deployment.path), None, None,
                                       True)
                review.settings = settings.compare(bp.deployment, None, fw.cloud, policy)
                review.exceptions = exception_review(None, bp.deployment, fw.cloud, None, fw,
                                                     True)
                stacks.append(review)
    label = base_label
    if label and new_files:
        label += f" (new files: {', '.join(display_path(f) for f in new_files)})"
    return Review(stacks, label)


def _firewall(ps: tfplan.PlannedStack, state: tfplan.State, stack: str, name: str,
              intent: Firewall | None, aws_limit: int) -> Firewall | None:
    if not state.present:
        return None
    openings = attribution.attribute(state.openings, intent)
    if ps.cloud == "aws":
        quota = aws_quota(state.counted, aws_limit)
    else:
        quota = (QuotaUse("rules", state.rule_count, RULES_MAX),)
    label = intent.label if intent else f"{ps.cloud} firewall of {name}"
    return Firewall(stack, ps.cloud, name, label, openings, state.rule_count, quota,
                    tuple(state.guards), tuple(state.notes))


def _match(ps: tfplan.PlannedStack, planned: list[Planned]) -> Planned:
    """The deployment a plan's firewall belongs to: by its tag, else the only candidate."""
    with_cloud = [p for p in planned if getattr(p, ps.cloud) is not None]
    if ps.deployment is not None:
        for p in with_cloud:
            if p.deployment.name == ps.deployment:
                return p
        raise InputError.one(ps.path, "", f"is a plan of deployment '{ps.deployment}' "
                             f"({ps.cloud}), which none of the deployment files has")
    if len(with_cloud) == 1:
        return with_cloud[0]
    raise InputError.one(ps.path, "", f"does not say which deployment it is for (its {ps.cloud} "
                         "firewall has no sxcloud tag); review it with only that file")


def from_plans(head: list[Deployment], plan_paths: list[Path],
               synth_dir: Path | None = None, policy: Policy = NONE) -> Review:
    """Review Terraform plans of the head's stacks, and check them against the files."""
    head_planned = plan_all(head)
    stacks = []
    seen: dict[str, Path] = {}
    for path in plan_paths:
        for ps in tfplan.load(path):
            p = _match(ps, head_planned)
            name = p.deployment.name
            stack = f"{name}-{ps.cloud}"
            if stack in seen:
                raise InputError.one(path, "", f"is a second plan of stack {stack} "
                                     f"(the first is {display_path(seen[stack])})")
            seen[stack] = path
            intent = next(fw for fw in intended(p) if fw.cloud == ps.cloud)
            limit = p.deployment.aws.rule_quota if p.deployment.aws else 60
            before = _firewall(ps, ps.before, stack, name, intent, limit)
            after = _firewall(ps, ps.after, stack, name, intent, limit)
            review = _stack_review(after, before, display_path(path), p.deployment, p, True)
            if after is None and before is None:
                review = _stack_review(intent, None, display_path(path), p.deployment, p, True)
                review.change = Change()
            elif review.change is not None and before is not None and after is not None:
                review.change = replace(review.change, packets=packets.between(
                    ps.cloud, (p.deployment, ps.documents[BEFORE]),
                    (p.deployment, ps.documents[AFTER])))
            review.findings = attribution.mismatches(after, intent)
            review.exceptions = exception_review(p.deployment, None, ps.cloud, after, before,
                                                 False)
            mine = {f"{rtype}.{name}" for rtype, named in planned_resources(p, ps.cloud).items()
                    if rtype not in RULE_TYPES for name in named}
            review.resources, missing = actions(ps.changes, mine, ps.appliances)
            review.resources += other_rules(ps.others, policy)
            if after is not None:
                review.findings += missing
            if ps.drift:
                review.notes.append("Terraform found these changed outside Terraform since the "
                                    "last apply (the plan puts them back): "
                                    + ", ".join(ps.drift))
            review.notes.append(f"Read from the Terraform {ps.terraform_version} plan "
                                f"{display_path(path)}: before is the current state, after is "
                                "the state after apply.")
            stacks.append(review)
    # verify reads the same plans (what each stack will be after apply); a plan is checked
    # by the loop above first, whose messages about a bad plan are the more specific.
    verified = results(head_planned, synth_dir, plan_paths)
    for review in stacks:
        review.verify = verified.get(review.stack)
    missing = [fw.stack for p in head_planned for fw in intended(p) if fw.stack not in seen]
    notes = [f"No plan was given for {', '.join(missing)}; not reviewed."] if missing else []
    return Review(stacks, "Terraform plan", plan_mode=True, notes=notes)
