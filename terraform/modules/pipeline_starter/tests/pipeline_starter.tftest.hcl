mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name             = "t1"
  workflow         = "sfn"
  handler          = "etl_sfn.starter.handler"
  description      = "Starts one execution per upload."
  package_file     = "tests/fixtures/package.txt"
  queue_arn        = "arn:aws:sqs:eu-west-1:123456789012:t1-sfn-events"
  jobs_table_name  = "t1-jobs"
  jobs_table_arn   = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs"
  orchestrator_arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:t1-etl"
  start_permission = { sid = "StartExecution", action = "states:StartExecution" }
  max_concurrency  = 4
}

run "the_queue_drives_the_starter_alias_which_may_start_only_its_orchestrator" {
  command = apply

  assert {
    condition     = aws_lambda_event_source_mapping.this.event_source_arn == var.queue_arn && aws_lambda_event_source_mapping.this.function_name == module.function.alias_arn
    error_message = "The event source mapping must connect the queue to the starter's alias."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.function_response_types == toset(["ReportBatchItemFailures"]) && one(aws_lambda_event_source_mapping.this.scaling_config).maximum_concurrency == 4
    error_message = "The starter must report per-message failures and be bounded by max_concurrency."
  }

  assert {
    condition     = module.function.function_name == "t1-sfn-starter" && output.function_name == "t1-sfn-starter"
    error_message = "The starter must be named <name>-<workflow>-starter."
  }

  assert {
    condition = local.environment == {
      ETL_JOBS_TABLE       = "t1-jobs"
      ETL_WORKFLOW         = "sfn"
      ETL_ORCHESTRATOR_ARN = var.orchestrator_arn
      ETL_RETENTION_DAYS   = "90"
    }
    error_message = "The starter's environment does not match the contract."
  }

  assert {
    condition = [for s in jsondecode(local.policy_json).Statement : [s.Sid, s.Action, s.Resource]] == [
      ["ConsumeUploadEvents", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], var.queue_arn],
      ["RecordJobs", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], var.jobs_table_arn],
      ["StartExecution", "states:StartExecution", var.orchestrator_arn],
    ]
    error_message = "The starter may consume its queue, record jobs and start its orchestrator only."
  }

  assert {
    condition     = coalesce(module.function.reserved_concurrent_executions, -1) == -1
    error_message = "By default the starter stays on the unreserved pool (a fresh account may have none to reserve)."
  }
}

run "a_storage_key_adds_decrypt_on_that_key_only" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = [
      for s in jsondecode(local.policy_json).Statement : [s.Action, s.Resource] if s.Sid == "UseStorageKey"
    ] == [["kms:Decrypt", var.kms_key_arn]]
    error_message = "The key must be granted for decrypt, by ARN."
  }
}

run "reserved_concurrency_below_the_queue_maximum_is_refused" {
  command = plan

  variables {
    reserved_concurrency = 3
  }

  expect_failures = [var.reserved_concurrency]
}

run "reserved_concurrency_at_the_queue_maximum_is_reserved" {
  command = plan

  variables {
    reserved_concurrency = 4
  }

  assert {
    condition     = module.function.reserved_concurrent_executions == 4
    error_message = "reserved_concurrency must reach the function."
  }
}

run "an_unknown_workflow_or_start_action_is_refused" {
  command = plan

  variables {
    workflow         = "batch"
    start_permission = { sid = "StartAnything", action = "lambda:*" }
  }

  expect_failures = [var.workflow, var.start_permission]
}
