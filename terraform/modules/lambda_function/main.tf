resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions call only AWS APIs; a VPC would add NAT or endpoints and cold-start cost for no isolation gain.
  #checkov:skip=CKV_AWS_116:No asynchronous invokers: API Gateway and Step Functions invoke synchronously, SQS events have the queue's DLQ, and durable executions keep their own history.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly from the repository and its hash pinned in source_code_hash; code signing is an account-level choice.
  #checkov:skip=CKV_AWS_173:The variables hold resource names only, never secrets; they are encrypted with the Lambda AWS managed key unless kms_key_arn is set.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded where it matters (the starters by the event source mapping's maximum_concurrency); reserved_concurrency is optional.
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn
  handler       = var.handler
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout
  kms_key_arn   = var.kms_key_arn

  filename         = var.filename
  source_code_hash = var.source_code_hash

  # Every change publishes a version and the alias moves to it; in-flight durable executions and
  # callers holding the alias ARN are unaffected by the update itself.
  publish                        = true
  reserved_concurrent_executions = var.reserved_concurrency

  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []

    content {
      variables = environment.value
    }
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  dynamic "durable_config" {
    for_each = var.durable_config == null ? [] : [var.durable_config]

    content {
      execution_timeout = durable_config.value.execution_timeout
      retention_period  = durable_config.value.retention_period
    }
  }

  tags = var.tags

  # The role must be able to log (and whatever else it needs) before the first invocation, and an
  # event source mapping is only accepted once the role can read its queue.
  depends_on = [
    aws_iam_role_policy.logs,
    aws_iam_role_policy.extra,
    aws_iam_role_policy_attachment.managed,
  ]
}

resource "aws_lambda_alias" "this" {
  name             = var.alias_name
  description      = "The version callers invoke; moved by every publish."
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}
