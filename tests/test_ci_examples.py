"""The CI examples in examples/ci/: valid YAML, valid against the published schemas; their
comment step updates the job's own comment and never anyone else's; event values never become
shell code; actions, packages and the token are pinned and kept to what the job needs.

The schemas are the schemastore ones that check-jsonschema (dev extra) vendors, so the check
runs offline. The comment steps run as written, against a fake GitHub / GitLab API on
127.0.0.1 that keeps the comments in memory. The whole job runs as written too, with the
tools it calls (sxcloud, checkov, pip, git, python3) replaced by stubs that record their
arguments, so that what the shell does with a hostile branch name is seen.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

import sxcloud
from sxcloud.cli import build_parser
from sxcloud.review import fit

CI = Path(__file__).resolve().parent.parent / "examples" / "ci"
GITHUB = CI / "github-actions-review.yml"
GITLAB = CI / "gitlab-ci-review.yml"
MARKER = "<!-- sxcloud-review -->"
#: A valid git branch name (`git check-ref-format --branch` accepts it) that runs a command
#: wherever it is pasted into shell code.
HOSTILE_BRANCH = "main$(touch${IFS}pwned)"


def _check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(tool), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.name)
def test_is_valid_yaml(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.parametrize("path,schema", [(GITHUB, "vendor.github-workflows"),
                                         (GITLAB, "vendor.gitlab-ci")], ids=["github", "gitlab"])
def test_matches_the_published_schema(path: Path, schema: str, tmp_path: Path) -> None:
    done = _check_jsonschema(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr
    # The check can fail: the same file with a misspelt key is refused.
    broken = tmp_path / path.name
    text = path.read_text()
    broken.write_text(text.replace("runs-on:", "runs_on:") if path == GITHUB
                      else text.replace("  script:", "  scripts:"))
    assert _check_jsonschema(schema, broken).returncode != 0


def test_github_steps_run_in_order_and_the_review_line_parses() -> None:
    steps = yaml.safe_load(GITHUB.read_text())["jobs"]["review"]["steps"]
    names = [s.get("name", s.get("uses")) for s in steps]
    order = ["Synthesize", "Verify", "checkov", "Review", "Post or update the review comment",
             "Fail on findings"]
    assert [n for n in names if n in order] == order
    review = next(s for s in steps if s.get("name") == "Review")["run"]
    _parses(review)


def test_gitlab_script_runs_in_order_and_the_review_line_parses() -> None:
    script = yaml.safe_load(GITLAB.read_text())["sxcloud-review"]["script"]
    firsts = [line.split()[0] + " " + line.split()[1] for line in script if " " in line]
    assert firsts.index("sxcloud synth") < firsts.index("sxcloud verify") < firsts.index(
        "checkov -d") < firsts.index("sxcloud review")
    assert script[-1] == "exit $status"
    _parses(next(line for line in script if line.startswith("sxcloud review")))


def test_both_jobs_post_the_fitted_review_and_keep_the_whole_one() -> None:
    """A review longer than one comment is cut to fit (issue 15); the comment names the whole
    report, which each job keeps as an artifact under the name the comment gives."""
    github = _github_steps()
    whole = next(s for s in github if s.get("name") == "Whole review")["run"]
    assert f"--full > {fit.FULL_REPORT}" in whole
    _parses(whole.replace(f"> {fit.FULL_REPORT} || true", ""))
    upload = next(s for s in github if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == fit.FULL_REPORT
    names = [s.get("name") for s in github]
    assert names.index("Review") < names.index("Whole review") < names.index(upload["name"])
    assert "--full" not in next(s for s in github if s.get("name") == "Review")["run"]

    job = yaml.safe_load(GITLAB.read_text())["sxcloud-review"]
    full = [line for line in job["script"] if line.startswith("sxcloud review") and "--full" in line]
    assert len(full) == 1 and full[0].endswith(f"--full > {fit.FULL_REPORT} || true")
    assert fit.FULL_REPORT in job["artifacts"]["paths"] and job["artifacts"]["when"] == "always"


def _parses(command: str) -> None:
    """The sxcloud command line of a CI step, with its variables filled in, parses."""
    words = shlex.split(command.replace("> review.md", "").replace("|| status=1", ""))
    words = [w.replace("$BASE_REF", "main") for w in words]
    words = [("sxcloud.yaml" if w == "$FILES" else w) for w in words]
    assert words[0] == "sxcloud"
    args = build_parser().parse_args(words[1:])
    assert args.command == "review" and args.base_ref and args.synth_dir


# --- static checks: pins, permissions, no expressions in shell code -------------------------

def _github_steps() -> list[dict[str, Any]]:
    return yaml.safe_load(GITHUB.read_text())["jobs"]["review"]["steps"]


def test_no_github_expression_is_pasted_into_shell_code() -> None:
    # GitHub substitutes ${{ }} into the script text before the shell reads it, so any
    # value there (a branch name, a title) is code. Values go through env: instead.
    for step in _github_steps():
        assert "${{" not in step.get("run", ""), step.get("name")


def test_github_checkout_keeps_no_token_and_actions_are_pinned_by_commit() -> None:
    steps = _github_steps()
    uses = [s for s in steps if "uses" in s]
    assert uses
    for step in uses:
        action, _, ref = step["uses"].partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{action} is pinned to {ref!r}, not a commit"
    (checkout,) = [s for s in uses if s["uses"].startswith("actions/checkout@")]
    assert checkout.get("with", {}).get("persist-credentials") is False


def test_github_permissions_are_least_privilege() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["review"]["permissions"] == {"contents": "read",
                                                          "pull-requests": "write"}
    # The token reaches only the step that posts; no step before it sees it.
    holders = [s.get("name") for s in _github_steps() if "GITHUB_TOKEN" in s.get("env", {})]
    assert holders == ["Post or update the review comment"]


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.name)
def test_sxcloud_and_checkov_are_pinned(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    variables = document["env"] if path == GITHUB else document["sxcloud-review"]["variables"]
    assert variables["SXCLOUD"] == f"sxcloud=={sxcloud.__version__}"
    assert re.fullmatch(r"checkov==\d+\.\d+\.\d+", variables["CHECKOV"])
    text = path.read_text()
    assert 'pip install "$SXCLOUD" "$CHECKOV"' in text
    assert not re.search(r"pip install[^\n]*\bcheckov\b(?!==)", text.replace('"$CHECKOV"', ""))


def test_gitlab_documents_its_token() -> None:
    header = GITLAB.read_text().split("sxcloud-review:")[0].lower()
    for word in ("reporter", "masked", "protected", "fork", "`api` scope"):
        assert word in header, word


# --- the whole job, with stubs, and a hostile branch name ------------------------------------

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _stubs(folder: Path) -> Path:
    """A folder of stand-ins for the tools the job calls; each logs its arguments."""
    bin_dir = folder / "stub-bin"
    bin_dir.mkdir()
    for tool in ("sxcloud", "checkov", "python", "python3", "git"):
        script = bin_dir / tool
        script.write_text('#!/bin/sh\n{ printf "%s" "$(basename "$0")"; '
                          'for a in "$@"; do printf "\\t%s" "$a"; done; echo; } >> "$STUB_LOG"\n'
                          "cat > /dev/null\n")
        script.chmod(0o755)
    return bin_dir


def _calls(log: Path) -> list[list[str]]:
    return [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []


def _run_github_job(folder: Path, context: dict[str, str]) -> None:
    """Every run: step of the workflow as GitHub would run it: ${{ }} substituted into the
    text first, then the shell, with the workflow's and the step's env."""
    def expand(text: str) -> str:
        return _EXPRESSION.sub(lambda m: context[m.group(1)], text)

    workflow = yaml.safe_load(GITHUB.read_text())
    base = {"PATH": f"{_stubs(folder)}:/usr/bin:/bin", "STUB_LOG": str(folder / "calls"),
            "GITHUB_STEP_SUMMARY": str(folder / "summary"), "GITHUB_REPOSITORY": "acme/mail"}
    base.update({k: expand(str(v)) for k, v in workflow["env"].items()})
    for step in workflow["jobs"]["review"]["steps"]:
        if "run" not in step:
            continue
        env = dict(base, **{k: expand(str(v)) for k, v in step.get("env", {}).items()})
        subprocess.run(["bash", "-e", "-c", expand(step["run"])], cwd=folder, env=env,
                       capture_output=True, text=True, timeout=60, check=False)


def _run_gitlab_job(folder: Path, ci: dict[str, str]) -> None:
    """The job's script as one shell session, with its variables and GitLab's."""
    job = yaml.safe_load(GITLAB.read_text())["sxcloud-review"]
    env = {"PATH": f"{_stubs(folder)}:/usr/bin:/bin", "STUB_LOG": str(folder / "calls")}
    env.update({k: str(v) for k, v in job["variables"].items()}, **ci)
    subprocess.run(["bash", "-e", "-c", "\n".join(job["script"])], cwd=folder, env=env,
                   capture_output=True, text=True, timeout=60, check=False)


def test_a_hostile_branch_name_stays_a_string_on_github(tmp_path: Path) -> None:
    _run_github_job(tmp_path, {
        "github.base_ref": HOSTILE_BRANCH, "github.event.pull_request.number": "7",
        "secrets.GITHUB_TOKEN": "secret", "steps.verify.outcome": "success",
        "steps.checkov.outcome": "success", "steps.review.outcome": "success"})
    assert not (tmp_path / "pwned").exists(), "the branch name ran as a command"
    reviews = [c for c in _calls(tmp_path / "calls") if c[:2] == ["sxcloud", "review"]]
    # the comment's review, then the whole one for the artifact
    assert len(reviews) == 2 and all(f"origin/{HOSTILE_BRANCH}" in r for r in reviews)
    assert "--full" not in reviews[0] and "--full" in reviews[1]


def test_a_hostile_branch_name_stays_a_string_on_gitlab(tmp_path: Path) -> None:
    _run_gitlab_job(tmp_path, {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": HOSTILE_BRANCH})
    assert not (tmp_path / "pwned").exists(), "the branch name ran as a command"
    fetches = [c for c in _calls(tmp_path / "calls") if c[:2] == ["git", "fetch"]]
    assert fetches == [["git", "fetch", "origin", f"refs/heads/{HOSTILE_BRANCH}"]]


# --- the comment step against a fake API ----------------------------------------------------

#: Who wrote a comment, as each API shows it. GitHub's default GITHUB_TOKEN posts as the
#: github-actions app's bot user; a GitLab project access token has a bot user of its own.
GITHUB_BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
GITLAB_BOT = {"id": 77, "username": "project_42_bot_sxcloud"}
MALLORY = {"login": "mallory", "username": "mallory", "id": 666, "type": "User"}


class _Api:
    """Comments of one pull request / merge request, as GitHub or GitLab would hold them.

    `me` is the token's user as GET /user reports it; None is GitHub's answer for an app
    installation token such as GITHUB_TOKEN (403), whose comments the bot user writes."""

    def __init__(self, comments: list[dict[str, Any]], gitlab: bool,
                 me: dict[str, Any] | None) -> None:
        self.comments = comments
        self.calls: list[tuple[str, str]] = []
        self.next_id = 1000
        self.gitlab = gitlab
        self.me = me

    def author(self) -> dict[str, Any]:
        return self.me or GITHUB_BOT

    def comment(self, id_: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        return {"id": id_, "body": body, ("author" if self.gitlab else "user"): user}


def _server(api: _Api) -> ThreadingHTTPServer:
    gitlab = api.gitlab

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> dict[str, Any]:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if gitlab:
                return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
            return json.loads(raw)

        def _authorised(self) -> bool:
            if gitlab:
                return self.headers.get("PRIVATE-TOKEN") == "secret"
            return self.headers.get("Authorization") == "Bearer secret"

        def _handle(self) -> None:
            url = urllib.parse.urlparse(self.path)
            api.calls.append((self.command, url.path))
            if not self._authorised():
                return self._reply(401, {"message": "unauthorised"})
            query = urllib.parse.parse_qs(url.query)
            listing = ("/api/v4/projects/42/merge_requests/7/notes" if gitlab
                       else "/repos/acme/mail/issues/7/comments")
            item = (listing + "/" if gitlab else "/repos/acme/mail/issues/comments/")
            if self.command == "GET" and url.path in ("/user", "/api/v4/user"):
                if api.me is None:
                    return self._reply(403, {"message": "Resource not accessible by integration"})
                return self._reply(200, api.me)
            if self.command == "GET" and url.path == listing:
                page, size = int(query["page"][0]), int(query["per_page"][0])
                return self._reply(200, api.comments[(page - 1) * size:page * size])
            if self.command == "POST" and url.path == listing:
                api.next_id += 1
                comment = api.comment(api.next_id, self._body()["body"], api.author())
                api.comments.append(comment)
                return self._reply(201, comment)
            if self.command in ("PATCH", "PUT") and url.path.startswith(item):
                wanted = int(url.path.rsplit("/", 1)[-1])
                for comment in api.comments:
                    if comment["id"] == wanted:
                        comment["body"] = self._body()["body"]
                        return self._reply(200, comment)
            return self._reply(404, {"message": "not found"})

        do_GET = do_POST = do_PATCH = do_PUT = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(params=["github", "gitlab"])
def flavour(request: pytest.FixtureRequest) -> str:
    return request.param


def _comment_step(flavour: str) -> str:
    if flavour == "github":
        steps = _github_steps()
        return next(s for s in steps if s.get("name") == "Post or update the review comment")["run"]
    script = yaml.safe_load(GITLAB.read_text())["sxcloud-review"]["script"]
    return next(line for line in script if line.startswith("python3 - <<'PY'"))


def _run_step(flavour: str, url: str, folder: Path, review: str, token: str = "secret") -> str:
    (folder / "review.md").write_text(review)
    env = {"PATH": "/usr/bin:/bin", "MARKER": MARKER}
    if flavour == "github":
        step = next(s for s in _github_steps()
                    if s.get("name") == "Post or update the review comment")
        env.update(GITHUB_API_URL=url, GITHUB_REPOSITORY="acme/mail", PR_NUMBER="7",
                   GITHUB_TOKEN=token, BOT_LOGIN=step["env"]["BOT_LOGIN"])
    else:
        env.update(CI_API_V4_URL=f"{url}/api/v4", CI_PROJECT_ID="42",
                   CI_MERGE_REQUEST_IID="7", SXCLOUD_REVIEW_TOKEN=token)
    done = subprocess.run(["bash", "-e", "-c", _comment_step(flavour)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _serve(state: _Api) -> Iterator[tuple[_Api, str]]:
    server = _server(state)
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _others(gitlab: bool) -> list[dict[str, Any]]:
    people = [MALLORY, {"login": "alice", "username": "alice", "id": 7, "type": "User"}]
    key = "author" if gitlab else "user"
    return [{"id": i, "body": f"looks good {i}", key: people[i % 2]}
            for i in range(1, 131)]  # two pages


@pytest.fixture
def api(flavour: str) -> Iterator[tuple[_Api, str]]:
    gitlab = flavour == "gitlab"
    yield from _serve(_Api(_others(gitlab), gitlab, GITLAB_BOT if gitlab else None))


def _ours(state: _Api) -> list[dict[str, Any]]:
    key = "author" if state.gitlab else "user"
    return [c for c in state.comments
            if c["body"].startswith(MARKER) and c[key]["id"] == state.author()["id"]]


def test_the_comment_is_added_once_then_updated(flavour: str, api: tuple[_Api, str],
                                                tmp_path: Path) -> None:
    state, url = api
    _run_step(flavour, url, tmp_path, f"{MARKER}\n## Firewall review\nfirst push\n")
    ours = [c for c in state.comments if c["body"].startswith(MARKER)]
    assert len(ours) == 1 and "first push" in ours[0]["body"]

    _run_step(flavour, url, tmp_path, f"{MARKER}\n## Firewall review\nsecond push\n")
    ours = [c for c in state.comments if c["body"].startswith(MARKER)]
    assert len(ours) == 1 and "second push" in ours[0]["body"]  # updated, not added
    assert len(state.comments) == 131
    assert [m for m, _ in state.calls].count("POST") == 1
    assert [m for m, _ in state.calls].count("PATCH" if flavour == "github" else "PUT") == 1


def test_an_empty_review_still_carries_the_marker(flavour: str, api: tuple[_Api, str],
                                                  tmp_path: Path) -> None:
    state, url = api
    _run_step(flavour, url, tmp_path, "")  # sxcloud review failed before printing
    (ours,) = [c for c in state.comments if c["body"].startswith(MARKER)]
    assert "see the job log" in ours["body"]


def test_a_foreign_marker_comment_is_left_alone(flavour: str, tmp_path: Path) -> None:
    gitlab = flavour == "gitlab"
    key = "author" if gitlab else "user"
    planted = f"{MARKER}\n## Firewall review\n**No change to the firewall.**\n"
    foreign = [{"id": 1, "body": planted, key: MALLORY}]
    if not gitlab:  # a human whose login looks like the bot's
        foreign.append({"id": 2, "body": planted,
                        key: {"login": "github-actions", "id": 668, "type": "User"}})
    for state, url in _serve(_Api(foreign + _others(gitlab)[2:], gitlab,
                                  GITLAB_BOT if gitlab else None)):
        before = json.loads(json.dumps(foreign))
        _run_step(flavour, url, tmp_path, f"{MARKER}\n## Firewall review\nR04 opened\n")
        assert state.comments[:len(foreign)] == before  # untouched
        (ours,) = _ours(state)
        assert "R04 opened" in ours["body"]
        assert not [m for m, _ in state.calls if m in ("PATCH", "PUT")]

        _run_step(flavour, url, tmp_path, f"{MARKER}\n## Firewall review\nR04 closed\n")
        assert state.comments[:len(foreign)] == before
        (ours,) = _ours(state)
        assert "R04 closed" in ours["body"]


def test_a_personal_github_token_updates_only_its_users_comment(tmp_path: Path) -> None:
    me = {"login": "release-bot", "id": 5, "type": "User"}
    comments = [{"id": 1, "body": f"{MARKER}\nfrom another workflow", "user": GITHUB_BOT},
                {"id": 2, "body": f"{MARKER}\nold review", "user": me}]
    for state, url in _serve(_Api(comments, False, me)):
        _run_step("github", url, tmp_path, f"{MARKER}\nnew review\n")
        assert [c["body"] for c in state.comments] == [f"{MARKER}\nfrom another workflow",
                                                       f"{MARKER}\nnew review\n"]


def test_gitlab_without_the_token_skips_the_note(tmp_path: Path) -> None:
    # A protected variable is absent from pipelines on unprotected refs: the job goes on.
    for state, url in _serve(_Api(_others(True), True, GITLAB_BOT)):
        out = _run_step("gitlab", url, tmp_path, f"{MARKER}\nreview\n", token="")
        assert "no note posted" in out and state.calls == []
