output "function_name" {
  description = "Starter function name."
  value       = module.function.function_name
}

output "alias_arn" {
  description = "Starter alias ARN (the event source mapping's target)."
  value       = module.function.alias_arn
}

output "log_group_name" {
  description = "Starter log group."
  value       = module.function.log_group_name
}

output "event_source_mapping" {
  description = "The queue → starter event source mapping (source, target alias, batching, scaling)."
  value       = aws_lambda_event_source_mapping.this
}

output "event_source_mapping_uuid" {
  description = "UUID of the queue → starter event source mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "environment" {
  description = "The starter's environment variables."
  value       = local.environment
}

output "policy_json" {
  description = "The starter role's inline policy (beyond writing its own logs)."
  value       = local.policy_json
}

output "reserved_concurrent_executions" {
  description = "Reserved concurrency of the starter; -1 or null when it runs on the unreserved pool."
  value       = module.function.reserved_concurrent_executions
}
