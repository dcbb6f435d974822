output "state_machine_arn" {
  description = "State machine ARN: ETL_ORCHESTRATOR_ARN of the starter, and what the approval API sends task results for."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "State machine name."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_log_group_name" {
  description = "Log group of the state machine's execution logs."
  value       = aws_cloudwatch_log_group.state_machine.name
}

output "definition" {
  description = "The rendered ASL definition."
  value       = local.definition
}

output "starter_function_name" {
  description = "Starter function name."
  value       = module.queue_starter.function_name
}

output "starter_alias_arn" {
  description = "Starter alias ARN (the event source mapping's target)."
  value       = module.queue_starter.alias_arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the queue → starter event source mapping."
  value       = module.queue_starter.event_source_mapping_uuid
}

output "function_alias_arns" {
  description = "Alias ARN per function key of etl_aws.contract.FUNCTIONS."
  value = merge(
    { for key, task in module.task : key => task.alias_arn },
    { "sfn-starter" = module.queue_starter.alias_arn },
  )
}

output "log_group_names" {
  description = "Log group per function key."
  value = merge(
    { for key, task in module.task : key => task.log_group_name },
    { "sfn-starter" = module.queue_starter.log_group_name },
  )
}
