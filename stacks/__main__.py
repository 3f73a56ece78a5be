"""Entry point of the CDK app (see stacks/__init__.py). Exits 2 on bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sxcloud.app import add_stacks, plan_all
from sxcloud.cdk import core
from sxcloud.commands.common import resolve
from sxcloud.config import load_all
from sxcloud.errors import InputError


def main() -> int:
    names = [p for p in os.environ.get("SXCLOUD_CONFIG", "").split(os.pathsep) if p]
    try:
        planned = plan_all(load_all(resolve([Path(n) for n in names])))
        app = core.App()  # the cdktn/cdktf CLI passes the output folder (CDKTF_OUTDIR)
        add_stacks(app, planned)  # the constructs refuse values Terraform JSON cannot hold
    except InputError as error:
        for line in error.lines():
            print(f"sxcloud: error: {line}", file=sys.stderr)
        return 2
    app.synth()
    return 0


sys.exit(main())
