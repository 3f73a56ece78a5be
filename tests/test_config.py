"""The deployment file: every class of bad input is refused with the file and the key named."""

import copy
from pathlib import Path

import pytest
import yaml

from sxcloud import catalog, config
from sxcloud.errors import InputError

GOOD = {
    "version": 1,
    "name": "cfg-test",
    "appliance": {"dns": "external"},
    "roles": {
        "internal_network": ["10.0.0.0/16"],
        "internal_mail_server": ["10.0.1.10/32"],
        "external_nameserver": ["9.9.9.9/32"],
        "admin_pc": ["10.0.99.0/24"],
    },
    "aws": {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0"},
    "azure": {"location": "westeurope", "resource_group": "rg-mail"},
}
ASG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/"
       "applicationSecurityGroups/asg-{}")


def write(tmp_path: Path, data, name="sxcloud.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def problems(tmp_path, data, name="sxcloud.yaml"):
    path = write(tmp_path, data, name)
    with pytest.raises(InputError) as caught:
        config.load(path)
    for file, _, _ in caught.value.problems:
        assert Path(file) == path  # every problem names the file
    return [(key, message) for _, key, message in caught.value.problems]


def changed(**edits):
    data = copy.deepcopy(GOOD)
    for dotted, value in edits.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def only(found):
    assert len(found) == 1, found
    return found[0]


def test_good_file_loads_with_defaults(tmp_path):
    d = config.load(write(tmp_path, GOOD))
    assert d.name == "cfg-test"
    assert d.appliance.features == {"vspp_updates", "ntp", "admin_https"}
    assert (d.appliance.cluster, d.appliance.internal_firewall, d.appliance.ipv6) == (False, True, False)
    assert d.aws.rule_quota == 60 and d.aws.backend == config.DEFAULT_BACKEND
    assert [str(n) for n in d.roles["admin_pc"]] == ["10.0.99.0/24"]


def test_unknown_key_with_suggestion(tmp_path):
    key, message = only(problems(tmp_path, changed(appliance__fetures={"sms": True})))
    assert key == "appliance.fetures"
    assert "unknown key" in message and "features" in message


def test_unknown_top_level_key(tmp_path):
    key, message = only(problems(tmp_path, changed(gcp={"project": "x"})))
    assert key == "gcp" and "unknown key" in message


def test_malformed_cidr(tmp_path):
    key, message = only(problems(tmp_path, changed(roles__admin_pc=["10.0.99.0/24", "10.0.300.0/24"])))
    assert key == "roles.admin_pc[1]" and "10.0.300.0/24" in message


def test_host_address_without_prefix_length(tmp_path):
    key, message = only(problems(tmp_path, changed(roles__internal_mail_server=["10.0.1.10"])))
    assert key == "roles.internal_mail_server[0]"
    assert "without a prefix length" in message and "10.0.1.10/32" in message


def test_ipv6_host_without_prefix_length(tmp_path):
    key, message = only(problems(tmp_path, changed(roles__internal_mail_server=["fd00::25"])))
    assert "fd00::25/128" in message


def test_host_bits_set(tmp_path):
    key, message = only(problems(tmp_path, changed(roles__admin_pc=["10.0.99.7/24"])))
    assert key == "roles.admin_pc[0]" and "10.0.99.0/24" in message


def test_dns_internal_without_internal_nameserver(tmp_path):
    key, message = only(problems(tmp_path, changed(appliance__dns="internal")))
    assert key == "roles.internal_nameserver"
    assert "required" in message and "dns is internal" in message


def test_admin_feature_without_admin_pc(tmp_path):
    key, message = only(problems(tmp_path, changed(roles__admin_pc=None)))
    assert key == "roles.admin_pc" and "admin_https" in message


def test_binding_in_every_cloud_stands_in_for_cidrs(tmp_path):
    data = changed(roles__internal_mail_server=None,
                   aws__bindings={"internal_mail_server": {"security_group_ids": ["sg-0123456789abcdef0"]}})
    key, message = only(problems(tmp_path, data))
    assert key == "roles.internal_mail_server" and "azure has no binding" in message
    data["azure"]["bindings"] = {"internal_mail_server": {
        "application_security_group_ids": [ASG.format("mail")]}}
    assert config.load(write(tmp_path, data)).roles["internal_mail_server"] == ()


@pytest.mark.parametrize("wide", ["0.0.0.0/0", "::/0"])
def test_internet_wide_range_for_admin_pc(tmp_path, wide):
    key, message = only(problems(tmp_path, changed(roles__admin_pc=[wide])))
    assert key == "roles.admin_pc[0]" and "whole Internet" in message


def test_two_files_with_the_same_name(tmp_path):
    first, second = write(tmp_path, GOOD, "a.yaml"), write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(InputError) as caught:
        config.load_all([first, second])
    ((path, key, message),) = caught.value.problems
    assert (Path(path), key) == (second, "name") and str(first) in message


def test_duplicate_cidr(tmp_path):
    key, message = only(problems(tmp_path, changed(roles__admin_pc=["10.0.99.0/24", "10.0.99.0/24"])))
    assert key == "roles.admin_pc[1]" and "twice" in message


def test_duplicate_yaml_key(tmp_path):
    text = yaml.safe_dump(GOOD) + "name: again\n"
    key, message = only(problems(tmp_path, text))
    assert "appears twice" in message


def test_invalid_yaml(tmp_path):
    key, message = only(problems(tmp_path, "version: 1\nroles: [unclosed\n"))
    assert "not valid YAML" in message


def test_not_a_mapping(tmp_path):
    key, message = only(problems(tmp_path, "- just\n- a list\n"))
    assert "mapping" in message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        config.load(tmp_path / "absent.yaml")


def test_missing_required_keys(tmp_path):
    found = problems(tmp_path, changed(name=None, aws__vpc_id=None))
    assert sorted(found) == [("aws.vpc_id", "is required"), ("name", "is required")]


def test_wrong_types_and_values(tmp_path):
    found = dict(problems(tmp_path, changed(appliance__cluster="yes", appliance__dns="google",
                                           version=2, name="Mail_Prod")))
    assert "true or false" in found["appliance.cluster"]
    assert "internal, external, builtin, cloud" in found["appliance.dns"]
    assert "must be 1" in found["version"]
    assert "lower-case" in found["name"]


def test_bad_cloud_ids(tmp_path):
    found = dict(problems(tmp_path, changed(
        aws__vpc_id="vpc-123", aws__bindings={"admin_pc": {"prefix_list_ids": ["sg-0123456789abcdef0"]}})))
    assert "vpc-" in found["aws.vpc_id"]
    assert "pl-" in found["aws.bindings.admin_pc.prefix_list_ids[0]"]


def test_asg_binding_must_name_an_asg(tmp_path):
    nic = ASG.replace("applicationSecurityGroups", "networkInterfaces").format("x")
    key, message = only(problems(tmp_path, changed(
        azure__bindings={"admin_pc": {"application_security_group_ids": [nic]}})))
    assert key == "azure.bindings.admin_pc.application_security_group_ids[0]"
    assert "application security group" in message


def test_more_asgs_than_one_rule_takes(tmp_path):
    ids = [ASG.format(i) for i in range(11)]
    key, message = only(problems(tmp_path, changed(
        azure__bindings={"admin_pc": {"application_security_group_ids": ids}})))
    assert key == "azure.bindings.admin_pc.application_security_group_ids"
    assert "at most 10" in message


def test_unknown_backend_type(tmp_path):
    key, message = only(problems(tmp_path, changed(aws__backend={"consul": {"path": "x"}})))
    assert key == "aws.backend.consul" and "unknown key" in message and "s3" in message


def test_endpoint_must_be_a_url(tmp_path):
    key, message = only(problems(tmp_path, changed(aws__endpoints={"ec2": "localhost:4566"})))
    assert key == "aws.endpoints.ec2" and "URL" in message


def test_no_cloud_section(tmp_path):
    key, message = only(problems(tmp_path, changed(aws=None, azure=None)))
    assert "nothing to synthesize" in message


def test_all_problems_reported_at_once(tmp_path):
    found = problems(tmp_path, changed(roles__admin_pc=["10.0.99.1"],
                                       roles__external_nameserver=["9.9.9.9/33"]))
    assert {k for k, _ in found} == {"roles.admin_pc[0]", "roles.external_nameserver[0]"}


def test_warnings_for_plain_http_and_unused_roles(tmp_path):
    d = config.load(write(tmp_path, changed(appliance__features={"admin_http": True},
                                            roles__internal_nameserver=["10.0.0.53/32"])))
    text = "\n".join(d.warnings)
    assert "admin_http" in text and "plain-HTTP" in text
    assert "roles.internal_nameserver is not used" in text


def test_examples_reference_the_published_schema():
    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "examples").glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../sxcloud/deployment.schema.json", path
        target = (path.parent / "../sxcloud/deployment.schema.json").resolve()
        assert target == (root / "sxcloud" / "deployment.schema.json").resolve() and target.exists()


def test_schema_and_cidr_problems_reported_together(tmp_path):
    found = dict(problems(tmp_path, changed(appliance__fetures={}, roles__admin_pc=["10.0.99.7"])))
    assert set(found) == {"appliance.fetures", "roles.admin_pc[0]"}


def test_examples_cover_every_dns_mode_and_feature():
    root = Path(__file__).resolve().parent.parent
    loaded = [config.load(p) for p in sorted((root / "examples").glob("*.yaml"))]
    assert {d.appliance.dns for d in loaded} == set(catalog.DNS_MODES)
    assert set().union(*(d.appliance.features for d in loaded)) == set(catalog.FEATURES)
    assert any(d.aws and not d.azure and not d.appliance.cluster and d.appliance.internal_firewall
               and d.appliance.dns == "external" for d in loaded)
    assert any(d.aws and d.appliance.cluster and d.appliance.ipv6 and any(
        b.security_group_ids for b in d.aws.bindings.values()) and any(
        b.prefix_list_ids for b in d.aws.bindings.values()) for d in loaded)
    assert any(d.azure and d.appliance.cluster and d.azure.bindings and d.azure.subnet_ids
               for d in loaded)
    assert any(d.aws and d.azure and not d.appliance.internal_firewall for d in loaded)
