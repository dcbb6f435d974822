variable "name" {
  description = "Prefix of every resource name; the function is <name>-<workflow>-starter."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter and hold 2-21 lowercase letters, digits or hyphens."
  }
}

variable "workflow" {
  description = "The pipeline this starter feeds (ETL_WORKFLOW): durable or sfn."
  type        = string

  validation {
    condition     = contains(["durable", "sfn"], var.workflow)
    error_message = "workflow must be durable or sfn."
  }
}

variable "handler" {
  description = "Handler path of the starter (etl_aws.contract.FUNCTIONS)."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
}

variable "package_file" {
  description = "Path of the pipeline's built package (make build → dist/<workflow>.zip)."
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
  description = "Memory of the starter in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout of one starter invocation in seconds; the queue's visibility timeout should be 6 times this."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Log retention of the starter in days."
  type        = number
  default     = 30
}

variable "queue_arn" {
  description = "ARN of the pipeline's event queue (S3 notifications of objects created under uploads/)."
  type        = string
}

variable "jobs_table_name" {
  description = "Jobs table name."
  type        = string
}

variable "jobs_table_arn" {
  description = "Jobs table ARN."
  type        = string
}

variable "job_retention_days" {
  description = "Days a job record is kept before its TTL expires it (ETL_RETENTION_DAYS)."
  type        = number
  default     = 90
}

variable "kms_key_arn" {
  description = "Customer managed key of the storage, or null; the starter gets decrypt on it when set."
  type        = string
  default     = null
}

variable "orchestrator_arn" {
  description = "What the starter starts (ETL_ORCHESTRATOR_ARN): the durable orchestrator's alias ARN or the state machine ARN. The start permission names exactly this ARN."
  type        = string
}

variable "start_permission" {
  description = "The statement id and IAM action that start one execution of the orchestrator (lambda:InvokeFunction on the durable alias, states:StartExecution on the state machine)."
  type = object({
    sid    = string
    action = string
  })

  validation {
    condition     = contains(["lambda:InvokeFunction", "states:StartExecution"], var.start_permission.action)
    error_message = "start_permission.action must be lambda:InvokeFunction (durable) or states:StartExecution (Step Functions)."
  }
}

variable "batch_size" {
  description = "Events per starter invocation."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "batching_window_seconds" {
  description = "How long the event source mapping gathers events before invoking the starter."
  type        = number
  default     = 1

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be between 0 and 300."
  }
}

variable "max_concurrency" {
  description = "Most concurrent starter invocations the queue drives (event source mapping maximum_concurrency)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000
    error_message = "max_concurrency must be between 2 and 1000 (the SQS event source mapping range)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the starter, or null (the unreserved pool). When set it must be at least max_concurrency, or Lambda throttles the queue's batches: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= var.max_concurrency, false)
    error_message = "reserved_concurrency must be null or at least max_concurrency: a starter reserved below its event source mapping's maximum concurrency is throttled."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
