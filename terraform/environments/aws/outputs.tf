output "raw_bucket_names" {
  description = "Raw bucket per pipeline: upload CSVs under uploads/."
  value       = module.storage.raw_bucket_names
}

output "output_bucket_names" {
  description = "Output bucket per pipeline: approved data under processed/."
  value       = module.storage.output_bucket_names
}

output "api_url" {
  description = "Base URL of the approval API (operators sign requests with SigV4; reviewers follow e-mailed links)."
  value       = module.approval_api.invoke_url
}

output "state_machine_arn" {
  description = "Step Functions state machine ARN, or null without that pipeline."
  value       = one(module.sfn[*].state_machine_arn)
}

output "durable_orchestrator_alias_arn" {
  description = "Durable orchestrator alias ARN, or null without that pipeline."
  value       = one(module.durable[*].orchestrator_alias_arn)
}

output "function_alias_arns" {
  description = "Alias ARN per function key of etl_aws.contract.FUNCTIONS."
  value = merge(
    { "approval-api" = module.approval_api.function_alias_arn },
    concat(
      [for p in module.durable : p.function_alias_arns],
      [for p in module.sfn : p.function_alias_arns],
    )...
  )
}

output "queue_urls" {
  description = "Event queue URL per pipeline."
  value       = module.storage.queue_urls
}

output "dlq_urls" {
  description = "Dead-letter queue URL per pipeline."
  value       = module.storage.dlq_urls
}

output "jobs_table_name" {
  description = "Jobs table name."
  value       = module.storage.jobs_table_name
}

output "topic_arn" {
  description = "Approval topic ARN."
  value       = module.storage.topic_arn
}
