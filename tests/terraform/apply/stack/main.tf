# storage, sfn_pipeline and approval_api wired as environments/aws wires them for the Step Functions
# pipeline, over stand-in packages and the real ASL. One apply: the provider's waits for SQS and S3
# consistency overlap instead of adding up.
locals {
  name = "mt"
}

module "storage" {
  source = "../../../../terraform/modules/storage"

  name          = local.name
  pipelines     = ["sfn"]
  force_destroy = true
  tags          = { Suite = "apply-moto" }
}

module "sfn_pipeline" {
  source = "../../../../terraform/modules/sfn_pipeline"

  name                     = local.name
  package_file             = "${path.module}/../../../../dist/sfn.zip"
  definition_file          = "${path.module}/../../../../lambdas/sfn/src/etl_sfn/state_machine.asl.json"
  approval_timeout_seconds = 3600
  raw_bucket_arn           = module.storage.raw_bucket_arns["sfn"]
  output_bucket_name       = module.storage.output_bucket_names["sfn"]
  output_bucket_arn        = module.storage.output_bucket_arns["sfn"]
  s3_prefixes              = module.storage.s3_prefixes
  jobs_table_name          = module.storage.jobs_table_name
  jobs_table_arn           = module.storage.jobs_table_arn
  jobs_status_index_arn    = module.storage.jobs_status_index_arn
  topic_arn                = module.storage.topic_arn
  queue_arn                = module.storage.queue_arns["sfn"]
  api_url                  = module.approval_api.invoke_url
  log_retention_days       = 1
  tags                     = { Suite = "apply-moto" }
}

module "approval_api" {
  source = "../../../../terraform/modules/approval_api"

  name                  = local.name
  package_file          = "${path.module}/../../../../dist/approval.zip"
  jobs_table_name       = module.storage.jobs_table_name
  jobs_table_arn        = module.storage.jobs_table_arn
  jobs_status_index_arn = module.storage.jobs_status_index_arn
  state_machine_arns    = [module.sfn_pipeline.state_machine_arn]
  topic_arn             = module.storage.topic_arn
  log_retention_days    = 1
  tags                  = { Suite = "apply-moto" }
}

output "storage" {
  value = module.storage
}

output "sfn_pipeline" {
  value = module.sfn_pipeline
}

output "approval_api" {
  value = module.approval_api
}
