# A root configuration to copy: the appliance firewall of sxcloud.yaml as plain Terraform,
# beside the appliance's network interface. The same sxcloud.yaml serves `sxcloud verify`,
# `review` and `audit aws`. Copy this folder and ../../../modules (or use a git source,
# "git::https://.../sxcloud.git//modules/aws-appliance-sg?ref=..."), edit sxcloud.yaml, then
# `terraform init && terraform apply -var subnet_id=subnet-...`.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}

locals {
  deployment = yamldecode(file("${path.module}/sxcloud.yaml"))
}

provider "aws" {
  region = local.deployment.aws.region
}

variable "subnet_id" {
  description = "The subnet of the appliance's network interface (in aws.vpc_id of sxcloud.yaml)."
  type        = string
}

module "appliance_firewall" {
  source = "../../../modules/aws-appliance-sg"

  deployment = local.deployment
  tags       = { Environment = "production" }
}

# The appliance's network interface, in the appliance security group. An instance takes it
# with `network_interface { network_interface_id = aws_network_interface.appliance.id ... }`.
resource "aws_network_interface" "appliance" {
  subnet_id       = var.subnet_id
  security_groups = [module.appliance_firewall.security_group_id]
  description     = "SX-MailCrypt appliance"
}

output "security_group_id" {
  value = module.appliance_firewall.security_group_id
}

output "network_interface_id" {
  value = aws_network_interface.appliance.id
}

output "warnings" {
  value = module.appliance_firewall.warnings
}
