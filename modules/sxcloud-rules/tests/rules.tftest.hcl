# `terraform test` (plan only; the module has no provider). Run from modules/sxcloud-rules;
# tests/test_modules_rules.py runs it too, and checks Azure's address limit (4,000 prefixes
# take this module over a minute to evaluate, too long for this file).

variables {
  deployment = {
    version = 1
    name    = "tftest"
    roles = {
      internal_network     = ["10.0.0.0/16"]
      internal_mail_server = ["10.0.1.10/32"]
      external_nameserver  = ["9.9.9.9/32"]
      admin_pc             = ["10.0.99.0/24"]
    }
    aws   = { region = "eu-central-1", vpc_id = "vpc-0123456789abcdef0" }
    azure = { location = "westeurope", resource_group = "rg-mail" }
  }
}

run "defaults_from_the_schema" {
  command = plan

  assert {
    condition     = output.aws_usage.quota == 60 && output.aws_usage.ingress.IPv6 == 0
    error_message = "the schema's default rule quota is 60, and ipv6 is off by default"
  }
  assert {
    condition     = output.aws_resources.aws_vpc_security_group_ingress_rule["R16_in_tcp8443_cidr_10-0-99-0_24"].from_port == 8443
    error_message = "admin_https is on by default"
  }
  assert {
    condition     = output.azure_resources.azurerm_network_security_rule["deny-in-all"].priority == 4096
    error_message = "the inbound deny sits at 4096"
  }
}

run "host_bits_set" {
  command = plan
  variables {
    deployment = merge(var.deployment, { roles = merge(var.deployment.roles, { admin_pc = ["10.0.99.7/24"] }) })
  }
  expect_failures = [output.warnings]
}

run "unknown_key" {
  command = plan
  variables {
    deployment = merge(var.deployment, { gcp = {} })
  }
  expect_failures = [output.warnings]
}

run "unknown_dns_mode" {
  command = plan
  variables {
    deployment = merge(var.deployment, { appliance = { dns = "google" } })
  }
  expect_failures = [output.warnings]
}

run "wrong_version" {
  command = plan
  variables {
    deployment = merge(var.deployment, { version = 2 })
  }
  expect_failures = [var.deployment]
}

run "quota_overrun" {
  command = plan
  variables {
    deployment = merge(var.deployment, {
      roles = merge(var.deployment.roles, { admin_pc = [for i in range(61) : "10.1.${i}.0/24"] })
    })
  }
  expect_failures = [output.aws_resources]
}

run "name_starting_with_sg" {
  command = plan
  variables {
    deployment = merge(var.deployment, { name = "sg-mail" })
  }
  expect_failures = [output.warnings]
}

run "control_character_in_a_backend_setting" {
  command = plan
  variables {
    deployment = merge(var.deployment, { aws = merge(var.deployment.aws, { backend = { s3 = { bucket = "b\u0007", key = "k", region = "eu-central-1" } } }) })
  }
  expect_failures = [output.warnings]
}

run "role_wider_than_a_slash_8" {
  command = plan
  variables {
    deployment = merge(var.deployment, { roles = merge(var.deployment.roles, { admin_pc = ["10.0.0.0/7"] }) })
  }
  expect_failures = [output.warnings]
}

# Sixteen /7 blocks that are together 2000::/3, the routed IPv6 Internet (issue 15).
run "routed_ipv6_internet_as_a_role" {
  command = plan
  variables {
    deployment = merge(var.deployment, {
      appliance = { ipv6 = true }
      roles     = merge(var.deployment.roles, { internal_network = [for i in range(16) : format("%x::/7", 8192 + i * 512)] })
    })
  }
  expect_failures = [output.warnings]
}

run "control_characters_in_the_name" {
  command = plan
  variables {
    deployment = merge(var.deployment, { name = "mail\u001b[2J\u001b]8;;https://x.example/\u001b\\\\\u0007" })
  }
  expect_failures = [output.warnings]
}

# Site exceptions: a plain YAML date (which yamldecode reads as a timestamp) is the date, and
# `today` fixes the day the expiry warnings count from.
run "exception_with_a_plain_yaml_date" {
  command = plan
  variables {
    today = "2027-06-10"
    deployment = merge(var.deployment, yamldecode(<<-YAML
      exceptions:
        - id: noc-snmp
          direction: inbound
          protocol: udp
          ports: [161]
          peer: {cidrs: [10.0.50.10/32]}
          reason: SNMP polling by the NOC
          owner: noc-team
          expires: 2027-06-30
      YAML
    ))
  }

  assert {
    condition     = output.aws_resources.aws_vpc_security_group_ingress_rule["X-noc-snmp_in_udp161_cidr_10-0-50-10_32"].tags["sxcloud:expires"] == "2027-06-30"
    error_message = "a plain YAML date is the date"
  }
  assert {
    condition     = contains(output.warnings, "exceptions[0]: X-noc-snmp expires in 20 days (2027-06-30); renew it (a later `expires`) or remove it")
    error_message = "an exception within 30 days of its date warns, counted from var.today"
  }
}

run "exception_expired" {
  command = plan
  variables {
    today = "2027-07-02"
    deployment = merge(var.deployment, {
      exceptions = [{
        id     = "noc-snmp", direction = "inbound", protocol = "udp", ports = [161], peer = { cidrs = ["10.0.50.10/32"] },
        reason = "SNMP polling by the NOC", owner = "noc-team", expires = "2027-06-30"
      }]
    })
  }

  assert {
    condition     = contains(output.warnings, "exceptions[0]: X-noc-snmp expired on 2027-06-30 (expired 2 days ago); it is still emitted, and verify, review and audit report it until it is renewed or removed")
    error_message = "an expired exception warns, and its rules stay"
  }
  assert {
    condition     = output.azure_resources.azurerm_network_security_rule["X-noc-snmp-in-v4"].protocol == "Udp"
    error_message = "an expired exception's rules are still emitted"
  }
}

run "exception_too_far_ahead" {
  command = plan
  variables {
    today = "2026-06-01"
    deployment = merge(var.deployment, {
      exceptions = [{
        id     = "noc-snmp", direction = "inbound", protocol = "udp", ports = [161], peer = { cidrs = ["10.0.50.10/32"] },
        reason = "SNMP polling by the NOC", owner = "noc-team", expires = "2027-06-30"
      }]
    })
  }
  expect_failures = [output.warnings]
}

run "today_malformed" {
  command = plan
  variables {
    today = "2027-02-30"
  }
  expect_failures = [var.today]
}
