"""An ARM-compatible HTTPS endpoint on 127.0.0.1, for driving the real azure-mgmt-network client.

There is no Azure network emulator, so the tests serve the Resource Manager REST API
themselves: `GET .../networkSecurityGroups/{name}` answers with the body the test put in
`nsgs`, in the shape of the REST API (NetworkSecurityGroups_Get), `GET
.../applicationSecurityGroups/{name}` with one of `asgs`, and errors come with ARM's
error bodies (ResourceNotFound, ResourceGroupNotFound, InvalidAuthenticationToken,
AuthorizationFailed). The certificate is self-signed, made here with `cryptography`, and the
client trusts it the way a user would trust a private CA: through REQUESTS_CA_BUNDLE.

Every request is recorded. Writes (PUT, PATCH, DELETE, POST) are refused and recorded in
`writes`, so a test can prove that an audit never tried one. For the error tests it can also
misbehave: repeat the token it was sent in a 401 (`echo_token`), answer what ARM never would
(`raw_answer`), or not answer at all (`hang`).

`/msi/token` plays an App Service managed-identity endpoint (IDENTITY_ENDPOINT,
IDENTITY_HEADER), so that azure-identity's DefaultAzureCredential can sign in for real.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NSG_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.Network/(?P<kind>networkSecurityGroups|applicationSecurityGroups)/"
    r"(?P<name>[^/]+)$", re.IGNORECASE)

NOT_FOUND_HELP = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sxcloud test ARM endpoint")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        # urllib3 checks the IP against subjectAltName, not the common name.
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "arm-cert.pem", folder / "arm-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None


@dataclass
class ArmEndpoint:
    """State of the fake ARM service; `serve()` starts it."""

    token: str  # the bearer token the endpoint accepts
    nsgs: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    asgs: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    resource_groups: set[tuple[str, str]] = field(default_factory=set)
    forbidden_tokens: set[str] = field(default_factory=set)  # authenticated, no read permission
    identity_header: str = "test-identity-header"  # what /msi/token expects in X-IDENTITY-HEADER
    echo_token: bool = False  # a 401 that repeats the token it got, as a hostile host might
    raw_answer: tuple[int, bytes] | None = None  # answer every ARM request with this instead
    hang: bool = False  # answer no ARM request at all (until the server stops)
    requests: list[Request] = field(default_factory=list)
    writes: list[Request] = field(default_factory=list)
    token_requests: list[Request] = field(default_factory=list)
    url: str = ""
    ca_file: Path | None = None
    released: threading.Event = field(default_factory=threading.Event)

    def put_nsg(self, subscription: str, resource_group: str, body: dict[str, Any]) -> None:
        """Hold an NSG (and its resource group), as a deployment would have left it."""
        self.resource_groups.add((subscription.lower(), resource_group.lower()))
        self.nsgs[(subscription.lower(), resource_group.lower(), body["name"].lower())] = body

    def put_asg(self, subscription: str, resource_group: str, name: str, location: str) -> dict[str, Any]:
        """Hold an application security group (and its resource group); returns its body,
        in the shape of ApplicationSecurityGroups_Get."""
        self.resource_groups.add((subscription.lower(), resource_group.lower()))
        body = {"name": name, "location": location, "tags": {},
                "type": "Microsoft.Network/applicationSecurityGroups",
                "id": (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
                       f"Microsoft.Network/applicationSecurityGroups/{name}"),
                "etag": 'W/"00000000-0000-0000-0000-000000000002"',
                "properties": {"provisioningState": "Succeeded",
                               "resourceGuid": "00000000-0000-0000-0000-000000000003"}}
        self.asgs[(subscription.lower(), resource_group.lower(), name.lower())] = body
        return body

    def answer(self, method: str, target: str, headers: Any) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body for one request."""
        parts = urlsplit(target)
        authorization = headers.get("Authorization")
        request = Request(method, parts.path, parse_qs(parts.query), authorization)
        if parts.path == "/msi/token":
            return self._identity(request, headers.get("X-IDENTITY-HEADER"))
        self.requests.append(request)
        if method != "GET":
            self.writes.append(request)
            return 405, {}, _error("MethodNotAllowed",
                                   f"The test endpoint is read-only; it refused {method} {parts.path}.")
        if not request.query.get("api-version"):
            return 400, {}, _error("MissingApiVersionParameter",
                                   "The api-version query parameter (?api-version=) is required "
                                   "for all requests.")
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or presented not in {self.token, *self.forbidden_tokens}:
            challenge = ('Bearer authorization_uri="https://login.microsoftonline.com/common", '
                         'error="invalid_token", error_description="The access token is invalid."')
            told = f" '{presented}'" if self.echo_token else ""
            return 401, {"WWW-Authenticate": challenge}, _error(
                "InvalidAuthenticationToken", f"The access token{told} is invalid.")
        match = NSG_PATH.match(parts.path)
        if not match:
            return 404, {}, _error("InvalidResourceType", f"No route for {parts.path} in the test endpoint.")
        sub, rg, name = match["sub"].lower(), match["rg"].lower(), match["name"].lower()
        if presented in self.forbidden_tokens:
            return 403, {}, _error(
                "AuthorizationFailed",
                "The client 'ci-audit' with object id '11111111-1111-1111-1111-111111111111' does "
                "not have authorization to perform action "
                f"'Microsoft.Network/networkSecurityGroups/read' over scope '{parts.path}' or the "
                "scope is invalid. If access was recently granted, please refresh your credentials.")
        if (sub, rg) not in self.resource_groups:
            return 404, {}, _error("ResourceGroupNotFound", f"Resource group '{match['rg']}' could not be found.")
        kind = match["kind"].lower()
        held = self.nsgs if kind == "networksecuritygroups" else self.asgs
        body = held.get((sub, rg, name))
        if body is None:
            return 404, {}, _error(
                "ResourceNotFound",
                f"The Resource 'Microsoft.Network/{match['kind']}/{match['name']}' under "
                f"resource group '{match['rg']}' was not found. {NOT_FOUND_HELP}")
        return 200, {"ETag": 'W/"00000000-0000-0000-0000-000000000001"'}, body

    def _identity(self, request: Request, secret: str | None) -> tuple[int, dict[str, str], Any]:
        """A managed-identity token, as App Service's identity endpoint hands it out."""
        self.token_requests.append(request)
        if secret != self.identity_header:
            return 401, {}, {"statusCode": 401, "message": "X-IDENTITY-HEADER is wrong"}
        expires = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) + 3600
        return 200, {}, {"access_token": self.token, "expires_on": str(expires),
                         "resource": request.query.get("resource", [""])[0],
                         "token_type": "Bearer"}

    def serve(self, folder: Path) -> "Server":
        cert_file, key_file = make_certificate(folder)
        self.ca_file = cert_file
        return Server(self, cert_file, key_file)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class Server:
    """The threaded HTTPS server in front of an ArmEndpoint; a context manager."""

    def __init__(self, endpoint: ArmEndpoint, cert_file: Path, key_file: Path) -> None:
        handler = type("Handler", (_Handler,), {"endpoint": endpoint})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.endpoint = endpoint
        endpoint.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.endpoint.released.set()  # a hanging handler returns now
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    endpoint: ArmEndpoint
    protocol_version = "HTTP/1.1"  # keep-alive, as ARM

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.endpoint.answer(self.command, self.path, self.headers)
        if self.endpoint.hang and not self.path.startswith("/msi/"):
            self.endpoint.released.wait(timeout=60)
            self.close_connection = True
            return
        if self.endpoint.raw_answer and not self.path.startswith("/msi/"):
            status, headers = self.endpoint.raw_answer[0], {}
            data = self.endpoint.raw_answer[1]
        else:
            data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", "00000000-0000-0000-0000-00000000abcd")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # the tests read `requests`; no access log on stderr
