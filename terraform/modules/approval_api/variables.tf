variable "name" {
  description = "Prefix of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter and hold 2-21 lowercase letters, digits or hyphens."
  }
}

variable "package_file" {
  description = "Path of the built approval package (make build → dist/approval.zip)."
  type        = string
}

variable "runtime" {
  description = "Lambda Python runtime."
  type        = string
  default     = "python3.13"
}

variable "architecture" {
  description = "arm64 or x86_64; must match the build (build_lambdas.py --arch)."
  type        = string
  default     = "arm64"
}

variable "memory_size" {
  description = "Memory of the approval function in MB."
  type        = number
  default     = 512
}

variable "timeout" {
  description = "Timeout of the approval function in seconds (API Gateway gives up after 29)."
  type        = number
  default     = 29
}

variable "log_retention_days" {
  description = "Retention of the function's, the access and the execution log groups in days."
  type        = number
  default     = 30
}

variable "jobs_table_name" {
  description = "Jobs table name."
  type        = string
}

variable "jobs_table_arn" {
  description = "Jobs table ARN."
  type        = string
}

variable "jobs_status_index_arn" {
  description = "ARN of the jobs table's status index (GET /jobs?status=)."
  type        = string
}

variable "durable_function_arns" {
  description = "Unqualified ARNs of durable orchestrators whose callbacks this API completes ([] without the durable pipeline)."
  type        = list(string)
  default     = []
}

variable "state_machine_arns" {
  description = "ARNs of state machines whose task tokens this API completes ([] without the Step Functions pipeline)."
  type        = list(string)
  default     = []
}

variable "output_bucket_arns" {
  description = "ARNs of the pipelines' output buckets, whose published outputs POST /jobs/{jobId}/unpublish moves from processed/ to retracted/."
  type        = list(string)
  default     = []
}

variable "s3_prefixes" {
  description = "Key prefixes of the S3 layout (storage module output s3_prefixes)."
  type = object({
    processed = string
    retracted = string
  })
  default = {
    processed = "processed/"
    retracted = "retracted/"
  }
}

variable "kms_key_arn" {
  description = "Customer managed key of the jobs table and the buckets, or null."
  type        = string
  default     = null
}

variable "stage_name" {
  description = "API stage name; the last path segment of the invoke URL."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second across the stage."
  type        = number
  default     = 20

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be positive."
  }
}

variable "throttling_burst_limit" {
  description = "Request burst across the stage."
  type        = number
  default     = 40

  validation {
    condition     = var.throttling_burst_limit > 0
    error_message = "throttling_burst_limit must be positive."
  }
}

variable "reject_reason_required" {
  description = "Whether an operator's rejection must give a reason (ETL_REJECT_REASON_REQUIRED). false accepts the seed article's reject calls without one; a reviewer's review-link rejection is unaffected."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "review_config_json" {
  description = "Who reviews each dataset, as JSON (ETL_REVIEW_CONFIG; etl_aws.reviewers): the root's review_policy, encoded. \"{}\": one shared review link, one approval."
  type        = string
  default     = "{}"

  validation {
    condition     = can(jsondecode(var.review_config_json))
    error_message = "review_config_json must be JSON (an object: {\"default\": {...}, \"datasets\": {...}})."
  }
}

variable "topic_arn" {
  description = "Approval topic ARN: the schedule's run sends reminders to it (ETL_TOPIC_ARN)."
  type        = string
}
