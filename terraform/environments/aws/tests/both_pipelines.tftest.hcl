# Needs dist/*.zip (make build; tests/terraform provides stand-ins) and the real ASL definition,
# lambdas/sfn/src/etl_sfn/state_machine.asl.json.
mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name            = "t1"
  region          = "eu-west-1"
  approver_emails = ["ops@example.com", "lead@example.com"]
}

run "both_pipelines_share_storage_and_the_api_and_render_the_real_definition" {
  command = apply

  assert {
    condition = toset(keys(output.function_alias_arns)) == toset([
      "approval-api", "durable-orchestrator", "durable-starter",
      "sfn-extract", "sfn-transform", "sfn-load", "sfn-request-approval", "sfn-finalize", "sfn-starter",
    ])
    error_message = "Every function of the contract is deployed."
  }

  assert {
    condition     = output.state_machine_arn == module.sfn[0].state_machine_arn && output.api_url == module.approval_api.invoke_url
    error_message = "Outputs expose the state machine and the API URL."
  }

  assert {
    condition     = keys(output.raw_bucket_names) == ["durable", "sfn"] && keys(output.queue_urls) == ["durable", "sfn"]
    error_message = "Each pipeline has its own buckets and queue."
  }

  assert {
    condition     = !strcontains(module.sfn[0].definition, "$${")
    error_message = "Every placeholder of the ASL file must be filled."
  }

  assert {
    condition     = can(jsondecode(module.sfn[0].definition).States)
    error_message = "The rendered definition must be JSON with States."
  }

  assert {
    condition     = strcontains(module.sfn[0].definition, module.sfn[0].function_alias_arns["sfn-extract"])
    error_message = "The definition must reference the task aliases."
  }
}
