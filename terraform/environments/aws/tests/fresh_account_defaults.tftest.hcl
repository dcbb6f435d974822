# Needs dist/durable.zip and dist/approval.zip (make build; tests/terraform provides stand-ins).
mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name                  = "t1"
  region                = "eu-west-1"
  enable_step_functions = false
}

run "a_fresh_account_gets_the_api_gateway_logging_role_by_default" {
  command = plan

  assert {
    condition     = length(aws_api_gateway_account.this) == 1 && length(aws_iam_role.api_gateway_logs) == 1
    error_message = "By default the deployment sets API Gateway's logging role: the stage's access logging fails in an account without one."
  }
}

run "a_second_deployment_in_the_account_leaves_the_setting_alone" {
  command = plan

  variables {
    manage_api_gateway_account = false
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_iam_role.api_gateway_logs) == 0
    error_message = "manage_api_gateway_account = false must leave the account's API Gateway setting alone."
  }
}

run "reservations_below_the_queue_maximum_or_of_zero_are_refused" {
  command = plan

  variables {
    starter_max_concurrency           = 10
    starter_reserved_concurrency      = 5
    orchestrator_reserved_concurrency = 0
  }

  expect_failures = [var.starter_reserved_concurrency, var.orchestrator_reserved_concurrency]
}

run "reservations_reach_the_durable_functions" {
  command = plan

  variables {
    starter_reserved_concurrency      = 5
    orchestrator_reserved_concurrency = 50
  }

  assert {
    condition     = module.durable[0].reserved_concurrency == { orchestrator = 50, starter = 5 }
    error_message = "The reserved concurrency variables must reach the durable orchestrator and starter."
  }
}
