# `terraform test` with a mocked aws provider: no AWS, no credentials. The rules and their keys
# come from sxcloud-rules; this checks what this module adds: the group's name, description
# and tags, the self references, the vpc_id and tags inputs, the bound ids, and bad input.
# Run from this module's folder after `terraform init -plugin-dir=<mirror>` (tests/test_modules.py).

mock_provider "aws" {
  mock_resource "aws_security_group" {
    defaults = {
      id  = "sg-0123456789abcdef0"
      arn = "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0"
    }
  }
}

run "cluster_example" {
  command = apply

  variables {
    deployment = yamldecode(file("../../examples/aws-cluster-ipv6.yaml"))
    tags       = { Team = "mail", Name = "not this one" }
  }

  assert {
    condition     = aws_security_group.this.name == "mail-aws-cluster-appliance"
    error_message = "group name differs from the CDK stack's"
  }
  assert {
    condition     = aws_security_group.this.description == "SX-MailCrypt appliances of mail-aws-cluster (managed by sxcloud)"
    error_message = "group description differs from the CDK stack's"
  }
  assert {
    condition = aws_security_group.this.tags == tomap({
      Name = "mail-aws-cluster-appliance", "sxcloud:deployment" = "mail-aws-cluster", ManagedBy = "sxcloud", Team = "mail"
    })
    error_message = "sxcloud's tags must win over the extra tags, which are added"
  }
  assert {
    condition     = aws_security_group.this.vpc_id == "vpc-0fedcba9876543210"
    error_message = "vpc_id must come from the file"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["R02_in_tcp22_sg_self"].referenced_security_group_id == "sg-0123456789abcdef0"
    error_message = "the cluster's self rule must reference the group itself"
  }
  assert {
    condition     = alltrue([for r in concat(values(aws_vpc_security_group_ingress_rule.this), values(aws_vpc_security_group_egress_rule.this)) : r.security_group_id == "sg-0123456789abcdef0"])
    error_message = "every rule must belong to the group"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["R03_in_tcp25_sg_0aaaabbbbccccdddd"].referenced_security_group_id == "sg-0aaaabbbbccccdddd"
    error_message = "a bound group from the file keeps its id and its key"
  }
  assert {
    condition     = length(output.rules) == length(aws_vpc_security_group_ingress_rule.this) + length(aws_vpc_security_group_egress_rule.this)
    error_message = "the rules output lists every rule"
  }
  assert {
    condition     = output.security_group_arn == "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0"
    error_message = "security_group_arn is the group's"
  }
}

run "vpc_id_input_overrides_the_file" {
  command = plan

  variables {
    deployment = yamldecode(file("../../examples/aws-single.yaml"))
    vpc_id     = "vpc-0aaaaaaaaaaaaaaaa"
  }

  assert {
    condition     = aws_security_group.this.vpc_id == "vpc-0aaaaaaaaaaaaaaaa"
    error_message = "var.vpc_id must override aws.vpc_id"
  }
}

run "vpc_id_input_stands_in_for_the_file" {
  command = plan

  variables {
    deployment = merge(yamldecode(file("../../examples/aws-single.yaml")), {
      aws = { region = "eu-central-1" }
    })
    vpc_id = "vpc-0bbbbbbbbbbbbbbbb"
  }

  assert {
    condition     = aws_security_group.this.vpc_id == "vpc-0bbbbbbbbbbbbbbbb"
    error_message = "var.vpc_id must serve when the file has no aws.vpc_id"
  }
}

run "bound_groups_by_name" {
  command = apply

  variables {
    deployment = yamldecode(file("../../examples/aws-single.yaml"))
    bound_security_group_ids = {
      internal_mail_server = { exchange = "sg-0ccccccccccccccc1" }
    }
    bound_prefix_list_ids = {
      admin_pc = { admins = "pl-0ddddddddddddddd1" }
    }
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["R03_in_tcp25_sg_exchange"].referenced_security_group_id == "sg-0ccccccccccccccc1"
    error_message = "a group bound by name is keyed by its name and referenced by its id"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["R16_in_tcp8443_pl_admins"].prefix_list_id == "pl-0ddddddddddddddd1"
    error_message = "a prefix list bound by name is keyed by its name and referenced by its id"
  }
  assert {
    condition     = !contains(keys(aws_vpc_security_group_ingress_rule.this), "R03_in_tcp25_cidr_10-10-1-25_32")
    error_message = "a bound role's CIDRs give no rules, as in the CDK stack"
  }
}

run "no_aws_section" {
  command = plan

  variables {
    deployment = yamldecode(file("../../examples/azure-cluster.yaml"))
  }

  expect_failures = [aws_security_group.this]
}

run "bad_bound_name" {
  command = plan

  variables {
    deployment               = yamldecode(file("../../examples/aws-single.yaml"))
    bound_security_group_ids = { internal_mail_server = { "not a name" = "sg-0ccccccccccccccc1" } }
  }

  expect_failures = [var.bound_security_group_ids]
}

run "site_exceptions" {
  command = apply

  variables {
    deployment = yamldecode(file("../../examples/exceptions-both.yaml"))
    today      = "2026-12-01"
  }

  assert {
    condition = aws_vpc_security_group_ingress_rule.this["X-noc-snmp_in_udp161_cidr_10-0-50-10_32"].tags == tomap({
      "sxcloud:exception" = "noc-snmp", "sxcloud:owner" = "noc-team", "sxcloud:expires" = "2027-06-30", "sxcloud:ticket" = "CHG-1234"
    })
    error_message = "an exception's rule carries its id, owner, expiry and ticket as tags"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["X-noc-ping_in_icmpt8_cidr_10-0-50-10_32"].from_port == 8 && aws_vpc_security_group_ingress_rule.this["X-noc-ping_in_icmpt8_cidr_10-0-50-10_32"].to_port == -1
    error_message = "an ICMP type is from_port, every code is to_port -1"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.this["X-vpn-esp_out_p50_cidr_10-0-70-1_32"].ip_protocol == "50" && aws_vpc_security_group_egress_rule.this["X-vpn-esp_out_p50_cidr_10-0-70-1_32"].from_port == null
    error_message = "a protocol number has no ports"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["R03_in_tcp25_cidr_10-0-1-10_32"].tags == null
    error_message = "vendor rules carry no tags"
  }
}
