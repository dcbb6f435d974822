variable "name" {
  description = "Prefix of every resource name; one deployment per name and account."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter and hold 2-21 lowercase letters, digits or hyphens."
  }
}

variable "pipelines" {
  description = "The pipelines to store data for: \"durable\", \"sfn\" or both. Each gets a raw and an output bucket and an event queue."
  type        = set(string)

  validation {
    condition     = length(var.pipelines) > 0 && alltrue([for p in var.pipelines : contains(["durable", "sfn"], p)])
    error_message = "pipelines must be a non-empty subset of [\"durable\", \"sfn\"]."
  }
}

variable "approver_emails" {
  description = "E-mail addresses subscribed to the approval topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.approver_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "approver_emails must be e-mail addresses."
  }
}

variable "reviewer_emails" {
  description = "Named reviewers' and escalation addresses (etl_aws.reviewers): each subscribed by e-mail with a filter policy, so it receives only the messages addressed to it (its own review link, reminders)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.reviewer_emails : can(regex("^[^@\\sA-Z]+@[^@\\sA-Z]+\\.[^@\\sA-Z]+$", e))])
    error_message = "reviewer_emails must be lower-case e-mail addresses (message attributes match them exactly)."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the buckets, the jobs table and the topic. null: SSE-S3, the DynamoDB AWS managed key and alias/aws/sns."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets that still hold objects (dev deployments)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the jobs table from deletion."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept before S3 expires it."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "staging_expiration_days" {
  description = "Days after which objects left under staging/ expire; keep it longer than the approval timeout."
  type        = number
  default     = 30

  validation {
    condition     = var.staging_expiration_days >= 1
    error_message = "staging_expiration_days must be at least 1."
  }
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the event queues; at least 6 times the starter function's timeout."
  type        = number
  default     = 180

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 0 && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be between 0 and 43200."
  }
}

variable "queue_max_receive_count" {
  description = "Deliveries of an event before it moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.queue_max_receive_count >= 1 && var.queue_max_receive_count <= 1000
    error_message = "queue_max_receive_count must be between 1 and 1000."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
