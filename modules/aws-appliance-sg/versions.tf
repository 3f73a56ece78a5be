terraform {
  # Validation of other variables in a variable block and `terraform test` mock providers.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}
