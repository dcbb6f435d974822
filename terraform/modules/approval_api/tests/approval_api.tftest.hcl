mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name                  = "t1"
  package_file          = "tests/fixtures/package.txt"
  jobs_table_name       = "t1-jobs"
  jobs_table_arn        = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs"
  jobs_status_index_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs/index/status-index"
  durable_function_arns = ["arn:aws:lambda:eu-west-1:123456789012:function:t1-durable-orchestrator"]
  state_machine_arns    = ["arn:aws:states:eu-west-1:123456789012:stateMachine:t1-etl"]
  topic_arn             = "arn:aws:sns:eu-west-1:123456789012:t1-approvals"
}

run "routes_auth_integrations_stage_and_policy" {
  command = apply

  assert {
    condition = toset(keys(aws_api_gateway_method.operator)) == toset([
      "GET /jobs", "GET /jobs/{jobId}", "POST /jobs/{jobId}/approve", "POST /jobs/{jobId}/reject",
      "POST /jobs/{jobId}/unpublish",
      "POST /approve/{jobId}", "POST /reject/{jobId}", "GET /status/{jobId}",
    ])
    error_message = "The operator routes are the seven of the architecture and unpublish."
  }

  assert {
    condition     = alltrue([for m in aws_api_gateway_method.operator : m.authorization == "AWS_IAM"])
    error_message = "Every operator route must require SigV4 (AWS_IAM)."
  }

  assert {
    condition     = alltrue([for k, m in aws_api_gateway_method.operator : m.http_method == split(" ", k)[0]])
    error_message = "Each method must carry its route's HTTP verb."
  }

  assert {
    condition     = keys(aws_api_gateway_method.review) == ["GET /review/{jobId}", "POST /review/{jobId}"]
    error_message = "The reviewer routes are GET and POST /review/{jobId}."
  }

  assert {
    condition     = alltrue([for m in aws_api_gateway_method.review : m.authorization == "NONE" && m.resource_id == aws_api_gateway_resource.level2["review_id"].id])
    error_message = "Reviewer routes carry no IAM auth (the review token is checked by the function)."
  }

  assert {
    condition = (
      aws_api_gateway_resource.level1["jobs"].path_part == "jobs" &&
      aws_api_gateway_resource.level2["jobs_id"].path_part == "{jobId}" &&
      aws_api_gateway_resource.level2["jobs_id"].parent_id == aws_api_gateway_resource.level1["jobs"].id &&
      aws_api_gateway_resource.level3["jobs_id_approve"].path_part == "approve" &&
      aws_api_gateway_resource.level3["jobs_id_approve"].parent_id == aws_api_gateway_resource.level2["jobs_id"].id
    )
    error_message = "/jobs/{jobId}/approve must be nested jobs → {jobId} → approve."
  }

  assert {
    condition     = toset(keys(aws_api_gateway_resource.level1)) == toset(["jobs", "approve", "reject", "status", "review"])
    error_message = "Top-level paths are /jobs, /approve, /reject, /status and /review."
  }

  assert {
    condition     = length(aws_api_gateway_integration.this) == 10
    error_message = "Ten routes, ten integrations."
  }

  assert {
    condition = alltrue([
      for i in aws_api_gateway_integration.this :
      i.type == "AWS_PROXY" && i.integration_http_method == "POST" && i.uri == module.function.alias_invoke_arn
    ])
    error_message = "Every integration must be AWS_PROXY to the live alias."
  }

  assert {
    condition = (
      aws_lambda_permission.api.principal == "apigateway.amazonaws.com" &&
      aws_lambda_permission.api.qualifier == "live" &&
      aws_lambda_permission.api.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/v1/*"
    )
    error_message = "Only this API's stage may invoke the alias."
  }

  assert {
    condition     = output.invoke_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
    error_message = "The invoke URL must be computed from the API id, its region and the stage."
  }

  assert {
    condition     = aws_api_gateway_stage.this.xray_tracing_enabled && aws_api_gateway_stage.this.stage_name == "v1"
    error_message = "The stage must be traced."
  }

  assert {
    condition = (
      one(aws_api_gateway_stage.this.access_log_settings).destination_arn == aws_cloudwatch_log_group.access.arn &&
      jsondecode(one(aws_api_gateway_stage.this.access_log_settings).format).requestId == "$context.requestId"
    )
    error_message = "Access logs must be JSON, to the access log group."
  }

  assert {
    condition = (
      one(aws_api_gateway_method_settings.all.settings).throttling_rate_limit == 20 &&
      one(aws_api_gateway_method_settings.all.settings).throttling_burst_limit == 40 &&
      one(aws_api_gateway_method_settings.all.settings).data_trace_enabled == false
    )
    error_message = "The stage must be throttled and must not log request bodies."
  }

  assert {
    condition     = aws_cloudwatch_log_group.execution.name == "API-Gateway-Execution-Logs_a1b2c3d4e5/v1"
    error_message = "The execution log group must be the one API Gateway writes to."
  }

  assert {
    condition = [
      for s in jsondecode(local.policy_json).Statement : [s.Action, s.Resource] if s.Sid == "CompleteAndReadDurableExecutions"
      ] == [[
        ["lambda:SendDurableExecutionCallbackSuccess", "lambda:GetDurableExecutionHistory"],
        ["arn:aws:lambda:eu-west-1:123456789012:function:t1-durable-orchestrator:*"],
    ]]
    error_message = "Durable callbacks and history are allowed on the orchestrator's executions only."
  }

  assert {
    condition = [
      for s in jsondecode(local.policy_json).Statement : [s.Action, s.Resource] if s.Sid == "CompleteApprovalTasks"
    ] == [["states:SendTaskSuccess", ["arn:aws:states:eu-west-1:123456789012:stateMachine:t1-etl"]]]
    error_message = "Task results are allowed on the given state machine only."
  }

  assert {
    condition = [
      for s in jsondecode(local.policy_json).Statement : [s.Action, s.Resource] if s.Sid == "ReadApprovalExecutions"
      ] == [[
        ["states:DescribeExecution", "states:GetExecutionHistory"],
        ["arn:aws:states:eu-west-1:123456789012:execution:t1-etl:*"],
    ]]
    error_message = "Execution reads are allowed on the given state machine's executions only."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(local.policy_json).Statement :
      alltrue([for a in flatten([s.Action]) : a != "*" && !endswith(a, ":*")]) && !contains(flatten([s.Resource]), "*")
    ])
    error_message = "No wildcard action and no \"*\" resource."
  }

  assert {
    condition = local.environment["approval-api"] == {
      ETL_JOBS_TABLE             = "t1-jobs"
      ETL_REJECT_REASON_REQUIRED = "true"
      ETL_TOPIC_ARN              = "arn:aws:sns:eu-west-1:123456789012:t1-approvals"
      ETL_REVIEW_CONFIG          = "{}"
    }
    error_message = "The approval function reads the jobs table, the reason rule (required by default), the topic (reminders) and the review policy (none by default)."
  }

  assert {
    condition = [
      for s in jsondecode(local.policy_json).Statement : [s.Action, s.Resource] if s.Sid == "SendReminders"
    ] == [["sns:Publish", "arn:aws:sns:eu-west-1:123456789012:t1-approvals"]]
    error_message = "Reminders are published to the approval topic only."
  }
}

run "without_pipelines_only_the_jobs_table_is_granted" {
  command = apply

  variables {
    durable_function_arns = []
    state_machine_arns    = []
  }

  assert {
    condition     = [for s in jsondecode(local.policy_json).Statement : s.Sid] == ["ReadAndDecideJobs", "ListJobsByStatus", "SendReminders"]
    error_message = "No callback permissions without a pipeline."
  }
}

run "a_review_config_that_is_not_json_is_refused" {
  command = plan

  variables {
    review_config_json = "{reviewers: ana}"
  }

  expect_failures = [var.review_config_json]
}
