data "aws_partition" "current" {}

locals {
  # Handler path and environment variable names as etl_aws.contract.FUNCTIONS defines them;
  # tests/terraform holds these locals against the contract.
  handlers = {
    "approval-api" = "etl_approval.app.handler"
  }

  environment = {
    "approval-api" = {
      ETL_JOBS_TABLE             = var.jobs_table_name
      ETL_REJECT_REASON_REQUIRED = tostring(var.reject_reason_required)
      ETL_TOPIC_ARN              = var.topic_arn
      ETL_REVIEW_CONFIG          = var.review_config_json
    }
  }

  # The region is read from the API's own ARN (arn:<partition>:execute-api:<region>:<account>:<id>),
  # which keeps this URL free of the deployment and the stage: the pipelines' functions need it in
  # their environment while this API's function needs their ARNs in its policy.
  region     = split(":", aws_api_gateway_rest_api.this.execution_arn)[3]
  invoke_url = "https://${aws_api_gateway_rest_api.this.id}.execute-api.${local.region}.${data.aws_partition.current.dns_suffix}/${var.stage_name}"
}

# One function serves every route (Powertools APIGatewayRestResolver).
module "function" {
  source = "../lambda_function"

  function_name    = "${var.name}-approval-api"
  description      = "Approval API: job listing and status, operator decisions (IAM) and the reviewer page (review token)."
  handler          = local.handlers["approval-api"]
  environment      = local.environment["approval-api"]
  filename         = var.package_file
  source_code_hash = filebase64sha256(var.package_file)
  runtime          = var.runtime
  architecture     = var.architecture
  memory_size      = var.memory_size
  timeout          = var.timeout

  attach_policy_json = true
  policy_json        = local.policy_json

  log_retention_days = var.log_retention_days
  tags               = var.tags
}

# Only this API's stage may invoke the alias.
resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApprovalApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  qualifier     = module.function.alias_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${var.stage_name}/*"
}
