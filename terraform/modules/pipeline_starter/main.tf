locals {
  # The starter's environment as etl_aws.contract.FUNCTIONS defines it for "<workflow>-starter";
  # tests/terraform holds these names against the contract.
  environment = {
    ETL_JOBS_TABLE       = var.jobs_table_name
    ETL_WORKFLOW         = var.workflow
    ETL_ORCHESTRATOR_ARN = var.orchestrator_arn
    ETL_RETENTION_DAYS   = tostring(var.job_retention_days)
  }

  # Reading job records and queue messages under the customer managed key.
  kms_read = var.kms_key_arn == null ? [] : [
    {
      Sid      = "UseStorageKey"
      Effect   = "Allow"
      Action   = "kms:Decrypt"
      Resource = var.kms_key_arn
    },
  ]

  policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid    = "ConsumeUploadEvents"
        Effect = "Allow"
        # What the event source mapping polls with:
        # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = var.queue_arn
      },
      {
        Sid      = "RecordJobs"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = var.jobs_table_arn
      },
      {
        Sid      = var.start_permission.sid
        Effect   = "Allow"
        Action   = var.start_permission.action
        Resource = var.orchestrator_arn
      },
    ], local.kms_read)
  })
}

# SQS → starter: derives the job id from the S3 event, records the job and starts the orchestrator's
# execution named after it (a duplicate event is a no-op), reporting per-message failures.
module "function" {
  source = "../lambda_function"

  function_name    = "${var.name}-${var.workflow}-starter"
  description      = var.description
  handler          = var.handler
  environment      = local.environment
  filename         = var.package_file
  source_code_hash = filebase64sha256(var.package_file)
  runtime          = var.runtime
  architecture     = var.architecture
  memory_size      = var.memory_size
  timeout          = var.timeout

  reserved_concurrency = var.reserved_concurrency

  attach_policy_json = true
  policy_json        = local.policy_json

  log_retention_days = var.log_retention_days
  tags               = var.tags
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = var.queue_arn
  function_name                      = module.function.alias_arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }

  tags = var.tags
}
