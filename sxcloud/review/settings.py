"""What else decides where a stack's traffic and state go: the settings beside the openings.

The openings say what a firewall lets through. These settings say which network it guards
(`aws.vpc_id`, `azure.associate.*`), where it is built (region, location, resource group),
which host the provider sends its signed requests to (`aws.endpoints`), and where Terraform
keeps the state (the backend). A change to one of them can hand a stack to someone else
without touching a rule, so the review compares them too and says what each change means.

Findings (the review fails): an endpoint added or changed, a backend changed, an
association removed. The other changes are shown, not failed: a reviewer reads them.

The loader refuses credentials in a deployment file (settings that name one, and URLs with
`user:password@`), so no secret reaches a Deployment and the report shows values as they are,
cut to SHOWN_MAX characters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..config import AwsTarget, AzureTarget, Backend, Deployment
from . import hosts
from .policyfile import NONE, PATH as POLICY_PATH, Policy

SHOWN_MAX = 300  # characters of a value the report shows (an ARM id fits)

SUBNETS = "azure.associate.subnet_ids"
NICS = "azure.associate.network_interface_ids"
_LISTS = (SUBNETS, NICS)
ADOPT_GROUP = "aws.adopt.group_id"
ADOPT_RULES = "aws.adopt.rules"  # compared as sets: each id added or removed
ADOPT_NSG = "azure.adopt.network_security_group_id"
ADOPT_ASG = "azure.adopt.application_security_group_id"
ADOPT_NSG_RULES = "azure.adopt.rules"


@dataclass(frozen=True)
class Setting:
    key: str  # e.g. "aws.endpoints.sts", "aws.backend", "aws.backend.bucket"
    value: object = field(repr=False)  # compared in full, never shown as it is

    @property
    def shown(self) -> str:
        return show(self.value)


@dataclass(frozen=True)
class SettingChange:
    key: str
    before: str | None  # the value as shown; None: not set
    after: str | None
    meaning: str  # what the change means, in a sentence
    finding: bool  # the review fails on it


def show(value: object) -> str:
    """A value as the report shows it, cut to SHOWN_MAX characters."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def _backend(prefix: str, backend: Backend) -> list[Setting]:
    return [Setting(f"{prefix}.backend", backend.type)] + [
        Setting(f"{prefix}.backend.{name}", value)
        for name, value in sorted(backend.settings.items(), key=lambda kv: str(kv[0]))]


def of(deployment: Deployment | None, cloud: str) -> list[Setting]:
    """The settings of one stack, in the order the report lists them."""
    if deployment is None:
        return []
    if cloud == "aws" and deployment.aws is not None:
        aws = deployment.aws
        return ([Setting("aws.region", aws.region), Setting("aws.vpc_id", aws.vpc_id)]
                + _adoption(aws)
                + [Setting(f"aws.endpoints.{service}", url)
                   for service, url in sorted(aws.endpoints.items())]
                + _backend("aws", aws.backend))
    if cloud == "azure" and deployment.azure is not None:
        azure = deployment.azure
        return ([Setting("azure.location", azure.location),
                 Setting("azure.resource_group", azure.resource_group)]
                + [Setting(SUBNETS, s) for s in azure.subnet_ids]
                + [Setting(NICS, n) for n in azure.network_interface_ids]
                + _azure_adoption(azure)
                + _backend("azure", azure.backend))
    return []


def _azure_adoption(azure: AzureTarget) -> list[Setting]:
    """`azure.adopt`: the hand-made NSG (its name is kept) and ASG the stack takes over, and
    how many live rules it imports (each by its name, kept as the rule's)."""
    if azure.adopt is None:
        return []
    adopt = azure.adopt
    nsg, asg = adopt.network_security_group, adopt.application_security_group
    return ([Setting(ADOPT_NSG, nsg.id)] + ([Setting(ADOPT_ASG, asg.id)] if asg else [])
            + [Setting(ADOPT_NSG_RULES, len(adopt.rules))])


def _adoption(aws: AwsTarget) -> list[Setting]:
    """`aws.adopt`: the hand-made group the stack takes over, its kept name and description,
    and how many live rules it imports (the rules themselves are in the plan's imports)."""
    if aws.adopt is None:
        return []
    adopt = aws.adopt
    return [Setting(ADOPT_GROUP, adopt.group_id), Setting("aws.adopt.name", adopt.name),
            Setting("aws.adopt.description", adopt.description),
            Setting(ADOPT_RULES, len(adopt.rules))]


def _kind(settings: list[Setting], prefix: str) -> str:
    """The backend type among a stack's settings."""
    return next((str(s.value) for s in settings if s.key == f"{prefix}.backend"), "?")


def _where(settings: list[Setting], prefix: str) -> str:
    """A backend as a reader needs it: its type and its settings."""
    kind = next((s.value for s in settings if s.key == f"{prefix}.backend"), None)
    if kind is None:
        return "no backend"
    shown = [f"{s.key.rsplit('.', 1)[-1]}={s.shown}" for s in settings
             if s.key.startswith(f"{prefix}.backend.")]
    return f"the {kind} backend" + (f" ({', '.join(shown)})" if shown else "")


def compare(base: Deployment | None, head: Deployment | None, cloud: str,
            policy: Policy = NONE) -> list[SettingChange]:
    """What changes from `base` to `head` in one stack's settings; a missing side is a stack
    the change adds (base None) or removes (head None). `policy` says which hosts, besides
    the clouds' own, may receive state, credentials or tokens."""
    before, after = of(base, cloud), of(head, cloud)
    new_stack, removed_stack = base is None, head is None
    kinds = [[s.value for s in side if s.key == f"{cloud}.backend"] for side in (before, after)]
    moved = kinds[0] != kinds[1]  # a new backend type: its settings are part of that one change
    out = []
    if base is not None and head is not None and base.name != head.name:
        out.append(SettingChange("name", base.name, head.name, RENAMED.format(
            old=f"{base.name}-{cloud}", new=f"{head.name}-{cloud}"), False))
    for key in dict.fromkeys(s.key for s in after + before):
        old = [s for s in before if s.key == key]
        new = [s for s in after if s.key == key]
        if key in _LISTS:
            kept = {s.value for s in old} & {s.value for s in new}
            out += [_change(key, s, None, before, after, cloud, new_stack, moved, policy)
                    for s in old if s.value not in kept]
            out += [_change(key, None, s, before, after, cloud, new_stack, moved, policy)
                    for s in new if s.value not in kept]
        elif [s.value for s in old] != [s.value for s in new] and not removed_stack:
            out.append(_change(key, old[0] if old else None, new[0] if new else None,
                               before, after, cloud, new_stack, moved, policy))
    if new_stack and head is not None:  # a new stack's backend hosts: each trusted, or a finding
        for h in _backend_hosts(head, cloud):
            same = [i for i, c in enumerate(out) if c.key == h.key]
            if same:
                out[same[0]] = _host_change(h, policy)
            else:
                out.append(_host_change(h, policy))
    return out


RENAMED = ("The deployment is renamed: this stack was {old}, and is now {new}. Its group or "
           "NSG gets new names (Terraform replaces it); the state stays where the backend "
           "below says.")


def _backend_hosts(deployment: Deployment, cloud: str) -> list[hosts.HostSetting]:
    target = deployment.aws if cloud == "aws" else deployment.azure
    if target is None:
        return []
    return hosts.of_backend(cloud, target.backend.type, target.backend.settings)


def trusted(value: str, policy: Policy) -> str | None:
    """Why the host of `value` is trusted (the clouds' own, or the policy file's entry),
    or None."""
    if hosts.cloud_host(value):
        return "one of the clouds' own service hosts"
    entry = policy.host(hosts.host_of(value))
    return f"trusted by {policy.source}: {entry.reason}" if entry else None


def _untrusted(host: str, policy: Policy) -> str:
    where = f"nor listed in {policy.source}" if policy.source else (
        f"nor trusted by a review policy file ({POLICY_PATH}) at the base (none was read)")
    return f"{host} is neither one of the clouds' own service hosts {where}"


def _host_change(h: hosts.HostSetting, policy: Policy) -> SettingChange:
    why = trusted(h.value, policy)
    sends = f"Terraform sends {h.receives} to {h.host}"
    if why:
        return SettingChange(h.key, None, show(h.value), f"{sends} ({why}).", False)
    return SettingChange(h.key, None, show(h.value),
                         f"{sends}; {_untrusted(h.host, policy)}.", True)


def _change(key: str, old: Setting | None, new: Setting | None, before: list[Setting],
            after: list[Setting], cloud: str, new_stack: bool, moved: bool,
            policy: Policy = NONE) -> SettingChange:
    meaning, finding = _meaning(key, old, new, before, after, cloud, new_stack, moved, policy)
    return SettingChange(key, old.shown if old else None, new.shown if new else None,
                         meaning, finding)


@dataclass(frozen=True)
class _Says:
    """What a change of one setting means: set for the first time (`added`), set to another
    value (`changed`; as `added` when empty), or removed; `{new}`, `{old}`, `{was}` are filled."""

    added: str
    changed: str = ""
    removed: str = ""
    removal_is_finding: bool = False


def _moves(what: str) -> _Says:
    return _Says(f"The NSG and ASG are built in {what} {{new}}.",
                 f"The NSG and ASG move to {what} {{new}}{{was}}: Terraform replaces them.")


def _guards(noun: str, joins: str, leaves: str) -> _Says:
    return _Says(f"The NSG guards {noun} {{new}}{joins}.", removal_is_finding=True,
                 removed=f"The NSG no longer guards {noun} {{old}}{leaves}.")


_SAYS = {
    "aws.region": _Says("The stack is built in region {new}{was}."),
    "aws.vpc_id": _Says("The security group is built in VPC {new}.",
                        "The security group moves to VPC {new}: Terraform replaces it, and "
                        "what uses it in {old} loses it."),
    "azure.location": _moves("location"),
    "azure.resource_group": _moves("resource group"),
    SUBNETS: _guards("subnet", ": every machine in it gets the appliances' rules",
                     ": traffic of the machines in it is no longer filtered by these rules"),
    NICS: _guards("network interface", " and it joins the appliances' ASG: every rule of the "
                  "appliances applies to it", ", and it leaves the appliances' ASG: the rules "
                  "no longer apply to it"),
}


def _meaning(key: str, old: Setting | None, new: Setting | None, before: list[Setting],
             after: list[Setting], cloud: str, new_stack: bool,
             moved: bool = False, policy: Policy = NONE) -> tuple[str, bool]:
    """The sentence for one change, and whether it is a finding."""
    if key.startswith("aws.endpoints."):
        service = key.rsplit(".", 1)[-1]
        if new is None:
            return f"The provider sends its {service} requests to AWS's own endpoint again.", False
        sends = (f"The provider now sends its {service} requests, signed with the deploy job's "
                 f"AWS credentials, to {new.shown}" + (f" (was {old.shown})" if old else ""))
        why = trusted(str(new.value), policy)
        if why:
            return f"{sends}: {why}.", False
        return f"{sends}; {_untrusted(hosts.host_of(str(new.value)), policy)}.", True
    if key == f"{cloud}.backend" or key.startswith(f"{cloud}.backend."):
        where = _where(after, cloud)
        if new_stack:
            return f"The state of this new stack goes to {where}.", False
        if moved and key != f"{cloud}.backend":
            return f"Part of the move to the {_kind(after, cloud)} backend (above).", False
        return f"The state now goes to {where}, not {_where(before, cloud)}.", True
    was = f" (was {old.shown})" if old else ""
    if key.startswith("aws.adopt."):
        return _adoption_meaning(key, old, new, was)
    if key.startswith("azure.adopt."):
        return _azure_adoption_meaning(key, old, new, was)
    says = _SAYS.get(key)
    if says is None:
        return (f"{key}: {old.shown if old else 'not set'} -> "
                f"{new.shown if new else 'not set'}.", False)
    values = {"new": new.shown if new else "?", "old": old.shown if old else "?",
              "was": was}
    if new is None:
        return says.removed.format(**values), says.removal_is_finding
    return (says.changed if old and says.changed else says.added).format(**values), False


def _adoption_meaning(key: str, old: Setting | None, new: Setting | None,
                      was: str) -> tuple[str, bool]:
    """The sentence for a change to `aws.adopt` (the group a stack took over in place):
    adopting is shown; a new name or description (EC2 replaces the group) or another group
    is a finding."""
    if key == ADOPT_GROUP:
        if new is None:
            return ("The group is no longer named for import; once it is in the state, "
                    "nothing changes.", False)
        if old is None:
            return (f"The stack takes over the hand-made security group {new.shown} in place "
                    "(Terraform imports it, no new group); its rules that the vendor table "
                    "does not hold are kept as draft exceptions.", False)
        return (f"The stack now takes over {new.shown}{was}: another group than the one "
                "it held.", True)
    if key in ("aws.adopt.name", "aws.adopt.description"):
        what = key.rsplit(".", 1)[-1]
        if old is None and new is not None:
            return f"The adopted group's {what} is kept as it is live: {new.shown}.", False
        if new is None:
            return (f"The adopted group's kept {what} goes{was}: the group gets sxcloud's "
                    "own, and EC2 cannot rename a group, so Terraform replaces it.", True)
        return (f"The adopted group's {what} changes to {new.shown}{was}: EC2 cannot rename "
                "a group, so Terraform replaces it.", True)
    if new is None:  # ADOPT_RULES
        return ("The mapping of live rules goes; rules already imported stay in the "
                "state.", False)
    return f"{new.shown} live rules are imported, each by the rule that takes it over.", False


def _azure_adoption_meaning(key: str, old: Setting | None, new: Setting | None,
                            was: str) -> tuple[str, bool]:
    """The sentence for a change to `azure.adopt` (the NSG and ASG a stack took over in
    place, whose names it keeps): adopting is shown; dropping one (the stack's own name
    comes back, and a new name replaces the object) or another one is a finding."""
    if key == ADOPT_NSG_RULES:
        if new is None:
            return ("The list of live rules to import goes; rules already imported stay in "
                    "the state.", False)
        return (f"{new.shown} live NSG rules are imported, each by the rule of the same name "
                "(sxcloud's, or a draft exception's).", False)
    what = "NSG" if key == ADOPT_NSG else "application security group"
    if new is None:
        return (f"The adopted {what}{was} is dropped: the stack gives it its own name again, "
                "and Azure cannot rename it, so Terraform replaces it.", True)
    name = new.shown.rsplit("/", 1)[-1]
    if old is None:
        return (f"The stack takes over the hand-made {what} {new.shown} in place (Terraform "
                f"imports it, no new one) and keeps its name {name}"
                + ("; its live rules are taken over by sxcloud's rules of the same name, kept "
                   "as draft exceptions with their names and priorities, or left unmanaged"
                   if key == ADOPT_NSG else "") + ".", False)
    return (f"The stack now takes over {new.shown}{was}: another {what} than the one it "
            "held.", True)


def current(deployment: Deployment, cloud: str) -> list[tuple[str, str]]:
    """The settings as the report lists them without a base: (key, shown value)."""
    return [(s.key, s.shown) for s in of(deployment, cloud)]
