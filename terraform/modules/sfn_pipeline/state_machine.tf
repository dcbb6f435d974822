locals {
  # The ASL references each task by its alias ARN, so a deploy moves every execution that starts
  # afterwards to the new code and running ones keep the versions they started with.
  definition = templatefile(var.definition_file, merge(
    { for key, task in local.tasks : "${task.placeholder}_arn" => module.task[key].alias_arn },
    { approval_timeout_seconds = var.approval_timeout_seconds },
  ))
}

resource "aws_cloudwatch_log_group" "state_machine" {
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs; a customer key needs a key policy for the logs service.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_days); a year of execution logs is not a default worth paying for.
  name              = "/aws/vendedlogs/states/${var.name}-etl"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:Execution history is logged at level ALL; only execution data is left out, as it holds job details and task tokens.
  name       = local.state_machine_name
  type       = "STANDARD"
  role_arn   = aws_iam_role.state_machine.arn
  definition = local.definition

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    level           = "ALL"
    # Execution data would copy job details and task tokens into the logs.
    include_execution_data = false
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.state_machine]
}
