terraform {
  # startswith/endswith/strcontains: Terraform 1.5, OpenTofu 1.6. No provider: the module
  # only computes data.
  required_version = ">= 1.5.0"
}
