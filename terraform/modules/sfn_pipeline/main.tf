locals {
  workflow           = "sfn"
  state_machine_name = "${var.name}-etl"
  source_hash        = filebase64sha256(var.package_file)

  # Handler paths and environment variable names as etl_aws.contract.FUNCTIONS defines them;
  # tests/terraform holds these locals against the contract. The starter's environment is the
  # pipeline_starter module's, which names the state machine.
  handlers = {
    "sfn-extract"          = "etl_sfn.tasks.extract_handler"
    "sfn-transform"        = "etl_sfn.tasks.transform_handler"
    "sfn-load"             = "etl_sfn.tasks.load_handler"
    "sfn-request-approval" = "etl_sfn.tasks.request_approval_handler"
    "sfn-finalize"         = "etl_sfn.tasks.finalize_handler"
    "sfn-starter"          = "etl_sfn.starter.handler"
  }

  environment = {
    "sfn-extract" = {
      ETL_JOBS_TABLE     = var.jobs_table_name
      ETL_OUTPUT_BUCKET  = var.output_bucket_name
      ETL_WORKFLOW       = local.workflow
      ETL_MAX_FILE_BYTES = tostring(var.max_file_bytes)
      ETL_RETENTION_DAYS = tostring(var.job_retention_days)
    }
    "sfn-transform" = {
      ETL_JOBS_TABLE     = var.jobs_table_name
      ETL_OUTPUT_BUCKET  = var.output_bucket_name
      ETL_WORKFLOW       = local.workflow
      ETL_MAX_FILE_BYTES = tostring(var.max_file_bytes)
      ETL_RETENTION_DAYS = tostring(var.job_retention_days)
    }
    "sfn-load" = {
      ETL_JOBS_TABLE       = var.jobs_table_name
      ETL_OUTPUT_BUCKET    = var.output_bucket_name
      ETL_WORKFLOW         = local.workflow
      ETL_MAX_FILE_BYTES   = tostring(var.max_file_bytes)
      ETL_RETENTION_DAYS   = tostring(var.job_retention_days)
      ETL_DATASET_POLICIES = var.dataset_policies
    }
    "sfn-request-approval" = {
      ETL_JOBS_TABLE               = var.jobs_table_name
      ETL_OUTPUT_BUCKET            = var.output_bucket_name
      ETL_WORKFLOW                 = local.workflow
      ETL_MAX_FILE_BYTES           = tostring(var.max_file_bytes)
      ETL_RETENTION_DAYS           = tostring(var.job_retention_days)
      ETL_TOPIC_ARN                = var.topic_arn
      ETL_API_URL                  = var.api_url
      ETL_APPROVAL_TIMEOUT_SECONDS = tostring(var.approval_timeout_seconds)
      ETL_REVIEW_CONFIG            = var.review_config_json
    }
    "sfn-finalize" = {
      ETL_JOBS_TABLE     = var.jobs_table_name
      ETL_OUTPUT_BUCKET  = var.output_bucket_name
      ETL_WORKFLOW       = local.workflow
      ETL_MAX_FILE_BYTES = tostring(var.max_file_bytes)
      ETL_RETENTION_DAYS = tostring(var.job_retention_days)
    }
  }


  # Task key → the ASL placeholder (without "_arn") that names its alias.
  tasks = {
    "sfn-extract"          = { placeholder = "extract", description = "Pins the upload's version and checks its encoding, header and size." }
    "sfn-transform"        = { placeholder = "transform", description = "Streams the CSV through etl_core into staging/ records and rejects." }
    "sfn-load"             = { placeholder = "load", description = "Validates the staged output, writes the manifest and records counts." }
    "sfn-request-approval" = { placeholder = "request_approval", description = "Stores the task token and a hashed review token, then e-mails the review link." }
    "sfn-finalize"         = { placeholder = "finalize", description = "Publishes to processed/ and archives the source, or cleans up a rejected or expired job." }
  }
}

module "task" {
  source   = "../lambda_function"
  for_each = local.tasks

  function_name    = "${var.name}-${each.key}"
  description      = each.value.description
  handler          = local.handlers[each.key]
  environment      = local.environment[each.key]
  filename         = var.package_file
  source_code_hash = local.source_hash
  runtime          = var.runtime
  architecture     = var.architecture
  memory_size      = each.key == "sfn-transform" ? var.transform_memory_size : var.task_memory_size
  timeout          = each.key == "sfn-transform" ? var.transform_timeout : var.task_timeout

  attach_policy_json = true
  policy_json        = local.task_policy_json[each.key]

  log_retention_days = var.log_retention_days
  tags               = var.tags
}

# SQS → starter: derives the job id from the S3 event, records the job and starts the execution
# named after it (a duplicate event is a no-op), reporting per-message failures.
module "queue_starter" {
  source = "../pipeline_starter"

  name         = var.name
  workflow     = local.workflow
  handler      = local.handlers["sfn-starter"]
  description  = "Starts one Step Functions ETL execution per uploads/*.csv event."
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

  orchestrator_arn = aws_sfn_state_machine.this.arn
  start_permission = { sid = "StartExecution", action = "states:StartExecution" }

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
