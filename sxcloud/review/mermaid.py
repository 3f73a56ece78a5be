"""A Mermaid flowchart of one firewall: the roles, the appliances, and the ports between them.

GitHub and GitLab render ```mermaid blocks in comments. The text uses a small subset of the
flowchart grammar (node shapes with quoted labels, `-->`, `==>`, `-.->` edges with quoted
labels, classDef/class), and every label is quoted and escaped, so no role name, CIDR or
resource id can break the syntax. With a change, new ports are marked "(new)", edges whose
ports are all new are thick, and removed ports are drawn on dotted edges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import catalog
from ..escape import terminal
from ..policy import INBOUND
from .diff import Change
from .openings import EXCEPTION, PLATFORM, SELF, UNINTENDED, Firewall, Opening, Ports

APPLIANCE_NODE = "appliances"
MAX_ADDRESSES = 3  # per node label; more are summarised as "+N more"

_CLOUDS = {"aws": "AWS", "azure": "Azure"}

LEGEND = ("Thick arrow: a flow that is new in this change; *(new)*: a port added to a flow; "
          "dotted arrow: removed.")


@dataclass
class _Node:
    id: str
    title: str
    addresses: list[str] = field(default_factory=list)
    shape: str = "box"  # box, circle, hexagon, slanted
    css: str = ""


@dataclass
class _Edge:
    kept: set[Ports] = field(default_factory=set)
    added: set[Ports] = field(default_factory=set)
    removed: set[Ports] = field(default_factory=set)
    unintended: set[Ports] = field(default_factory=set)  # not in the files (a plan's)


_ENTITIES = set('"#&<>|`[]{}\\')


def escape(text: object) -> str:
    """The one Mermaid escaper: text safe inside a double-quoted label. Each character that
    can end the label, start an entity code, HTML or a Markdown string, or that draws a
    shape, is written as an entity code (`#34;`, as Mermaid documents); line breaks and
    other control characters are shown as escapes (`sxcloud.escape.terminal`), so a label
    stays on its line and cannot close the Markdown fence around the diagram."""
    return "".join(f"#{ord(c)};" if c in _ENTITIES else c for c in terminal(text))


def _node_id(name: str) -> str:
    # A prefix keeps ids clear of the grammar's keywords (end, graph, class, style...).
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _node_for(o: Opening, cloud: str) -> _Node:
    if o.origin == UNINTENDED and not o.role:
        return _Node(_node_id("not_in_files"), "not in the deployment files", shape="hexagon",
                     css="unintended")
    if o.origin == EXCEPTION:  # apart from the roles: its own slanted node, dashed border
        label = o.role or "site exception"
        return _Node(_node_id(label), f"{label}: site exception", shape="slanted",
                     css="exception")
    if o.origin == PLATFORM:
        return _Node(_node_id("platform"), f"{_CLOUDS.get(cloud, cloud)} platform",
                     shape="hexagon")
    if o.peer.kind == SELF:
        return _Node(_node_id(catalog.APPLIANCE_PEERS), "appliance peers (same group)")
    role = o.role or "unknown"
    if role == catalog.INTERNET:
        return _Node(_node_id(role), "Internet", shape="circle", css="internet")
    return _Node(_node_id(role), role)


def _role_order(node_id: str) -> int:
    ids = [_node_id(r) for r in catalog.PEER_ROLES]
    return ids.index(node_id) if node_id in ids else len(ids)


def flowchart(firewall: Firewall | None, change: Change | None = None) -> str:
    """The flowchart text (without the ``` fence) of a firewall and, if given, its change."""
    cloud = firewall.cloud if firewall else "cloud"
    nodes: dict[str, _Node] = {}
    edges: dict[tuple[str, str], _Edge] = {}
    added = {o.key for o in change.added} if change else set()

    def take(o: Opening, state: str) -> None:
        node = nodes.setdefault(_node_for(o, cloud).id, _node_for(o, cloud))
        if o.peer.kind != SELF and o.peer.short() not in node.addresses + [node.title]:
            node.addresses.append(o.peer.short())
        edge = edges.setdefault((o.direction, node.id), _Edge())
        getattr(edge, state).add(o.ports)

    for o in (firewall.openings if firewall else ()):
        take(o, "added" if o.key in added else "kept")
        if o.origin == UNINTENDED:
            edges[(o.direction, _node_for(o, cloud).id)].unintended.add(o.ports)
    for o in (change.removed if change else ()):
        take(o, "removed")

    lines = ["flowchart LR", f'  {_node_id(APPLIANCE_NODE)}[["SX-MailCrypt appliances"]]']
    for node in sorted(nodes.values(), key=lambda n: (_role_order(n.id), n.id)):
        lines.append(f"  {node.id}{_shape(node)}")
    for (direction, node_id), edge in sorted(
            edges.items(), key=lambda e: (e[0][0] != INBOUND, _role_order(e[0][1]), e[0][1])):
        ends = ((node_id, _node_id(APPLIANCE_NODE)) if direction == INBOUND
                else (_node_id(APPLIANCE_NODE), node_id))
        lines += _edge_lines(ends, edge)
    lines.append("  classDef internet fill:#fdecea,stroke:#c62828")
    lines.append("  classDef unintended fill:#fff3cd,stroke:#b26a00,stroke-width:2px")
    lines.append("  classDef appliance fill:#e3f2fd,stroke:#1565c0")
    if any(n.css == "exception" for n in nodes.values()):  # site exceptions: dashed
        lines.append("  classDef exception fill:#f3e5f5,stroke:#6a1b9a,stroke-dasharray:5 5")
    lines.append(f"  class {_node_id(APPLIANCE_NODE)} appliance")
    for css in ("internet", "unintended", "exception"):
        members = [n.id for n in nodes.values() if n.css == css]
        if members:
            lines.append(f"  class {','.join(sorted(members))} {css}")
    return "\n".join(lines) + "\n"


def _shape(node: _Node) -> str:
    shown = node.addresses[:MAX_ADDRESSES]
    if len(node.addresses) > MAX_ADDRESSES:
        shown.append(f"+{len(node.addresses) - MAX_ADDRESSES} more")
    label = "<br/>".join([escape(node.title)] + [escape(a) for a in shown])
    open_, close = {"box": ("[", "]"), "circle": ("((", "))"), "hexagon": ("{{", "}}"),
                    "slanted": ("[/", "/]")}[node.shape]
    return f'{open_}"{label}"{close}'


def _ports_label(ports: set[Ports], suffix: str = "",
                 unintended: frozenset[Ports] | set[Ports] = frozenset()) -> str:
    return ", ".join(f"{p}{suffix}{' (not intended)' if p in unintended else ''}"
                     for p in sorted(ports))


def _edge_lines(ends: tuple[str, str], edge: _Edge) -> list[str]:
    a, b = ends
    out = []
    if edge.kept or edge.added:
        label = ", ".join(filter(None, (
            _ports_label(edge.kept, "", edge.unintended),
            _ports_label(edge.added, " (new)", edge.unintended))))
        arrow = "==>" if edge.added and not edge.kept else "-->"
        if arrow == "==>":  # the whole flow is new: "(new)" on each port says nothing more
            label = _ports_label(edge.added, "", edge.unintended)
        out.append(f'  {a} {arrow}|"{escape(label)}"| {b}')
    if edge.removed:
        out.append(f'  {a} -.->|"{escape("removed: " + _ports_label(edge.removed))}"| {b}')
    return out
