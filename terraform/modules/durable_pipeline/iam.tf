# Each statement names the exact bucket prefixes, table, index and topic it is for; the starter's
# policy (queue, table, orchestrator alias) is pipeline_starter's.
locals {
  raw_uploads   = "${var.raw_bucket_arn}/${var.s3_prefixes.uploads}*"
  raw_archive   = "${var.raw_bucket_arn}/${var.s3_prefixes.archive}*"
  out_staging   = "${var.output_bucket_arn}/${var.s3_prefixes.staging}*"
  out_processed = "${var.output_bucket_arn}/${var.s3_prefixes.processed}*"

  # The orchestrator's own ARN, built from its name and this pipeline's queue ARN (partition, region,
  # account): naming the function itself in its role's policy would be a cycle. Its durable executions
  # are "<function ARN>:<version>/durable-execution/<name>/<id>", matched by ":*" and never by the
  # unqualified ARN. https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html
  orchestrator_name = "${var.name}-durable-orchestrator"
  arn_parts         = split(":", var.queue_arn)
  own_executions    = "arn:${local.arn_parts[1]}:lambda:${local.arn_parts[3]}:${local.arn_parts[4]}:function:${local.orchestrator_name}:*"

  # Reading data under the customer managed key, and writing it (S3 objects, SNS messages).
  kms_read_write = var.kms_key_arn == null ? [] : [
    {
      Sid      = "UseStorageKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    },
  ]

  orchestrator_policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        # GetObjectVersion: every read names the exact version the event reported.
        Sid      = "ReadUploads"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion"]
        Resource = local.raw_uploads
      },
      {
        # Archiving moves the exact source version: a copy under archive/ (checked on a re-run),
        # then a delete of that version from uploads/.
        Sid      = "ArchiveSource"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = local.raw_archive
      },
      {
        Sid      = "RemoveArchivedUpload"
        Effect   = "Allow"
        Action   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
        Resource = local.raw_uploads
      },
      {
        # GetObjectVersion: finalize publishes exactly the staged versions a decision was made on
        # (CopyObject naming a source version needs it: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
        Sid      = "WriteStaging"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = local.out_staging
      },
      {
        # DeleteObject: an ending other than COMPLETED retracts whatever a crashed publish left.
        Sid      = "PublishProcessed"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
        Resource = local.out_processed
      },
      {
        # Without ListBucket a missing key reads as 403 instead of 404, and idempotent steps check
        # for their own earlier output.
        Sid      = "ListOwnBuckets"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = [var.raw_bucket_arn, var.output_bucket_arn]
      },
      {
        Sid      = "TrackJobs"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = var.jobs_table_arn
      },
      {
        Sid      = "RequestApproval"
        Effect   = "Allow"
        Action   = "sns:Publish"
        Resource = var.topic_arn
      },
      {
        # Checkpointing is what the durable SDK does with the function's role; the callback success
        # delivers a decision recorded while a retried approval request was pending.
        Sid      = "RunOwnDurableExecutions"
        Effect   = "Allow"
        Action   = ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState", "lambda:SendDurableExecutionCallbackSuccess"]
        Resource = local.own_executions
      },
    ], local.kms_read_write)
  })
}
