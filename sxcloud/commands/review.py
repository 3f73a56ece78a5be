"""`sxcloud review`: Markdown for a pull request, what a change opens and closes, and why."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import builtin_example, load_all
from ..errors import InputError
from .common import add_files, add_json, load, print_json, progress, resolve


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "review", help="Markdown for a pull request: what the firewall opens, its change, why",
        description="Print a Markdown report for a pull-request comment: per stack the rule "
                    "matrix with the vendor row and rationale of each opening, quota use, "
                    "the verify result, warnings, and a Mermaid diagram of the flows. With "
                    "--base or --base-ref, the openings the change adds, removes and "
                    "changes. With --plan, the same built from Terraform plans (what apply "
                    "will do), checked against what the files intend. Exit 1 when a plan "
                    "differs from the files or verify failed; the report is printed anyway.",
        epilog="Put FILES before --base (which takes the rest of the line). "
               "See docs/review.md.")
    add_files(parser)
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--base", nargs="+", type=Path, metavar="FILE",
                      help="the base version of the deployment files (matched by name)")
    base.add_argument("--base-ref", metavar="GITREF",
                      help="the base version: the same paths at this git ref (e.g. origin/main)")
    base.add_argument("--plan", action="append", type=Path, metavar="PLAN.json",
                      help="a Terraform plan as 'terraform show -json PLANFILE' prints it; "
                           "repeat for each stack")
    parser.add_argument("--policy-ref", metavar="GITREF",
                        help="read the review policy file (.sxcloud/review.yaml: trusted hosts, "
                             "other groups) at this git ref; default: --base-ref. Never read "
                             "from the working tree")
    parser.add_argument("--synth-dir", type=Path, metavar="DIR",
                        help="the output of 'sxcloud synth' for FILES, for the verify result "
                             "in each summary line")
    add_json(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..review import build, data, markdown, sources
    from ..review.policyfile import NONE
    from ..review.paths import display_path

    paths = resolve(args.files)
    head = load_all(paths)
    if args.base_ref and paths == [builtin_example()]:
        raise InputError.one("--base-ref", "", "needs deployment files in a git repository "
                             "(FILES, or ./sxcloud.yaml), not the built-in example")
    # The base first: its messages about a ref are the more specific.
    base = sources.at_ref(paths, args.base_ref) if args.base_ref else None
    # What the base trusts, from the base only: never the working tree's copy.
    policy_ref = args.policy_ref or args.base_ref
    policy = sources.policy_at(paths, policy_ref, "--policy-ref" if args.policy_ref
                               else "--base-ref") if policy_ref else NONE
    if args.plan:
        review = build.from_plans(head, args.plan, args.synth_dir, policy)
    elif base is not None:
        review = build.from_files(head, base.deployments, base.label, base.new_files,
                                  args.synth_dir, by_path=base.by_path, links=base.links,
                                  policy=policy)
    elif args.base:
        review = build.from_files(head, load(args.base), " ".join(
            display_path(p) for p in args.base), synth_dir=args.synth_dir, policy=policy)
    else:
        review = build.from_files(head, synth_dir=args.synth_dir)
    if args.json:
        print_json(data.review(review))
    else:
        sys.stdout.write(markdown.render(review))
    for s in review.stacks:
        for finding in s.all_findings:
            progress(f"finding: {s.stack}: {finding}")  # progress escapes for the terminal
    return review.exit_code
