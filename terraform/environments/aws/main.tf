data "aws_partition" "current" {}

locals {
  repo_root       = abspath("${path.module}/../../..")
  dist_dir        = coalesce(var.dist_dir, "${local.repo_root}/dist")
  definition_file = "${local.repo_root}/lambdas/sfn/src/etl_sfn/state_machine.asl.json"

  pipelines = toset(concat(
    var.enable_durable ? ["durable"] : [],
    var.enable_step_functions ? ["sfn"] : [],
  ))

  starter_timeout = 30

  # Named reviewers and escalation addresses: each gets an e-mail subscription of its own (storage).
  review_policies    = concat([try(var.review_policy.default, {})], values(try(var.review_policy.datasets, {})))
  review_addresses   = sort(distinct(flatten([for p in local.review_policies : concat(try(p.reviewers, []), try(p.escalation, []))])))
  review_config_json = jsonencode(var.review_policy)
  # Staged output must outlive the longest possible wait for a decision.
  staging_expiration_days = max(30, ceil(var.approval_timeout_seconds / 86400) + 7)
}

module "storage" {
  source = "../../modules/storage"

  name            = var.name
  pipelines       = local.pipelines
  approver_emails = var.approver_emails
  reviewer_emails = local.review_addresses
  kms_key_arn     = var.kms_key_arn

  force_destroy           = var.force_destroy
  deletion_protection     = var.deletion_protection
  staging_expiration_days = local.staging_expiration_days
  # AWS recommends six times the consumer's timeout for an SQS event source.
  queue_visibility_timeout_seconds = 6 * local.starter_timeout

  tags = var.tags
}

# The API's URL is known as soon as the REST API exists, so the pipelines can put it in their
# functions' environment while this module's policy names the pipelines' orchestrators.
module "approval_api" {
  source = "../../modules/approval_api"

  name               = var.name
  package_file       = "${local.dist_dir}/approval.zip"
  runtime            = var.runtime
  architecture       = var.architecture
  memory_size        = var.approval_memory_size
  log_retention_days = var.log_retention_days
  stage_name         = var.api_stage_name

  reject_reason_required = var.reject_reason_required
  review_config_json     = local.review_config_json
  topic_arn              = module.storage.topic_arn

  jobs_table_name       = module.storage.jobs_table_name
  jobs_table_arn        = module.storage.jobs_table_arn
  jobs_status_index_arn = module.storage.jobs_status_index_arn
  kms_key_arn           = var.kms_key_arn

  durable_function_arns = [for p in module.durable : p.orchestrator_function_arn]
  state_machine_arns    = [for p in module.sfn : p.state_machine_arn]
  output_bucket_arns    = values(module.storage.output_bucket_arns)
  s3_prefixes           = module.storage.s3_prefixes

  tags = var.tags

  # Stage logging needs the account's API Gateway logging role when this deployment manages it.
  depends_on = [aws_api_gateway_account.this]
}

module "durable" {
  source = "../../modules/durable_pipeline"
  count  = var.enable_durable ? 1 : 0

  name         = var.name
  package_file = "${local.dist_dir}/durable.zip"
  runtime      = var.runtime
  architecture = var.architecture

  orchestrator_memory_size  = var.step_memory_size
  starter_memory_size       = var.starter_memory_size
  starter_timeout           = local.starter_timeout
  approval_timeout_seconds  = var.approval_timeout_seconds
  execution_timeout_seconds = var.execution_timeout_seconds
  durable_retention_days    = var.durable_retention_days
  log_retention_days        = var.log_retention_days
  max_file_bytes            = var.max_file_bytes
  job_retention_days        = var.job_retention_days
  dataset_policies          = var.dataset_policies
  starter_max_concurrency   = var.starter_max_concurrency

  starter_reserved_concurrency      = var.starter_reserved_concurrency
  orchestrator_reserved_concurrency = var.orchestrator_reserved_concurrency

  raw_bucket_arn        = module.storage.raw_bucket_arns["durable"]
  output_bucket_name    = module.storage.output_bucket_names["durable"]
  output_bucket_arn     = module.storage.output_bucket_arns["durable"]
  s3_prefixes           = module.storage.s3_prefixes
  jobs_table_name       = module.storage.jobs_table_name
  jobs_table_arn        = module.storage.jobs_table_arn
  jobs_status_index_arn = module.storage.jobs_status_index_arn
  topic_arn             = module.storage.topic_arn
  queue_arn             = module.storage.queue_arns["durable"]
  kms_key_arn           = var.kms_key_arn
  api_url               = module.approval_api.invoke_url
  review_config_json    = local.review_config_json

  tags = var.tags
}

module "sfn" {
  source = "../../modules/sfn_pipeline"
  count  = var.enable_step_functions ? 1 : 0

  name            = var.name
  package_file    = "${local.dist_dir}/sfn.zip"
  definition_file = local.definition_file
  runtime         = var.runtime
  architecture    = var.architecture

  transform_memory_size    = var.step_memory_size
  task_memory_size         = var.task_memory_size
  starter_memory_size      = var.starter_memory_size
  starter_timeout          = local.starter_timeout
  approval_timeout_seconds = var.approval_timeout_seconds
  log_retention_days       = var.log_retention_days
  max_file_bytes           = var.max_file_bytes
  job_retention_days       = var.job_retention_days
  dataset_policies         = var.dataset_policies
  starter_max_concurrency  = var.starter_max_concurrency

  starter_reserved_concurrency = var.starter_reserved_concurrency

  raw_bucket_arn        = module.storage.raw_bucket_arns["sfn"]
  output_bucket_name    = module.storage.output_bucket_names["sfn"]
  output_bucket_arn     = module.storage.output_bucket_arns["sfn"]
  s3_prefixes           = module.storage.s3_prefixes
  jobs_table_name       = module.storage.jobs_table_name
  jobs_table_arn        = module.storage.jobs_table_arn
  jobs_status_index_arn = module.storage.jobs_status_index_arn
  topic_arn             = module.storage.topic_arn
  queue_arn             = module.storage.queue_arns["sfn"]
  kms_key_arn           = var.kms_key_arn
  api_url               = module.approval_api.invoke_url
  review_config_json    = local.review_config_json

  tags = var.tags
}
