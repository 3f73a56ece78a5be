output "security_group_id" {
  description = "The appliances' security group; attach it to their network interfaces."
  value       = aws_security_group.this.id
}

output "security_group_arn" {
  description = "The ARN of the appliances' security group."
  value       = aws_security_group.this.arn
}

output "rules" {
  description = "The rules by key (the CDK stack's resource names): direction, security_group_rule_id and arn."
  value = merge(
    { for key, rule in aws_vpc_security_group_ingress_rule.this : key => { direction = "ingress", security_group_rule_id = rule.security_group_rule_id, arn = rule.arn } },
    { for key, rule in aws_vpc_security_group_egress_rule.this : key => { direction = "egress", security_group_rule_id = rule.security_group_rule_id, arn = rule.arn } },
  )
}

output "usage" {
  description = "Rules per direction and IP family, as AWS counts them against the quota (sxcloud-rules' aws_usage)."
  value       = module.rules.aws_usage
}

output "warnings" {
  description = "sxcloud's warnings about the deployment (sxcloud-rules' warnings)."
  value       = module.rules.warnings
}
