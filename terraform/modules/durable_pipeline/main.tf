locals {
  workflow    = "durable"
  source_hash = filebase64sha256(var.package_file)

  # Handler paths and environment variable names as etl_aws.contract.FUNCTIONS defines them;
  # tests/terraform holds these locals against the contract. The starter's environment is separate
  # because it names the orchestrator's alias.
  handlers = {
    "durable-orchestrator" = "etl_durable.orchestrator.handler"
    "durable-starter"      = "etl_durable.starter.handler"
  }

  environment = {
    "durable-orchestrator" = {
      ETL_JOBS_TABLE               = var.jobs_table_name
      ETL_OUTPUT_BUCKET            = var.output_bucket_name
      ETL_WORKFLOW                 = local.workflow
      ETL_MAX_FILE_BYTES           = tostring(var.max_file_bytes)
      ETL_RETENTION_DAYS           = tostring(var.job_retention_days)
      ETL_TOPIC_ARN                = var.topic_arn
      ETL_API_URL                  = var.api_url
      ETL_APPROVAL_TIMEOUT_SECONDS = tostring(var.approval_timeout_seconds)
    }
  }

  starter_environment = {
    ETL_JOBS_TABLE       = var.jobs_table_name
    ETL_WORKFLOW         = local.workflow
    ETL_ORCHESTRATOR_ARN = module.orchestrator.alias_arn
    ETL_RETENTION_DAYS   = tostring(var.job_retention_days)
  }
}

# The workflow: every step runs inside this function; the approval is a durable callback, so the
# wait costs no compute. Invoked only through its alias (a durable function needs a qualified ARN).
module "orchestrator" {
  source = "../lambda_function"

  function_name    = local.orchestrator_name
  description      = "ETL workflow as a Lambda durable function: extract, transform, load, approval callback, finalize."
  handler          = local.handlers["durable-orchestrator"]
  environment      = local.environment["durable-orchestrator"]
  filename         = var.package_file
  source_code_hash = local.source_hash
  runtime          = var.runtime
  architecture     = var.architecture
  memory_size      = var.orchestrator_memory_size
  timeout          = var.orchestrator_timeout

  durable_config = {
    execution_timeout = var.execution_timeout_seconds
    retention_period  = var.durable_retention_days
  }

  # Checkpointing is granted on this function's own executions (iam.tf), not through the AWS managed
  # AWSLambdaBasicDurableExecutionRolePolicy, which grants it, and log group creation, on "*".
  attach_policy_json = true
  policy_json        = local.orchestrator_policy_json

  log_retention_days = var.log_retention_days
  tags               = var.tags
}

# SQS → starter: derives the job id from the S3 event, records the job, starts the durable execution
# named after it (a duplicate event is a no-op), and reports per-message failures.
module "starter" {
  source = "../lambda_function"

  function_name    = "${var.name}-durable-starter"
  description      = "Starts one durable ETL execution per uploads/*.csv event."
  handler          = local.handlers["durable-starter"]
  environment      = local.starter_environment
  filename         = var.package_file
  source_code_hash = local.source_hash
  runtime          = var.runtime
  architecture     = var.architecture
  memory_size      = var.starter_memory_size
  timeout          = var.starter_timeout

  attach_policy_json = true
  policy_json        = local.starter_policy_json

  log_retention_days = var.log_retention_days
  tags               = var.tags
}

resource "aws_lambda_event_source_mapping" "starter" {
  event_source_arn                   = var.queue_arn
  function_name                      = module.starter.alias_arn
  batch_size                         = var.starter_batch_size
  maximum_batching_window_in_seconds = var.starter_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.starter_max_concurrency
  }

  tags = var.tags
}
