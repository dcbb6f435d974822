locals {
  workflow    = "durable"
  source_hash = filebase64sha256(var.package_file)

  # Handler paths and environment variable names as etl_aws.contract.FUNCTIONS defines them;
  # tests/terraform holds these locals against the contract. The starter's environment is the
  # pipeline_starter module's, which names the orchestrator's alias.
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
      ETL_REVIEW_CONFIG            = var.review_config_json
      ETL_DATASET_POLICIES         = var.dataset_policies
    }
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

  reserved_concurrency = var.orchestrator_reserved_concurrency

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
module "queue_starter" {
  source = "../pipeline_starter"

  name         = var.name
  workflow     = local.workflow
  handler      = local.handlers["durable-starter"]
  description  = "Starts one durable ETL execution per uploads/*.csv event."
  package_file = var.package_file
  runtime      = var.runtime
  architecture = var.architecture
  memory_size  = var.starter_memory_size
  timeout      = var.starter_timeout

  queue_arn          = var.queue_arn
  jobs_table_name    = var.jobs_table_name
  jobs_table_arn     = var.jobs_table_arn
  job_retention_days = var.job_retention_days
  kms_key_arn        = var.kms_key_arn

  # The alias only: a durable execution must be started through a qualified ARN.
  orchestrator_arn = module.orchestrator.alias_arn
  start_permission = { sid = "StartDurableExecution", action = "lambda:InvokeFunction" }

  batch_size              = var.starter_batch_size
  batching_window_seconds = var.starter_batching_window_seconds
  max_concurrency         = var.starter_max_concurrency
  reserved_concurrency    = var.starter_reserved_concurrency

  log_retention_days = var.log_retention_days
  tags               = var.tags
}

# The starter and its event source mapping moved into pipeline_starter: the same resources, kept.
moved {
  from = module.starter
  to   = module.queue_starter.module.function
}

moved {
  from = aws_lambda_event_source_mapping.starter
  to   = module.queue_starter.aws_lambda_event_source_mapping.this
}
