variable "function_name" {
  description = "Function name; also names its role and log group."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Handler path, module.function (see etl_aws.contract.FUNCTIONS)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.handler))
    error_message = "handler must be a dotted Python path such as package.module.function."
  }
}

variable "filename" {
  description = "Path of the built deployment zip (make build → dist/<package>.zip)."
  type        = string
}

variable "source_code_hash" {
  description = "base64 SHA-256 of the zip (filebase64sha256(filename)); the build is reproducible, so it only changes with the code."
  type        = string
}

variable "runtime" {
  description = "Lambda Python runtime."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.1[0-9]$", var.runtime))
    error_message = "runtime must be a python3.1x runtime such as python3.13."
  }
}

variable "architecture" {
  description = "Instruction set; must match the wheels the zip was built with (build_lambdas.py --arch)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout of one invocation in seconds (a durable execution spans many invocations)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "environment" {
  description = "Environment variables."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null leaves the function on the unreserved pool."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 0, false)
    error_message = "reserved_concurrency must be null or a non-negative number."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the environment variables; null uses the Lambda AWS managed key."
  type        = string
  default     = null
}

variable "log_kms_key_arn" {
  description = "Customer managed KMS key for the log group (its key policy must allow CloudWatch Logs); null: CloudWatch Logs encryption."
  type        = string
  default     = null
}

variable "attach_policy_json" {
  description = "Attach policy_json as an inline policy of the function's role."
  type        = bool
  default     = false
}

variable "policy_json" {
  description = "IAM policy document (JSON) with the permissions the function needs beyond writing its own logs."
  type        = string
  default     = null

  validation {
    condition     = var.policy_json == null || can(jsondecode(var.policy_json))
    error_message = "policy_json must be a JSON policy document."
  }
}

variable "managed_policy_arns" {
  description = "Managed policies to attach to the role, by a static key (e.g. { durable = <arn> })."
  type        = map(string)
  default     = {}
}

variable "durable_config" {
  description = "Make this a Lambda durable function: execution_timeout in seconds (1-31622400) and retention_period of the execution history in days (1-90). null: a plain function. Durability can only be set when the function is created."
  type = object({
    execution_timeout = number
    retention_period  = optional(number, 14)
  })
  default = null

  validation {
    condition = var.durable_config == null || try(
      var.durable_config.execution_timeout >= 1 && var.durable_config.execution_timeout <= 31622400 &&
      var.durable_config.retention_period >= 1 && var.durable_config.retention_period <= 90,
      false
    )
    error_message = "durable_config.execution_timeout must be 1-31622400 seconds and retention_period 1-90 days."
  }
}

variable "alias_name" {
  description = "Alias pointing at the version published by every change; callers invoke the alias."
  type        = string
  default     = "live"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
