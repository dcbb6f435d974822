# Each task gets only what its step touches; every statement names exact prefixes, table, index,
# topic, aliases or state machine. The starter's policy is pipeline_starter's.
locals {
  raw_uploads   = "${var.raw_bucket_arn}/${var.s3_prefixes.uploads}*"
  raw_archive   = "${var.raw_bucket_arn}/${var.s3_prefixes.archive}*"
  out_staging   = "${var.output_bucket_arn}/${var.s3_prefixes.staging}*"
  out_processed = "${var.output_bucket_arn}/${var.s3_prefixes.processed}*"

  # The state machine's ARN, built from its name and this pipeline's queue ARN (partition, region,
  # account): the tasks' policies cannot name aws_sfn_state_machine.this, whose definition names them.
  arn_parts     = split(":", var.queue_arn)
  state_machine = "arn:${local.arn_parts[1]}:states:${local.arn_parts[3]}:${local.arn_parts[4]}:stateMachine:${local.state_machine_name}"

  # Reading data under the customer managed key, and writing it (S3 objects, SNS messages).
  kms_read = var.kms_key_arn == null ? [] : [
    {
      Sid      = "UseStorageKey"
      Effect   = "Allow"
      Action   = "kms:Decrypt"
      Resource = var.kms_key_arn
    },
  ]
  kms_read_write = var.kms_key_arn == null ? [] : [
    {
      Sid      = "UseStorageKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    },
  ]
  # Tasks that only read (S3 objects, job records) need no data key.
  kms_by_task = {
    "sfn-extract"          = local.kms_read
    "sfn-transform"        = local.kms_read_write
    "sfn-load"             = local.kms_read_write
    "sfn-request-approval" = local.kms_read_write
    "sfn-finalize"         = local.kms_read_write
  }

  track_jobs = {
    Sid      = "TrackJobs"
    Effect   = "Allow"
    Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    Resource = var.jobs_table_arn
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
    "sfn-extract" = [
      local.read_uploads,
      local.list_raw,
      {
        # The first step creates the job record when the starter's did not survive.
        Sid      = "CreateJobs"
        Effect   = "Allow"
        Action   = "dynamodb:PutItem"
        Resource = var.jobs_table_arn
      },
    ]
    "sfn-transform" = [
      local.read_uploads,
      {
        Sid      = "WriteStaging"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = local.out_staging
      },
      local.list_raw,
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
      {
        # Delivers a decision recorded while a retried approval request was pending; task tokens are
        # authorized against the state machine.
        Sid      = "DeliverPendingDecision"
        Effect   = "Allow"
        Action   = "states:SendTaskSuccess"
        Resource = local.state_machine
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
        # GetObjectVersion: finalize publishes exactly the staged versions a decision was made on
        # (CopyObject naming a source version needs it: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
        Sid      = "PublishOrDiscardStaging"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject"]
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
        # A COMPLETED job becomes its dataset's "latest published" pointer item (a conditional put),
        # the version the dataset's next upload is compared with on the review page.
        Sid      = "PointDatasetAtPublishedJob"
        Effect   = "Allow"
        Action   = "dynamodb:PutItem"
        Resource = var.jobs_table_arn
      },
      local.list_raw,
      local.list_output,
    ]
  }

  task_policy_json = {
    for key, statements in local.task_statements : key => jsonencode({
      Version   = "2012-10-17"
      Statement = concat(statements, [local.track_jobs], local.kms_by_task[key])
    })
  }
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
