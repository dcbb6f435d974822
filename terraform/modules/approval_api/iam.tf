# The approval function reads and decides jobs, and completes exactly the workflows it is given.
locals {
  policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          # Scan serves GET /jobs without a status filter; with one it queries the status index.
          Sid      = "ReadAndDecideJobs"
          Effect   = "Allow"
          Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:Query", "dynamodb:Scan"]
          Resource = [var.jobs_table_arn, var.jobs_status_index_arn]
        },
      ],
      length(var.durable_function_arns) == 0 ? [] : [
        {
          # Callbacks are addressed by callback id; IAM checks them against the durable function and
          # its versions (the execution runs on the alias's version).
          Sid      = "CompleteDurableCallbacks"
          Effect   = "Allow"
          Action   = ["lambda:SendDurableExecutionCallbackSuccess", "lambda:SendDurableExecutionCallbackFailure"]
          Resource = flatten([for arn in var.durable_function_arns : [arn, "${arn}:*"]])
        },
      ],
      length(var.state_machine_arns) == 0 ? [] : [
        {
          Sid      = "CompleteApprovalTasks"
          Effect   = "Allow"
          Action   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
          Resource = var.state_machine_arns
        },
      ],
      var.kms_key_arn == null ? [] : [
        {
          Sid      = "UseStorageKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = var.kms_key_arn
        },
      ],
    )
  })
}
