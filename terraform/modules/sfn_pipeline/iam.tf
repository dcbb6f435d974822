# Each task gets only what its step touches; every statement names exact prefixes, table, index,
# topic, queue, aliases or state machine.
locals {
  raw_uploads   = "${var.raw_bucket_arn}/${var.s3_prefixes.uploads}*"
  raw_archive   = "${var.raw_bucket_arn}/${var.s3_prefixes.archive}*"
  out_staging   = "${var.output_bucket_arn}/${var.s3_prefixes.staging}*"
  out_processed = "${var.output_bucket_arn}/${var.s3_prefixes.processed}*"

  kms_statements = var.kms_key_arn == null ? [] : [
    {
      Sid      = "UseStorageKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    },
  ]

  track_jobs = {
    Sid      = "TrackJobs"
    Effect   = "Allow"
    Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:Query"]
    Resource = [var.jobs_table_arn, var.jobs_status_index_arn]
  }

  # Without ListBucket a missing key reads as 403 instead of 404, and idempotent steps check for
  # their own earlier output.
  list_raw = {
    Sid      = "ListRawBucket"
    Effect   = "Allow"
    Action   = "s3:ListBucket"
    Resource = var.raw_bucket_arn
  }
  list_output = {
    Sid      = "ListOutputBucket"
    Effect   = "Allow"
    Action   = "s3:ListBucket"
    Resource = var.output_bucket_arn
  }
  read_uploads = {
    # GetObjectVersion: every read names the exact version the event reported.
    Sid      = "ReadUploads"
    Effect   = "Allow"
    Action   = ["s3:GetObject", "s3:GetObjectVersion"]
    Resource = local.raw_uploads
  }

  task_statements = {
    "sfn-extract" = [local.read_uploads, local.list_raw]
    "sfn-transform" = [
      local.read_uploads,
      {
        Sid      = "WriteStaging"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = local.out_staging
      },
      local.list_raw,
      local.list_output,
    ]
    "sfn-load" = [
      {
        Sid      = "CheckStagingWriteManifest"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = local.out_staging
      },
      local.list_output,
    ]
    "sfn-request-approval" = [
      {
        Sid      = "RequestApproval"
        Effect   = "Allow"
        Action   = "sns:Publish"
        Resource = var.topic_arn
      },
    ]
    "sfn-finalize" = [
      local.read_uploads,
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
        Sid      = "PublishOrDiscardStaging"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:DeleteObject"]
        Resource = local.out_staging
      },
      {
        Sid      = "PublishProcessed"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = local.out_processed
      },
      local.list_raw,
      local.list_output,
    ]
  }

  task_policy_json = {
    for key, statements in local.task_statements : key => jsonencode({
      Version   = "2012-10-17"
      Statement = concat(statements, [local.track_jobs], local.kms_statements)
    })
  }

  starter_policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "ConsumeUploadEvents"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
        Resource = var.queue_arn
      },
      {
        Sid      = "RecordJobs"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = var.jobs_table_arn
      },
      {
        Sid      = "StartExecution"
        Effect   = "Allow"
        Action   = "states:StartExecution"
        Resource = aws_sfn_state_machine.this.arn
      },
    ], local.kms_statements)
  })
}

resource "aws_iam_role" "state_machine" {
  name = "${var.name}-sfn-state-machine"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "states.amazonaws.com" }
        Action    = "sts:AssumeRole"
      },
    ]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "state_machine" {
  #checkov:skip=CKV_AWS_290:Only CloudWatch Logs delivery and X-Ray use "*": AWS offers no resource-level permissions for them.
  #checkov:skip=CKV_AWS_355:Only CloudWatch Logs delivery and X-Ray use "*": AWS offers no resource-level permissions for them.
  name = "invoke-tasks-and-log"
  role = aws_iam_role.state_machine.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The five task aliases, nothing else (not $LATEST, not other versions).
        Sid      = "InvokeTasks"
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = [for key in keys(local.tasks) : module.task[key].alias_arn]
      },
      {
        # Step Functions logs through CloudWatch Logs vended delivery, whose APIs accept no resource
        # ARN: AWS documents "*" for them.
        Sid    = "DeliverExecutionLogs"
        Effect = "Allow"
        Action = [
          "logs:CreateLogDelivery",
          "logs:GetLogDelivery",
          "logs:UpdateLogDelivery",
          "logs:DeleteLogDelivery",
          "logs:ListLogDeliveries",
          "logs:PutResourcePolicy",
          "logs:DescribeResourcePolicies",
          "logs:DescribeLogGroups",
        ]
        Resource = "*"
      },
      {
        # X-Ray trace ingestion supports no resource-level permissions: AWS requires "*".
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
        Resource = "*"
      },
    ]
  })
}
