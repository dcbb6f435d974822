# The approval function reads and decides jobs, completes exactly the workflows it is given, and reads
# their executions to learn whether an uncertain delivery took effect.
locals {
  # Durable executions are sub-resources of a function version (function:NAME:VERSION/durable-execution/
  # NAME/ID), whatever alias started them; IAM matches them with "<function ARN>:*" and never with the
  # unqualified ARN. https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html
  durable_executions = [for arn in var.durable_function_arns : "${arn}:*"]
  # Executions of a state machine: arn:<partition>:states:<region>:<account>:execution:<machine>:<name>.
  sfn_executions = [for arn in var.state_machine_arns : "${replace(arn, ":stateMachine:", ":execution:")}:*"]
  # Unpublishing moves processed/<job>/ objects to retracted/<job>/ (copy, then delete) and writes the
  # audit record there; reading either prefix also tells a repeated request what is already moved.
  published = [for arn in var.output_bucket_arns : "${arn}/${var.s3_prefixes.processed}*"]
  retracted = [for arn in var.output_bucket_arns : "${arn}/${var.s3_prefixes.retracted}*"]

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
        {
          # The scheduled run's reminders before an approval expires (etl_aws.reminders).
          Sid      = "SendReminders"
          Effect   = "Allow"
          Action   = "sns:Publish"
          Resource = var.topic_arn
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
      [for s in [
        {
          # HeadObject and the copy's source read; S3 authorizes both as s3:GetObject.
          Sid      = "ReadPublishedOutputs"
          Effect   = "Allow"
          Action   = "s3:GetObject"
          Resource = concat(local.published, local.retracted)
        },
        {
          # With it, a key not (or no longer) there is a 404 rather than a 403.
          Sid      = "FindPublishedOutputs"
          Effect   = "Allow"
          Action   = "s3:ListBucket"
          Resource = var.output_bucket_arns
        },
        {
          Sid      = "WriteRetractedOutputs"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = local.retracted
        },
        {
          # Without a version id: a delete marker, so the published version stays recoverable too.
          Sid      = "RemovePublishedOutputs"
          Effect   = "Allow"
          Action   = "s3:DeleteObject"
          Resource = local.published
        },
      ] : s if length(var.output_bucket_arns) > 0],
      var.kms_key_arn == null ? [] : [
        {
          # The storage's customer managed key: the table key is decrypted; objects copied to retracted/
          # and reminders published to the encrypted topic are encrypted under a new data key (SNS
          # needs both: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
          Sid      = "UseStorageKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = var.kms_key_arn
        },
      ],
    )
  })
}
