# S3 → SQS per pipeline: the queue absorbs upload bursts and the starter drains it at a bounded rate.
# SSE-SQS, not KMS: S3 event notifications cannot publish to a queue encrypted with the AWS managed
# SQS key, and a customer key would need a key policy granting S3, which is the caller's to decide.

resource "aws_sqs_queue" "dlq" {
  for_each = var.pipelines

  name                      = "${var.name}-${each.key}-events-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum, to leave time to inspect and redrive
  sqs_managed_sse_enabled   = true
  tags                      = merge(var.tags, { Pipeline = each.key })
}

resource "aws_sqs_queue" "events" {
  for_each = var.pipelines

  name                       = "${var.name}-${each.key}-events"
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  message_retention_seconds  = 345600 # 4 days
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.queue_max_receive_count
  })
  tags = merge(var.tags, { Pipeline = each.key })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.pipelines

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events[each.key].arn]
  })
}

# Only this pipeline's raw bucket, in this account, may send to its queue.
resource "aws_sqs_queue_policy" "events" {
  for_each = var.pipelines

  queue_url = aws_sqs_queue.events[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowRawBucketNotifications"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.events[each.key].arn
        Condition = {
          ArnEquals    = { "aws:SourceArn" = aws_s3_bucket.this[local.raw_buckets[each.key]].arn }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })
}
