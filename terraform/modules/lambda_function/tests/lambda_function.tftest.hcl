mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  function_name      = "t1-sfn-extract"
  handler            = "etl_sfn.tasks.extract_handler"
  filename           = "tests/fixtures/package.txt"
  source_code_hash   = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
  environment        = { ETL_JOBS_TABLE = "t1-jobs" }
  attach_policy_json = true
  policy_json = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "dynamodb:GetItem", Resource = "arn:aws:dynamodb:eu-west-1:123456789012:table/t1-jobs" }]
  })
}

run "defaults_publish_a_logged_traced_arm64_python313_function_behind_live" {
  command = apply

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.13" && aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "The default runtime and architecture must be python3.13 on arm64."
  }

  assert {
    condition     = aws_lambda_function.this.publish
    error_message = "Every change must publish a version."
  }

  assert {
    condition     = aws_lambda_alias.this.name == "live" && aws_lambda_alias.this.function_version == aws_lambda_function.this.version
    error_message = "The live alias must point at the published version."
  }

  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "X-Ray tracing must be active by default."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables == tomap({ ETL_JOBS_TABLE = "t1-jobs" })
    error_message = "Environment variables must pass through unchanged."
  }

  assert {
    condition     = aws_lambda_function.this.source_code_hash == var.source_code_hash && aws_lambda_function.this.filename == var.filename
    error_message = "The function must deploy the given zip and hash."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/t1-sfn-extract" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The log group must be /aws/lambda/<name> with the retention set."
  }

  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_group == aws_cloudwatch_log_group.this.name && aws_lambda_function.this.logging_config[0].log_format == "JSON"
    error_message = "The function must log JSON to its own log group."
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.logs.policy).Statement : s.Resource if s.Sid == "WriteOwnLogGroup"
    ] == ["${aws_cloudwatch_log_group.this.arn}:*"]
    error_message = "Log writes must be scoped to the function's own log group."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.logs.policy).Statement :
      s.Sid == "WriteTraces" || !contains(flatten([s.Resource]), "*")
    ])
    error_message = "Only the X-Ray statement may use the \"*\" resource."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.logs.policy).Statement :
      alltrue([for a in flatten([s.Action]) : a != "*" && !endswith(a, ":*")])
    ])
    error_message = "No wildcard actions."
  }

  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal == { Service = "lambda.amazonaws.com" }
    error_message = "Only the Lambda service may assume the role."
  }

  assert {
    condition     = aws_iam_role_policy.extra[0].policy == var.policy_json
    error_message = "The extra policy must be attached as given."
  }
}

run "optional_settings_pass_through" {
  command = apply

  variables {
    attach_policy_json   = false
    policy_json          = null
    managed_policy_arns  = { durable_execution = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy" }
    reserved_concurrency = 3
  }

  assert {
    condition     = length(aws_iam_role_policy.extra) == 0
    error_message = "No inline policy without attach_policy_json."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.managed["durable_execution"].policy_arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy"
    error_message = "Managed policies must be attached to the role."
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 3
    error_message = "reserved_concurrency must set reserved_concurrent_executions."
  }
}

run "runtime_architecture_and_durable_config_are_validated" {
  command = plan

  variables {
    runtime        = "python3.9"
    architecture   = "riscv"
    durable_config = { execution_timeout = 31622401, retention_period = 14 }
  }

  expect_failures = [var.runtime, var.architecture, var.durable_config]
}
