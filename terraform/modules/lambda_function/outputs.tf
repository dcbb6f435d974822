output "function_name" {
  description = "Function name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified function ARN (for IAM statements that cover every version, with \":*\")."
  value       = aws_lambda_function.this.arn
}

output "version" {
  description = "The version the alias points at."
  value       = aws_lambda_function.this.version
}

output "alias_name" {
  description = "Alias name."
  value       = aws_lambda_alias.this.name
}

output "alias_arn" {
  description = "Qualified ARN of the alias: what callers invoke and IAM grants lambda:InvokeFunction on."
  value       = aws_lambda_alias.this.arn
}

output "alias_invoke_arn" {
  description = "Invoke ARN of the alias, for API Gateway integrations."
  value       = aws_lambda_alias.this.invoke_arn
}

output "role_name" {
  description = "Execution role name."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "Execution role ARN."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Log group name."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "Log group ARN."
  value       = aws_cloudwatch_log_group.this.arn
}

output "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function; -1 when it runs on the unreserved pool."
  value       = aws_lambda_function.this.reserved_concurrent_executions
}
