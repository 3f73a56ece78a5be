output "aws_resources" {
  description = "The `resource` block of sxcloud's AWS stack for this deployment (null without an aws section): resource type -> name -> attributes."
  value       = local.aws_resources

  precondition {
    condition     = length(local.aws_problems) == 0
    error_message = join("\n", local.shown.aws)
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
    error_message = join("\n", local.shown.azure)
  }
}

output "warnings" {
  description = "What sxcloud warns about for this deployment (the loader's warnings without the file name, then the clouds')."
  value       = local.shown.warnings

  # Bad input fails here (every output is evaluated at plan time, used or not); one output
  # only, so that each problem is reported once.
  precondition {
    condition     = length(local.input_problems) == 0
    error_message = "The deployment '${local.shown.name[0]}' has ${length(local.input_problems)} problem(s):\n${join("\n", local.shown.input)}"
  }
}
