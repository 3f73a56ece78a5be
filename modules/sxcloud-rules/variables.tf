variable "deployment" {
  description = "The deployment file's content, e.g. yamldecode(file(\"$${path.module}/sxcloud.yaml\")). Keys, types and defaults are those of sxcloud's JSON Schema (sxcloud/deployment.schema.json)."
  type        = any

  # The whole-document checks. Every check of a key inside the document is in input.tf and
  # fails the plan through the precondition of the `warnings` output, so that all problems
  # are reported at once.
  validation {
    condition     = can(keys(var.deployment))
    error_message = "deployment: must be a mapping of keys (version, name, roles, ...), such as yamldecode(file(\"sxcloud.yaml\"))."
  }
  validation {
    condition     = try(var.deployment.version == 1, false)
    error_message = "deployment: version: is required and must be 1."
  }
}
