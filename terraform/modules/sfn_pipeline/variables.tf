variable "name" {
  description = "Prefix of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter and hold 2-21 lowercase letters, digits or hyphens."
  }
}

variable "package_file" {
  description = "Path of the built sfn package (make build → dist/sfn.zip)."
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

variable "starter_memory_size" {
  description = "Memory of the starter in MB."
  type        = number
  default     = 256
}

variable "starter_timeout" {
  description = "Timeout of one starter invocation in seconds; the queue's visibility timeout should be 6 times this."
  type        = number
  default     = 30
}

variable "approval_timeout_seconds" {
  description = "TimeoutSeconds of the approval task (waitForTaskToken) before the job expires."
  type        = number
  default     = 86400

  validation {
    condition     = var.approval_timeout_seconds >= 60
    error_message = "approval_timeout_seconds must be at least 60."
  }
}

variable "log_retention_days" {
  description = "Log retention of the functions and the state machine in days."
  type        = number
  default     = 30
}

variable "raw_bucket_arn" {
  description = "ARN of this pipeline's raw bucket (uploads/, archive/)."
  type        = string
}

variable "output_bucket_name" {
  description = "Name of this pipeline's output bucket (staging/, processed/)."
  type        = string
}

variable "output_bucket_arn" {
  description = "ARN of this pipeline's output bucket."
  type        = string
}

variable "s3_prefixes" {
  description = "Key prefixes of the S3 layout (storage module output s3_prefixes)."
  type = object({
    uploads   = string
    archive   = string
    staging   = string
    processed = string
  })
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
  description = "ARN of the jobs table's status index."
  type        = string
}

variable "topic_arn" {
  description = "Approval topic ARN."
  type        = string
}

variable "queue_arn" {
  description = "ARN of this pipeline's event queue (S3 notifications of objects created under uploads/)."
  type        = string
}

variable "api_url" {
  description = "Base URL of the approval API; review links in approval e-mails point at it."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed key of the storage, or null; the functions get decrypt/encrypt on it when set."
  type        = string
  default     = null
}

variable "max_file_bytes" {
  description = "Largest upload accepted, in bytes (ETL_MAX_FILE_BYTES). A whole file is transformed in one invocation of the transform function, so max_file_bytes <= 4194304 (4 MiB/s, the throughput assumed on Lambda) x (transform_timeout - 60 s); see terraform/README.md."
  type        = number
  default     = 1073741824

  validation {
    condition     = var.max_file_bytes >= 1 && var.max_file_bytes <= 4194304 * (var.transform_timeout - 60)
    error_message = "max_file_bytes must be at most 4194304 x (transform_timeout - 60): a file this large could not be transformed within one invocation at the 4 MiB/s assumed on Lambda."
  }
}

variable "job_retention_days" {
  description = "Days a job record is kept before its TTL expires it (ETL_RETENTION_DAYS); it must outlive the longest wait for a decision: at least approval_timeout_seconds in days, rounded up, plus 7."
  type        = number
  default     = 90

  validation {
    condition     = var.job_retention_days >= ceil(var.approval_timeout_seconds / 86400) + 7
    error_message = "job_retention_days must be at least approval_timeout_seconds in days (rounded up) plus 7: a job record must outlive the longest wait for a decision."
  }
}

variable "starter_batch_size" {
  description = "Events per starter invocation."
  type        = number
  default     = 10

  validation {
    condition     = var.starter_batch_size >= 1 && var.starter_batch_size <= 10000
    error_message = "starter_batch_size must be between 1 and 10000."
  }
}

variable "starter_batching_window_seconds" {
  description = "How long the event source mapping gathers events before invoking the starter."
  type        = number
  default     = 1

  validation {
    condition     = var.starter_batching_window_seconds >= 0 && var.starter_batching_window_seconds <= 300
    error_message = "starter_batching_window_seconds must be between 0 and 300."
  }
}

variable "starter_max_concurrency" {
  description = "Most concurrent starter invocations the queue drives (event source mapping maximum_concurrency)."
  type        = number
  default     = 5

  validation {
    condition     = var.starter_max_concurrency >= 2 && var.starter_max_concurrency <= 1000
    error_message = "starter_max_concurrency must be between 2 and 1000 (the SQS event source mapping range)."
  }
}

variable "starter_reserved_concurrency" {
  description = "Reserved concurrent executions of the starter, or null (the unreserved pool); at least starter_max_concurrency when set (validated by pipeline_starter)."
  type        = number
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "definition_file" {
  description = "The ASL template (lambdas/sfn/src/etl_sfn/state_machine.asl.json); its placeholders $${extract_arn}, $${transform_arn}, $${load_arn}, $${request_approval_arn}, $${finalize_arn} and $${approval_timeout_seconds} are filled by templatefile()."
  type        = string
}

variable "task_memory_size" {
  description = "Memory of the extract, load, request-approval and finalize functions in MB."
  type        = number
  default     = 512
}

variable "transform_memory_size" {
  description = "Memory of the transform function in MB (it streams the CSV through etl_core)."
  type        = number
  default     = 1024
}

variable "task_timeout" {
  description = "Timeout of the extract, load, request-approval and finalize functions in seconds."
  type        = number
  default     = 300
}

variable "transform_timeout" {
  description = "Timeout of the transform function in seconds."
  type        = number
  default     = 900
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

variable "dataset_policies" {
  description = "Quality policies per dataset as JSON (ETL_DATASET_POLICIES of the functions that run the load step; README \"Quality bands\"): thresholds that publish a pass, send a warn to a reviewer and reject a fail, and what an approval timeout does. Empty: every job waits for a reviewer and expires at the timeout."
  type        = string
  default     = ""

  validation {
    condition     = var.dataset_policies == "" || can(keys(jsondecode(var.dataset_policies)))
    error_message = "dataset_policies must be empty or a JSON object (jsonencode({version = ..., default = {...}, datasets = {...}}))."
  }

  validation {
    # Lambda allows 4 KB for all of a function's environment variables together:
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
    condition     = length(var.dataset_policies) <= 2048
    error_message = "dataset_policies must be at most 2048 characters: Lambda allows 4 KB for all of a function's environment variables."
  }

  validation {
    condition = var.dataset_policies == "" || try(alltrue([
      for p in concat([try(jsondecode(var.dataset_policies).default, {})], values(try(jsondecode(var.dataset_policies).datasets, {}))) :
      contains(["expire", "reject", "approve_if_policy_passes"], try(p.on_timeout, "expire")) && contains(["review", "publish"], try(p.on_pass, "review"))
    ]), false)
    error_message = "Each policy's on_timeout must be expire, reject or approve_if_policy_passes, and its on_pass review or publish."
  }
}
