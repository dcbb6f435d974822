# The approval function reads and decides jobs, completes exactly the workflows it is given, and reads
# their executions to learn whether an uncertain delivery took effect.
locals {
  # Durable executions are sub-resources of a function version (function:NAME:VERSION/durable-execution/
  # NAME/ID), whatever alias started them; IAM matches them with "<function ARN>:*" and never with the
  # unqualified ARN. https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html
  durable_executions = [for arn in var.durable_function_arns : "${arn}:*"]
  # Executions of a state machine: arn:<partition>:states:<region>:<account>:execution:<machine>:<name>.
  sfn_executions = [for arn in var.state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:*"]

  policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          # Scan serves GET /jobs without a status filter; with one it queries the status index.
          Sid      = "ReadAndDecideJobs"
          Effect   = "Allow"
          Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Scan"]
          Resource = var.jobs_table_arn
        },
        {
          Sid      = "ListJobsByStatus"
          Effect   = "Allow"
          Action   = "dynamodb:Query"
          Resource = var.jobs_status_index_arn
        },
      ],
      length(var.durable_function_arns) == 0 ? [] : [
        {
          # A decision is always a callback success ({"approved": false} for a reject); the history
          # tells whether an uncertain send was delivered.
          Sid      = "CompleteAndReadDurableExecutions"
          Effect   = "Allow"
          Action   = ["lambda:SendDurableExecutionCallbackSuccess", "lambda:GetDurableExecutionHistory"]
          Resource = local.durable_executions
        },
      ],
      # Two statements: a conditional would need both results to be tuples of one length.
      [for s in [
        {
          # Task tokens are authorized against the state machine.
          Sid      = "CompleteApprovalTasks"
          Effect   = "Allow"
          Action   = "states:SendTaskSuccess"
          Resource = var.state_machine_arns
        },
        {
          Sid      = "ReadApprovalExecutions"
          Effect   = "Allow"
          Action   = ["states:DescribeExecution", "states:GetExecutionHistory"]
          Resource = local.sfn_executions
        },
      ] : s if length(var.state_machine_arns) > 0],
      var.kms_key_arn == null ? [] : [
        {
          # The jobs table's customer managed key: reading and writing items only decrypts the table key.
          Sid      = "UseStorageKey"
          Effect   = "Allow"
          Action   = "kms:Decrypt"
          Resource = var.kms_key_arn
        },
      ],
    )
  })
}
