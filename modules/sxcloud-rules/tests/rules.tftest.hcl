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
