output "raw_bucket_names" {
  description = "Raw bucket (uploads/, archive/) name per pipeline."
  value       = { for p, k in local.raw_buckets : p => aws_s3_bucket.this[k].bucket }
}

output "raw_bucket_arns" {
  description = "Raw bucket ARN per pipeline."
  value       = { for p, k in local.raw_buckets : p => aws_s3_bucket.this[k].arn }
}

output "output_bucket_names" {
  description = "Output bucket (staging/, processed/) name per pipeline."
  value       = { for p, k in local.out_buckets : p => aws_s3_bucket.this[k].bucket }
}

output "output_bucket_arns" {
  description = "Output bucket ARN per pipeline."
  value       = { for p, k in local.out_buckets : p => aws_s3_bucket.this[k].arn }
}

output "s3_prefixes" {
  description = "The key prefixes of the S3 layout, for IAM scoping, plus the upload suffix that triggers a job."
  value = {
    uploads       = local.upload_prefix
    upload_suffix = local.upload_suffix
    archive       = local.archive_prefix
    staging       = local.staging_prefix
    processed     = local.processed_prefix
    retracted     = local.retracted_prefix
  }
}

output "queue_arns" {
  description = "Event queue ARN per pipeline."
  value       = { for p, q in aws_sqs_queue.events : p => q.arn }
}

output "queue_urls" {
  description = "Event queue URL per pipeline."
  value       = { for p, q in aws_sqs_queue.events : p => q.id }
}

output "dlq_arns" {
  description = "Dead-letter queue ARN per pipeline."
  value       = { for p, q in aws_sqs_queue.dlq : p => q.arn }
}

output "dlq_urls" {
  description = "Dead-letter queue URL per pipeline."
  value       = { for p, q in aws_sqs_queue.dlq : p => q.id }
}

output "jobs_table_name" {
  description = "Jobs table name."
  value       = aws_dynamodb_table.jobs.name
}

output "jobs_table_arn" {
  description = "Jobs table ARN."
  value       = aws_dynamodb_table.jobs.arn
}

output "jobs_status_index_arn" {
  description = "ARN of the jobs table's status index."
  value       = "${aws_dynamodb_table.jobs.arn}/index/${local.jobs_status_index}"
}

output "topic_arn" {
  description = "Approval topic ARN."
  value       = aws_sns_topic.approvals.arn
}

output "kms_key_arn" {
  description = "The customer managed key the storage uses, or null."
  value       = var.kms_key_arn
}

output "reviewer_subscriptions" {
  description = "Named reviewers' and escalation addresses → their e-mail subscription's ARN (each must be confirmed from the e-mail SNS sends)."
  value       = { for address, s in aws_sns_topic_subscription.reviewers : address => s.arn }
}
