mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name                    = "t1"
  starter_max_concurrency = 7
  package_file            = "tests/fixtures/package.txt"
  raw_bucket_arn          = "arn:aws:s3:::t1-durable-raw-123456789012"
  output_bucket_name      = "t1-durable-out-123456789012"
  output_bucket_arn       = "arn:aws:s3:::t1-durable-out-123456789012"
  s3_prefixes             = { uploads = "uploads/", upload_suffix = ".csv", archive = "archive/", staging = "staging/", processed = "processed/" }
  jobs_table_name         = "t1-jobs"
  jobs_table_arn          = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs"
  jobs_status_index_arn   = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs/index/status-index"
  topic_arn               = "arn:aws:sns:eu-west-1:123456789012:t1-approvals"
  queue_arn               = "arn:aws:sqs:eu-west-1:123456789012:t1-durable-events"
  api_url                 = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
}

run "the_queue_starts_the_orchestrator_alias_with_scoped_permissions" {
  command = apply

  assert {
    condition     = module.queue_starter.event_source_mapping.event_source_arn == var.queue_arn && module.queue_starter.event_source_mapping.function_name == module.queue_starter.alias_arn
    error_message = "The event source mapping must connect the pipeline's queue to the starter's alias."
  }

  assert {
    condition     = module.queue_starter.event_source_mapping.function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "The starter must report per-message failures."
  }

  assert {
    condition     = one(module.queue_starter.event_source_mapping.scaling_config).maximum_concurrency == 7 && module.queue_starter.event_source_mapping.batch_size == 10
    error_message = "Batch size and maximum concurrency must come from the variables."
  }

  assert {
    condition = local.environment["durable-orchestrator"] == {
      ETL_JOBS_TABLE               = "t1-jobs"
      ETL_OUTPUT_BUCKET            = "t1-durable-out-123456789012"
      ETL_WORKFLOW                 = "durable"
      ETL_MAX_FILE_BYTES           = "1073741824"
      ETL_RETENTION_DAYS           = "90"
      ETL_TOPIC_ARN                = "arn:aws:sns:eu-west-1:123456789012:t1-approvals"
      ETL_API_URL                  = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
      ETL_APPROVAL_TIMEOUT_SECONDS = "86400"
      ETL_REVIEW_CONFIG            = "{}"
      ETL_DATASET_POLICIES         = ""
    }
    error_message = "The orchestrator's environment does not match the contract."
  }

  assert {
    condition = module.queue_starter.environment == {
      ETL_JOBS_TABLE       = "t1-jobs"
      ETL_WORKFLOW         = "durable"
      ETL_ORCHESTRATOR_ARN = module.orchestrator.alias_arn
      ETL_RETENTION_DAYS   = "90"
    }
    error_message = "The starter must start the orchestrator through its alias."
  }

  assert {
    condition     = output.function_alias_arns["durable-orchestrator"] == module.orchestrator.alias_arn && output.orchestrator_function_arn == module.orchestrator.function_arn
    error_message = "Outputs must expose the alias and the unqualified ARN."
  }

  assert {
    condition = [
      for s in jsondecode(module.queue_starter.policy_json).Statement : s.Resource if contains(flatten([s.Action]), "lambda:InvokeFunction")
    ] == [module.orchestrator.alias_arn]
    error_message = "lambda:InvokeFunction must name the orchestrator alias ARN and nothing else."
  }

  assert {
    condition = [
      for s in jsondecode(module.queue_starter.policy_json).Statement : s.Resource if anytrue([for a in flatten([s.Action]) : startswith(a, "sqs:")])
    ] == [var.queue_arn]
    error_message = "The starter may consume its own queue only."
  }

  assert {
    condition = [
      for s in jsondecode(local.orchestrator_policy_json).Statement : s.Resource if s.Sid == "RunOwnDurableExecutions"
    ] == ["arn:aws:lambda:eu-west-1:123456789012:function:t1-durable-orchestrator:*"]
    error_message = "Checkpoints and callbacks are allowed on the orchestrator's own executions only."
  }

  assert {
    condition = alltrue([
      for s in concat(jsondecode(local.orchestrator_policy_json).Statement, jsondecode(module.queue_starter.policy_json).Statement) :
      alltrue([for a in flatten([s.Action]) : a != "*" && !endswith(a, ":*")]) && !contains(flatten([s.Resource]), "*")
    ])
    error_message = "No wildcard action and no \"*\" resource."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(local.orchestrator_policy_json).Statement : s.Resource])) == toset([
      "arn:aws:s3:::t1-durable-raw-123456789012/uploads/*",
      "arn:aws:s3:::t1-durable-raw-123456789012/archive/*",
      "arn:aws:s3:::t1-durable-out-123456789012/staging/*",
      "arn:aws:s3:::t1-durable-out-123456789012/processed/*",
      "arn:aws:s3:::t1-durable-raw-123456789012",
      "arn:aws:s3:::t1-durable-out-123456789012",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs",
      "arn:aws:sns:eu-west-1:123456789012:t1-approvals",
      "arn:aws:lambda:eu-west-1:123456789012:function:t1-durable-orchestrator:*",
    ])
    error_message = "The orchestrator may touch only its buckets' prefixes, the jobs table, the topic and its own executions."
  }
}

run "a_kms_key_is_granted_when_storage_uses_one" {
  command = apply

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = [
      for s in jsondecode(local.orchestrator_policy_json).Statement : s.Resource if s.Sid == "UseStorageKey"
    ] == [var.kms_key_arn]
    error_message = "The key must be granted, by ARN."
  }
}

run "timeouts_and_concurrency_are_validated" {
  command = plan

  variables {
    approval_timeout_seconds          = 86400
    execution_timeout_seconds         = 86400
    starter_max_concurrency           = 1
    orchestrator_reserved_concurrency = 0
  }

  expect_failures = [var.execution_timeout_seconds, var.starter_max_concurrency, var.orchestrator_reserved_concurrency]
}

run "file_size_and_job_retention_are_validated" {
  command = plan

  variables {
    orchestrator_timeout = 300 # 4 MiB/s x 240 s < the default 1 GiB
    job_retention_days   = 7   # the default one-day approval timeout needs 1 + 7
  }

  expect_failures = [var.max_file_bytes, var.job_retention_days]
}

run "a_year_long_wait_with_records_kept_a_year_and_a_week_is_accepted" {
  command = plan

  variables {
    approval_timeout_seconds  = 31536000
    execution_timeout_seconds = 31622400
    job_retention_days        = 372
    max_file_bytes            = 3523215360 # 4 MiB/s x (900 - 60) s
  }
}

run "reserved_concurrency_reaches_the_orchestrator_and_the_starter" {
  command = plan

  variables {
    orchestrator_reserved_concurrency = 20
    starter_reserved_concurrency      = 7
  }

  assert {
    condition     = module.orchestrator.reserved_concurrent_executions == 20 && module.queue_starter.reserved_concurrent_executions == 7
    error_message = "The reserved concurrency variables must reach the orchestrator and the starter."
  }
}

run "dataset_policies_reach_the_orchestrator_and_are_validated" {
  command = plan

  variables {
    dataset_policies = "{\"version\":\"v1\",\"datasets\":{\"uploads/sales\":{\"on_pass\":\"maybe\"}}}"
  }

  expect_failures = [var.dataset_policies]
}
