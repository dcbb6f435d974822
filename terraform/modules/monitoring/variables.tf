variable "name" {
  description = "Prefix of every resource name (the deployment's name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter and hold 2-21 lowercase letters, digits or hyphens."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each confirms by e-mail); empty: none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "jobs_table_name" {
  description = "The jobs table: the JobsTable dimension of the job metrics (etl_aws.job_metrics)."
  type        = string
}

variable "pipelines" {
  description = "Per deployed pipeline (durable, sfn): its dead-letter queue, its starter function and its orchestrator (durable: the function's name; sfn: the state machine's ARN)."
  type = map(object({
    dlq_name              = string
    starter_function_name = string
    orchestrator          = string
  }))

  validation {
    condition     = length(var.pipelines) > 0 && alltrue([for p in keys(var.pipelines) : contains(["durable", "sfn"], p)])
    error_message = "pipelines must name durable and/or sfn."
  }
}

variable "api_name" {
  description = "The approval REST API's name (the ApiName dimension of AWS/ApiGateway)."
  type        = string
}

variable "api_stage_name" {
  description = "The approval API's stage (the Stage dimension of AWS/ApiGateway)."
  type        = string
}

variable "alarm_period_seconds" {
  description = "Period over which each alarm's metric is aggregated."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarm_period_seconds)
    error_message = "alarm_period_seconds must be 60, 300, 900 or 3600."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the alarm topic; null uses the AWS managed SNS key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "jobs_function_name" {
  description = "The function a schedule invokes to publish the jobs' ages (the approval API's: etl_aws.job_ages)."
  type        = string
}

variable "jobs_function_alias_arn" {
  description = "The alias ARN of jobs_function_name the schedule invokes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$", var.jobs_function_alias_arn))
    error_message = "jobs_function_alias_arn must be a Lambda function ARN qualified by its alias."
  }
}

variable "job_ages_schedule_minutes" {
  description = "How often the jobs' ages are published (minutes)."
  type        = number
  default     = 5

  validation {
    condition     = var.job_ages_schedule_minutes >= 1 && var.job_ages_schedule_minutes <= 60 && floor(var.job_ages_schedule_minutes) == var.job_ages_schedule_minutes
    error_message = "job_ages_schedule_minutes must be a whole number of minutes from 1 to 60."
  }
}

variable "stuck_after_minutes" {
  description = "A job that has not moved for this long in a processing status (RECEIVED … APPROVED) raises an alarm."
  type        = number
  default     = 30

  validation {
    condition     = var.stuck_after_minutes >= 5
    error_message = "stuck_after_minutes must be at least 5 (a step may run up to 15 minutes, retries included longer)."
  }
}

variable "approval_warning_minutes" {
  description = "An approval with less time than this left before its timeout (the job then ends EXPIRED) raises an alarm."
  type        = number
  default     = 120

  validation {
    condition     = var.approval_warning_minutes >= 1
    error_message = "approval_warning_minutes must be at least 1."
  }
}
