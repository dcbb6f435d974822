# Alarms (to an SNS topic) and a dashboard over both pipelines: terraform/modules/monitoring.

variable "enable_monitoring" {
  description = "Create the alarms, their SNS topic and the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each confirms by e-mail); empty: subscribe later."
  type        = list(string)
  default     = []
}

module "monitoring" {
  source = "../../modules/monitoring"
  count  = var.enable_monitoring ? 1 : 0

  name            = var.name
  alarm_emails    = var.alarm_emails
  jobs_table_name = module.storage.jobs_table_name
  kms_key_arn     = var.kms_key_arn

  pipelines = {
    for p in local.pipelines : p => {
      # arn:<partition>:sqs:<region>:<account>:<queue name>
      dlq_name              = split(":", module.storage.dlq_arns[p])[5]
      starter_function_name = p == "durable" ? one(module.durable[*].starter_function_name) : one(module.sfn[*].starter_function_name)
      orchestrator          = p == "durable" ? one(module.durable[*].orchestrator_function_name) : one(module.sfn[*].state_machine_arn)
    }
  }
  api_name       = module.approval_api.rest_api_name
  api_stage_name = module.approval_api.stage_name

  # The approval API's function publishes the jobs' ages on a schedule (etl_aws.job_ages).
  jobs_function_name      = module.approval_api.function_name
  jobs_function_alias_arn = module.approval_api.function_alias_arn

  tags = var.tags
}

output "alarm_topic_arn" {
  description = "The SNS topic the alarms notify; null without monitoring."
  value       = var.enable_monitoring ? module.monitoring[0].alarm_topic_arn : null
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the deployment; null without monitoring."
  value       = var.enable_monitoring ? module.monitoring[0].dashboard_name : null
}
