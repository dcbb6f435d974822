resource "aws_iam_role" "this" {
  name = var.function_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "lambda.amazonaws.com" }
        Action    = "sts:AssumeRole"
      },
    ]
  })
  tags = var.tags
}

# Writing its own log group only (the group is created above, so no logs:CreateLogGroup), plus X-Ray.
resource "aws_iam_role_policy" "logs" {
  #checkov:skip=CKV_AWS_290:Only X-Ray's PutTraceSegments and PutTelemetryRecords use "*": they have no resource-level permissions.
  #checkov:skip=CKV_AWS_355:Only X-Ray's PutTraceSegments and PutTelemetryRecords use "*": they have no resource-level permissions.
  name = "logs-and-tracing"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogGroup"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.this.arn}:*"
      },
      {
        # X-Ray trace ingestion supports no resource-level permissions: AWS requires "*".
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role_policy" "extra" {
  count = var.attach_policy_json ? 1 : 0

  name   = "permissions"
  role   = aws_iam_role.this.id
  policy = var.policy_json
}

resource "aws_iam_role_policy_attachment" "managed" {
  for_each = var.managed_policy_arns

  role       = aws_iam_role.this.name
  policy_arn = each.value
}
