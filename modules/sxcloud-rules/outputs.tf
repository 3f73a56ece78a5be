output "aws_resources" {
  description = "The `resource` block of sxcloud's AWS stack for this deployment (null without an aws section): resource type -> name -> attributes."
  value       = local.aws_resources

  precondition {
    condition     = length(local.aws_problems) == 0
    error_message = join("\n", local.aws_problems)
  }
}

output "aws_usage" {
  description = "Rules per direction and IP family, as AWS counts them against the quota, and the quota (aws.rule_quota)."
  value       = local.aws_usage
}

output "azure_resources" {
  description = "The `resource` block of sxcloud's Azure stack for this deployment (null without an azure section): resource type -> name -> attributes."
  value       = local.azure_resources

  precondition {
    condition     = length(local.azure_problems) == 0
    error_message = join("\n", local.azure_problems)
  }
}

output "warnings" {
  description = "What sxcloud warns about for this deployment (the loader's warnings without the file name, then the clouds')."
  value       = concat(local.input_warnings, local.aws_warnings, local.azure_warnings)

  # Bad input fails here (every output is evaluated at plan time, used or not); one output
  # only, so that each problem is reported once.
  precondition {
    condition     = length(local.input_problems) == 0
    error_message = "The deployment '${local.d.name}' has ${length(local.input_problems)} problem(s):\n${join("\n", local.input_problems)}"
  }
}
