"""The CI examples in examples/ci/: valid YAML, valid against the published schemas, and
their comment step updates one comment instead of adding new ones.

The schemas are the schemastore ones that check-jsonschema (dev extra) vendors, so the check
runs offline. The comment steps run as written, against a fake GitHub / GitLab API on
127.0.0.1 that keeps the comments in memory.
"""

from __future__ import annotations

import json
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

from sxcloud.cli import build_parser

CI = Path(__file__).resolve().parent.parent / "examples" / "ci"
GITHUB = CI / "github-actions-review.yml"
GITLAB = CI / "gitlab-ci-review.yml"
MARKER = "<!-- sxcloud-review -->"


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


def _parses(command: str) -> None:
    """The sxcloud command line of a CI step, with its variables filled in, parses."""
    words = shlex.split(command.replace("> review.md", "").replace("|| status=1", ""))
    words = [w.replace("${{ github.base_ref }}", "main") for w in words]
    words = [("sxcloud.yaml" if w == "$FILES" else w) for w in words]
    assert words[0] == "sxcloud"
    args = build_parser().parse_args(words[1:])
    assert args.command == "review" and args.base_ref and args.synth_dir


# --- the comment step against a fake API ----------------------------------------------------

class _Api:
    """Comments of one pull request / merge request, as GitHub or GitLab would hold them."""

    def __init__(self, comments: list[dict[str, Any]]) -> None:
        self.comments = comments
        self.calls: list[tuple[str, str]] = []
        self.next_id = 1000


def _server(api: _Api, gitlab: bool) -> ThreadingHTTPServer:
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
            if self.command == "GET" and url.path == listing:
                page, size = int(query["page"][0]), int(query["per_page"][0])
                return self._reply(200, api.comments[(page - 1) * size:page * size])
            if self.command == "POST" and url.path == listing:
                api.next_id += 1
                comment = {"id": api.next_id, "body": self._body()["body"]}
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
        steps = yaml.safe_load(GITHUB.read_text())["jobs"]["review"]["steps"]
        return next(s for s in steps if s.get("name") == "Post or update the review comment")["run"]
    script = yaml.safe_load(GITLAB.read_text())["sxcloud-review"]["script"]
    return next(line for line in script if line.startswith("python3 - <<'PY'"))


def _run_step(flavour: str, url: str, folder: Path, review: str) -> None:
    (folder / "review.md").write_text(review)
    env = {"PATH": "/usr/bin:/bin", "MARKER": MARKER}
    if flavour == "github":
        env.update(GITHUB_API_URL=url, GITHUB_REPOSITORY="acme/mail", PR_NUMBER="7",
                   GITHUB_TOKEN="secret")
    else:
        env.update(CI_API_V4_URL=f"{url}/api/v4", CI_PROJECT_ID="42",
                   CI_MERGE_REQUEST_IID="7", SXCLOUD_REVIEW_TOKEN="secret")
    done = subprocess.run(["bash", "-e", "-c", _comment_step(flavour)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def api(flavour: str) -> Iterator[tuple[_Api, str]]:
    others = [{"id": i, "body": f"looks good {i}"} for i in range(1, 131)]  # two pages
    state = _Api(others)
    server = _server(state, flavour == "gitlab")
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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
