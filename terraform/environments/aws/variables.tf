variable "name" {
  description = "Prefix of every resource name; one deployment per name and account."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter and hold 2-21 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "approver_emails" {
  description = "E-mail addresses that receive approval requests (each must confirm the SNS subscription)."
  type        = list(string)
  default     = []
}

variable "review_policy" {
  description = <<-EOT
    Who reviews each dataset (an upload's folder, e.g. "uploads/sales"), with a default for the others.
    reviewers: e-mail addresses, each sent a review link of their own; approvals_required: distinct approvals
    that publish (1, or 2 up to the number of reviewers); operators: IAM principal (or role) ARNs allowed to
    decide on the operator routes (empty: any); uploader_may_approve: false keeps the uploader from
    approving their own file; escalation: addresses reminded too; remind_before_minutes: when the one
    reminder goes (null: none). Unset: one shared link to approver_emails, one approval.
  EOT
  type = object({
    default = optional(object({
      reviewers             = optional(list(string), [])
      approvals_required    = optional(number, 1)
      operators             = optional(list(string), [])
      uploader_may_approve  = optional(bool, true)
      escalation            = optional(list(string), [])
      remind_before_minutes = optional(number)
    }), {})
    datasets = optional(map(object({
      reviewers             = optional(list(string), [])
      approvals_required    = optional(number, 1)
      operators             = optional(list(string), [])
      uploader_may_approve  = optional(bool, true)
      escalation            = optional(list(string), [])
      remind_before_minutes = optional(number)
    })), {})
  })
  default = {}

  validation {
    condition = alltrue([
      for p in concat([var.review_policy.default], values(var.review_policy.datasets)) :
      p.approvals_required >= 1 && floor(p.approvals_required) == p.approvals_required &&
      (p.approvals_required == 1 || p.approvals_required <= length(p.reviewers))
    ])
    error_message = "approvals_required must be 1, or a whole number from 2 up to the number of reviewers."
  }

  validation {
    condition = alltrue(flatten([
      for p in concat([var.review_policy.default], values(var.review_policy.datasets)) :
      [for e in concat(p.reviewers, p.escalation) : can(regex("^[^@\\sA-Z]+@[^@\\sA-Z]+\\.[^@\\sA-Z]+$", e))]
    ]))
    error_message = "reviewers and escalation must be lower-case e-mail addresses."
  }

  validation {
    condition = alltrue([
      for p in concat([var.review_policy.default], values(var.review_policy.datasets)) :
      p.remind_before_minutes == null || try(p.remind_before_minutes >= 1, false)
    ])
    error_message = "remind_before_minutes must be at least 1 (or null: no reminder)."
  }

  validation {
    condition = alltrue(flatten([
      for p in concat([var.review_policy.default], values(var.review_policy.datasets)) :
      [for a in p.operators : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$", a))]
    ]))
    error_message = "operators must be IAM principal ARNs (users, roles, or assumed-role sessions)."
  }

  validation {
    # SNS keeps one subscription per endpoint: an address cannot have the shared filter and its own.
    condition = length(setintersection(toset(var.approver_emails), toset(flatten([
      for p in concat([var.review_policy.default], values(var.review_policy.datasets)) : concat(p.reviewers, p.escalation)
    ])))) == 0
    error_message = "An address in review_policy (reviewers, escalation) cannot also be in approver_emails."
  }
}

variable "enable_durable" {
  description = "Deploy the Lambda durable functions pipeline."
  type        = bool
  default     = true
}

variable "enable_step_functions" {
  description = "Deploy the Step Functions pipeline."
  type        = bool
  default     = true

  validation {
    condition     = var.enable_step_functions || var.enable_durable
    error_message = "Enable at least one pipeline (enable_durable or enable_step_functions)."
  }
}

variable "runtime" {
  description = "Lambda Python runtime of every function."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.1[0-9]$", var.runtime))
    error_message = "runtime must be a python3.1x runtime such as python3.13."
  }
}

variable "architecture" {
  description = "Lambda architecture; build the zips for the same one (scripts/build_lambdas.py --arch)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "step_memory_size" {
  description = "Memory in MB of the functions that run steps (the durable orchestrator and the Step Functions transform)."
  type        = number
  default     = 1024
}

variable "task_memory_size" {
  description = "Memory in MB of the Step Functions extract, load, request-approval and finalize functions."
  type        = number
  default     = 512
}

variable "starter_memory_size" {
  description = "Memory in MB of the starters."
  type        = number
  default     = 256
}

variable "approval_memory_size" {
  description = "Memory in MB of the approval API function."
  type        = number
  default     = 512
}

variable "approval_timeout_seconds" {
  description = "How long a job waits for a decision before it expires."
  type        = number
  default     = 86400

  validation {
    condition     = var.approval_timeout_seconds >= 60 && var.approval_timeout_seconds <= 31536000
    error_message = "approval_timeout_seconds must be between 60 and 31536000 (a year)."
  }
}

variable "reject_reason_required" {
  description = "Whether an operator's rejection through the approval API must give a reason; false accepts the seed article's reject calls without one."
  type        = bool
  default     = true
}

variable "execution_timeout_seconds" {
  description = "Durable execution timeout; must exceed approval_timeout_seconds so an expiry is handled by the workflow, not killed."
  type        = number
  default     = 172800

  validation {
    condition     = var.execution_timeout_seconds > var.approval_timeout_seconds && var.execution_timeout_seconds <= 31622400
    error_message = "execution_timeout_seconds must be greater than approval_timeout_seconds and at most 31622400 (366 days)."
  }
}

variable "durable_retention_days" {
  description = "Days Lambda keeps a closed durable execution's history."
  type        = number
  default     = 14
}

variable "log_retention_days" {
  description = "Retention of every log group in days."
  type        = number
  default     = 30
}

variable "starter_max_concurrency" {
  description = "Most concurrent starter invocations per pipeline (SQS event source mapping maximum_concurrency, 2-1000)."
  type        = number
  default     = 5
}

# Both default to null (the unreserved pool): a new account's concurrency quota can be as low as 10,
# and Lambda refuses a reservation that leaves fewer than 10 unreserved executions.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
variable "starter_reserved_concurrency" {
  description = "Reserved concurrent executions of each starter, or null. When set, at least starter_max_concurrency: a starter reserved below its queue's maximum concurrency is throttled (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html)."
  type        = number
  default     = null

  validation {
    condition     = var.starter_reserved_concurrency == null || try(var.starter_reserved_concurrency >= var.starter_max_concurrency && var.starter_reserved_concurrency <= 1000, false)
    error_message = "starter_reserved_concurrency must be null or between starter_max_concurrency and 1000."
  }
}

variable "orchestrator_reserved_concurrency" {
  description = "Reserved concurrent executions of the durable orchestrator, or null. It bounds how many workflow steps run at once; executions waiting for a decision hold none."
  type        = number
  default     = null

  validation {
    condition     = var.orchestrator_reserved_concurrency == null || try(var.orchestrator_reserved_concurrency >= 1 && var.orchestrator_reserved_concurrency <= 1000, false)
    error_message = "orchestrator_reserved_concurrency must be null or between 1 and 1000 (0 would stop every execution)."
  }
}

variable "max_file_bytes" {
  description = "Largest upload a job accepts, in bytes. The whole file is transformed in one invocation of a 900 s function, so at most 4194304 (4 MiB/s, the throughput assumed on Lambda) x (900 - 60); see terraform/README.md."
  type        = number
  default     = 1073741824

  validation {
    condition     = var.max_file_bytes >= 1 && var.max_file_bytes <= 4194304 * (900 - 60)
    error_message = "max_file_bytes must be between 1 and 3523215360 (4 MiB/s x 840 s): a larger file could not be transformed within one 900 s invocation."
  }
}

variable "job_retention_days" {
  description = "Days a job record is kept before its TTL removes it; at least approval_timeout_seconds in days, rounded up, plus 7, so a record outlives the longest wait for a decision."
  type        = number
  default     = 90

  validation {
    condition     = var.job_retention_days >= ceil(var.approval_timeout_seconds / 86400) + 7
    error_message = "job_retention_days must be at least approval_timeout_seconds in days (rounded up) plus 7: a job record must outlive the longest wait for a decision."
  }
}

variable "dist_dir" {
  description = "Directory holding the built zips (durable.zip, sfn.zip, approval.zip); null: the repository's dist/."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for buckets, jobs table and topic; null uses SSE-S3 and AWS managed keys."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (dev deployments)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the jobs table from deletion."
  type        = bool
  default     = false
}

variable "api_stage_name" {
  description = "Stage name of the approval API."
  type        = string
  default     = "v1"
}

variable "manage_api_gateway_account" {
  description = "Create the role API Gateway needs to write logs and set it on the account (a per-region, account-wide setting). true by default: the approval API's stage logs access, which API Gateway refuses in an account with no logging role. Set false in every further deployment of the same account and region, or where another stack sets the role."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource (also applied as provider default tags)."
  type        = map(string)
  default     = {}
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
