"""The verify result in each stack's summary line: the one place review calls `sxcloud verify`.

`verify` (issue 3) evaluates the synthesized Terraform JSON with each cloud's semantics and
compares the flows it allows with the flows the files intend. The review reports its
outcome per stack and never makes one up: until verify has run, the summary says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..app import Planned

PASSED = "passed"
FAILED = "failed"
NOT_RUN = "not run"


@dataclass(frozen=True)
class VerifyResult:
    status: str  # PASSED, FAILED or NOT_RUN
    detail: str = ""  # the counts of a failure, or why it was not run

    def __str__(self) -> str:
        return f"{self.status} ({self.detail})" if self.detail else self.status

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def results(planned: list[Planned], synth_dir: Path | None) -> dict[str, VerifyResult]:
    """Verify each stack of `planned` against the synthesized JSON in `synth_dir`.

    Integration point for `sxcloud verify` (issue 3, branch `verify`): not available in
    this build, so every stack is reported as not run.
    """
    reason = "sxcloud verify is not available in this build"
    return {name: VerifyResult(NOT_RUN, reason) for p in planned for name in p.stack_names}
