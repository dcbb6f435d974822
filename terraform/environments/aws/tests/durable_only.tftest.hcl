# Needs dist/durable.zip and dist/approval.zip (make build); tests/terraform provides stand-ins.
mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name                  = "t1"
  region                = "eu-west-1"
  approver_emails       = ["ops@example.com"]
  enable_step_functions = false
}

run "durable_only_deployment_is_wired" {
  command = apply

  assert {
    condition     = output.api_url == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
    error_message = "api_url must be the approval API's stage URL."
  }

  assert {
    condition     = toset(keys(output.function_alias_arns)) == toset(["approval-api", "durable-orchestrator", "durable-starter"])
    error_message = "A durable-only deployment has the approval API and the two durable functions."
  }

  assert {
    condition     = output.state_machine_arn == null && output.durable_orchestrator_alias_arn == module.durable[0].orchestrator_alias_arn
    error_message = "No state machine without the Step Functions pipeline."
  }

  assert {
    condition     = keys(output.raw_bucket_names) == ["durable"] && keys(output.queue_urls) == ["durable"]
    error_message = "Only the durable pipeline's buckets and queue exist."
  }

  assert {
    condition     = output.raw_bucket_names["durable"] == "t1-durable-raw-123456789012"
    error_message = "Bucket names carry the deployment name."
  }
}

run "name_timeouts_and_pipelines_are_validated" {
  command = plan

  variables {
    name                      = "Prod_ETL"
    approval_timeout_seconds  = 86400
    execution_timeout_seconds = 3600
    enable_durable            = false
    enable_step_functions     = false
  }

  expect_failures = [var.name, var.execution_timeout_seconds, var.enable_step_functions]
}

run "file_size_and_job_retention_are_validated" {
  command = plan

  variables {
    max_file_bytes            = 5368709120 # 5 GiB cannot be transformed within one 900 s invocation
    approval_timeout_seconds  = 31536000
    execution_timeout_seconds = 31622400
    job_retention_days        = 90 # a year-long wait needs 365 + 7
  }

  expect_failures = [var.max_file_bytes, var.job_retention_days]
}
