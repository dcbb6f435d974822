output "orchestrator_function_name" {
  description = "Orchestrator function name."
  value       = module.orchestrator.function_name
}

output "orchestrator_function_arn" {
  description = "Unqualified orchestrator ARN; the approval API's callback permissions cover it and its versions."
  value       = module.orchestrator.function_arn
}

output "orchestrator_alias_arn" {
  description = "Qualified ARN (alias) the starter invokes: ETL_ORCHESTRATOR_ARN."
  value       = module.orchestrator.alias_arn
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
  value = {
    "durable-orchestrator" = module.orchestrator.alias_arn
    "durable-starter"      = module.queue_starter.alias_arn
  }
}

output "log_group_names" {
  description = "Log group per function key."
  value = {
    "durable-orchestrator" = module.orchestrator.log_group_name
    "durable-starter"      = module.queue_starter.log_group_name
  }
}

output "reserved_concurrency" {
  description = "Reserved concurrency of the orchestrator and the starter (null or -1: the unreserved pool)."
  value = {
    orchestrator = module.orchestrator.reserved_concurrent_executions
    starter      = module.queue_starter.reserved_concurrent_executions
  }
}
