mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name                     = "t1"
  approval_timeout_seconds = 3600
  package_file             = "tests/fixtures/package.txt"
  definition_file          = "tests/fixtures/state_machine.asl.json"
  raw_bucket_arn           = "arn:aws:s3:::t1-sfn-raw-123456789012"
  output_bucket_name       = "t1-sfn-out-123456789012"
  output_bucket_arn        = "arn:aws:s3:::t1-sfn-out-123456789012"
  s3_prefixes              = { uploads = "uploads/", upload_suffix = ".csv", archive = "archive/", staging = "staging/", processed = "processed/" }
  jobs_table_name          = "t1-jobs"
  jobs_table_arn           = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs"
  jobs_status_index_arn    = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs/index/status-index"
  topic_arn                = "arn:aws:sns:eu-west-1:123456789012:t1-approvals"
  queue_arn                = "arn:aws:sqs:eu-west-1:123456789012:t1-sfn-events"
  api_url                  = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
}

run "a_logged_traced_state_machine_over_the_task_aliases" {
  command = apply

  assert {
    condition     = !strcontains(aws_sfn_state_machine.this.definition, "$${")
    error_message = "Every placeholder must be filled."
  }

  assert {
    condition = [
      for s in ["Extract", "Transform", "Load", "RequestApproval", "Finalize"] :
      jsondecode(aws_sfn_state_machine.this.definition).States[s].Parameters.FunctionName
      ] == [
      module.task["sfn-extract"].alias_arn,
      module.task["sfn-transform"].alias_arn,
      module.task["sfn-load"].alias_arn,
      module.task["sfn-request-approval"].alias_arn,
      module.task["sfn-finalize"].alias_arn,
    ]
    error_message = "Each task state must invoke its function's alias."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.RequestApproval.TimeoutSeconds == 3600
    error_message = "The approval task's TimeoutSeconds must be approval_timeout_seconds, as a number."
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.name == "t1-etl"
    error_message = "The workflow is a Standard state machine named <name>-etl."
  }

  assert {
    condition = (
      one(aws_sfn_state_machine.this.logging_configuration).level == "ALL" &&
      one(aws_sfn_state_machine.this.logging_configuration).include_execution_data == false &&
      one(aws_sfn_state_machine.this.logging_configuration).log_destination == "${aws_cloudwatch_log_group.state_machine.arn}:*"
    )
    error_message = "Logging must be ALL, without execution data, to the module's log group."
  }

  assert {
    condition     = one(aws_sfn_state_machine.this.tracing_configuration).enabled
    error_message = "X-Ray tracing must be enabled."
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.state_machine.policy).Statement : s.Resource if s.Action == "lambda:InvokeFunction"
    ] == [[for k in ["sfn-extract", "sfn-finalize", "sfn-load", "sfn-request-approval", "sfn-transform"] : module.task[k].alias_arn]]
    error_message = "lambda:InvokeFunction must name the five task aliases."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.state_machine.policy).Statement :
      contains(["DeliverExecutionLogs", "WriteTraces"], s.Sid) || !contains(flatten([s.Resource]), "*")
    ])
    error_message = "Only log delivery and X-Ray (no resource-level permissions) may use \"*\"."
  }

  assert {
    condition     = jsondecode(aws_iam_role.state_machine.assume_role_policy).Statement[0].Principal == { Service = "states.amazonaws.com" }
    error_message = "Only Step Functions may assume the state machine role."
  }

  assert {
    condition     = module.queue_starter.event_source_mapping.event_source_arn == var.queue_arn && module.queue_starter.event_source_mapping.function_name == module.queue_starter.alias_arn
    error_message = "The event source mapping must connect the pipeline's queue to the starter's alias."
  }

  assert {
    condition     = module.queue_starter.event_source_mapping.function_response_types == toset(["ReportBatchItemFailures"]) && one(module.queue_starter.event_source_mapping.scaling_config).maximum_concurrency == 5
    error_message = "The starter must report partial failures and be bounded by maximum_concurrency."
  }

  assert {
    condition = [
      for s in jsondecode(module.queue_starter.policy_json).Statement : s.Resource if s.Action == "states:StartExecution"
    ] == [aws_sfn_state_machine.this.arn]
    error_message = "states:StartExecution must name this state machine only."
  }

  assert {
    condition     = module.queue_starter.environment.ETL_ORCHESTRATOR_ARN == aws_sfn_state_machine.this.arn && module.queue_starter.environment.ETL_WORKFLOW == "sfn"
    error_message = "The starter's ETL_ORCHESTRATOR_ARN must be the state machine."
  }

  assert {
    condition     = local.environment["sfn-request-approval"].ETL_API_URL == var.api_url && local.environment["sfn-request-approval"].ETL_TOPIC_ARN == var.topic_arn && local.environment["sfn-request-approval"].ETL_APPROVAL_TIMEOUT_SECONDS == "3600"
    error_message = "The approval task needs the API URL, the topic and the timeout."
  }

  assert {
    condition     = alltrue([for k, e in local.environment : e.ETL_WORKFLOW == "sfn" && e.ETL_OUTPUT_BUCKET == var.output_bucket_name])
    error_message = "Every task runs the sfn workflow on this pipeline's output bucket."
  }

  assert {
    condition = alltrue(flatten([
      for k, p in merge(local.task_policy_json, { starter = module.queue_starter.policy_json }) : [
        for s in jsondecode(p).Statement :
        alltrue([for a in flatten([s.Action]) : a != "*" && !endswith(a, ":*")]) && !contains(flatten([s.Resource]), "*")
      ]
    ]))
    error_message = "No function policy may use a wildcard action or the \"*\" resource."
  }

  assert {
    condition = [
      for s in jsondecode(local.task_policy_json["sfn-extract"]).Statement : s.Resource if s.Sid == "ReadUploads"
    ] == ["arn:aws:s3:::t1-sfn-raw-123456789012/uploads/*"]
    error_message = "Extract reads uploads/ of its raw bucket only."
  }

  assert {
    condition     = !anytrue([for s in jsondecode(local.task_policy_json["sfn-extract"]).Statement : contains(flatten([s.Action]), "s3:PutObject")])
    error_message = "Extract writes nothing to S3."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(local.task_policy_json["sfn-request-approval"]).Statement : s.Resource if s.Action == "sns:Publish"
    ])) == toset([var.topic_arn])
    error_message = "Only the approval topic may be published to."
  }
}

run "file_size_and_job_retention_are_validated" {
  command = plan

  variables {
    transform_timeout        = 300 # 4 MiB/s x 240 s < the default 1 GiB
    approval_timeout_seconds = 2592000
    job_retention_days       = 36 # a 30-day wait needs 30 + 7
  }

  expect_failures = [var.max_file_bytes, var.job_retention_days]
}

run "dataset_policies_reach_the_load_task_only" {
  command = plan

  variables {
    dataset_policies = "{\"version\":\"v1\",\"datasets\":{\"uploads/sales\":{\"on_pass\":\"publish\",\"on_timeout\":\"reject\"}}}"
  }

  assert {
    condition     = local.environment["sfn-load"].ETL_DATASET_POLICIES == var.dataset_policies
    error_message = "The load task must get the quality policies (ETL_DATASET_POLICIES)."
  }

  assert {
    condition     = alltrue([for k, e in local.environment : !contains(keys(e), "ETL_DATASET_POLICIES") if k != "sfn-load"])
    error_message = "Only the load task reads the quality policies."
  }
}

run "dataset_policies_are_validated" {
  command = plan

  variables {
    dataset_policies = "{\"version\":\"v1\",\"datasets\":{\"uploads/sales\":{\"on_timeout\":\"later\"}}}"
  }

  expect_failures = [var.dataset_policies]
}

run "dataset_policies_must_be_a_json_object" {
  command = plan

  variables {
    dataset_policies = "[1, 2]"
  }

  expect_failures = [var.dataset_policies]
}
