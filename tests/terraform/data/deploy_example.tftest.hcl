# The plan of the README's deploy steps, offline: the environment root with terraform.tfvars copied
# from terraform.tfvars.example (passed with -var-file), against the mock provider instead of an
# account. tests/terraform/test_deploy_readme.py copies this file into environments/aws/tests/ of a
# prepared copy; it sets no variables of its own, so every value is the example's.
mock_provider "aws" {
  source = "../../tests/mocks"
}

run "the_example_tfvars_plan_both_pipelines_in_a_fresh_account" {
  command = plan

  assert {
    condition = toset(keys(output.function_alias_arns)) == toset([
      "approval-api", "durable-orchestrator", "durable-starter",
      "sfn-extract", "sfn-transform", "sfn-load", "sfn-request-approval", "sfn-finalize", "sfn-starter",
    ])
    error_message = "The example deploys both pipelines and the approval API."
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 1
    error_message = "The example sets API Gateway's logging role, which a fresh account lacks."
  }

  assert {
    condition     = length(var.approver_emails) > 0 && var.architecture == "arm64"
    error_message = "The example names at least one reviewer and the architecture `make build` builds for."
  }
}
