mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name            = "t1"
  pipelines       = ["durable", "sfn"]
  approver_emails = ["ops@example.com", "lead@example.com"]
  reviewer_emails = ["ana@example.com", "ben@example.com"]
}

run "buckets_queues_table_and_topic_for_both_pipelines" {
  command = apply

  assert {
    condition = { for k, b in aws_s3_bucket.this : k => b.bucket } == {
      "durable-raw"    = "t1-durable-raw-123456789012"
      "durable-output" = "t1-durable-out-123456789012"
      "sfn-raw"        = "t1-sfn-raw-123456789012"
      "sfn-output"     = "t1-sfn-out-123456789012"
    }
    error_message = "Bucket names must be <name>-<pipeline>-raw|out-<account>."
  }

  assert {
    condition     = alltrue([for v in aws_s3_bucket_versioning.this : v.versioning_configuration[0].status == "Enabled"])
    error_message = "Every bucket must be versioned."
  }

  assert {
    condition = alltrue([
      for p in aws_s3_bucket_public_access_block.this :
      p.block_public_acls && p.block_public_policy && p.ignore_public_acls && p.restrict_public_buckets
    ])
    error_message = "Every bucket must block all public access."
  }

  assert {
    condition     = alltrue([for o in aws_s3_bucket_ownership_controls.this : o.rule[0].object_ownership == "BucketOwnerEnforced"])
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }

  assert {
    condition = alltrue([
      for e in aws_s3_bucket_server_side_encryption_configuration.this :
      one(one(e.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    ])
    error_message = "Without a KMS key the buckets use SSE-S3."
  }

  assert {
    condition = alltrue([
      for k, p in aws_s3_bucket_policy.tls_only : jsondecode(p.policy).Statement == [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this[k].arn, "${aws_s3_bucket.this[k].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }]
    ])
    error_message = "Every bucket policy must deny non-TLS access and grant nothing."
  }

  assert {
    condition     = keys(aws_s3_bucket_notification.uploads) == ["durable", "sfn"]
    error_message = "Only the raw buckets notify, one per pipeline."
  }

  assert {
    condition = alltrue([
      for p, n in aws_s3_bucket_notification.uploads :
      n.bucket == aws_s3_bucket.this["${p}-raw"].id &&
      one(n.queue).filter_prefix == "uploads/" &&
      one(n.queue).filter_suffix == null &&
      one(n.queue).events == toset(["s3:ObjectCreated:*"]) &&
      one(n.queue).queue_arn == aws_sqs_queue.events[p].arn
    ])
    error_message = "Notifications must send every object created under uploads/ (no suffix filter: any casing of .csv, and non-CSV uploads the starter records as FAILED) to the pipeline's queue."
  }

  assert {
    condition = alltrue([
      for p, q in aws_sqs_queue.events :
      jsondecode(q.redrive_policy) == { deadLetterTargetArn = aws_sqs_queue.dlq[p].arn, maxReceiveCount = 5 }
    ])
    error_message = "Every event queue must redrive to its DLQ."
  }

  assert {
    condition = alltrue([
      for p, qp in aws_sqs_queue_policy.events : jsondecode(qp.policy).Statement == [{
        Sid       = "AllowRawBucketNotifications"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.events[p].arn
        Condition = {
          ArnEquals    = { "aws:SourceArn" = aws_s3_bucket.this["${p}-raw"].arn }
          StringEquals = { "aws:SourceAccount" = "123456789012" }
        }
      }]
    ])
    error_message = "A queue must accept messages from its own raw bucket only."
  }

  assert {
    condition     = alltrue([for q in merge(aws_sqs_queue.events, aws_sqs_queue.dlq) : q.sqs_managed_sse_enabled])
    error_message = "Queues must be encrypted (SSE-SQS)."
  }

  assert {
    condition     = aws_dynamodb_table.jobs.name == "t1-jobs" && aws_dynamodb_table.jobs.hash_key == "job_id" && aws_dynamodb_table.jobs.billing_mode == "PAY_PER_REQUEST"
    error_message = "The jobs table must be <name>-jobs, keyed by job_id, on demand."
  }

  # key_schema where the provider has it (>= 6.29); the offline mirror's older provider sees the copy's
  # hash_key/range_key (tests/terraform/tfkit.py).
  assert {
    condition = [for g in aws_dynamodb_table.jobs.global_secondary_index : [
      g.name,
      try([for k in g.key_schema : "${k.attribute_name}:${k.key_type}"], ["${g.hash_key}:HASH", "${g.range_key}:RANGE"]),
    ]] == [["status-index", ["status:HASH", "updated_at:RANGE"]]]
    error_message = "The table must have status-index (status, updated_at)."
  }

  assert {
    condition = toset([for a in aws_dynamodb_table.jobs.attribute : "${a.name}:${a.type}"]) == toset([
      "job_id:S", "status:S", "updated_at:S"
    ])
    error_message = "Key attributes must be strings."
  }

  assert {
    condition     = one(aws_dynamodb_table.jobs.ttl).attribute_name == "expires_at" && one(aws_dynamodb_table.jobs.ttl).enabled
    error_message = "TTL must be on expires_at."
  }

  assert {
    condition     = one(aws_dynamodb_table.jobs.point_in_time_recovery).enabled && one(aws_dynamodb_table.jobs.server_side_encryption).enabled
    error_message = "PITR and SSE must be on."
  }

  assert {
    condition     = output.jobs_status_index_arn == "${aws_dynamodb_table.jobs.arn}/index/status-index"
    error_message = "The index ARN output must name status-index."
  }

  assert {
    condition     = aws_sns_topic.approvals.name == "t1-approvals" && aws_sns_topic.approvals.kms_master_key_id == "alias/aws/sns"
    error_message = "The topic must be encrypted with alias/aws/sns by default."
  }

  assert {
    condition = toset([for s in aws_sns_topic_subscription.approvers : "${s.protocol}:${s.endpoint}"]) == toset([
      "email:ops@example.com", "email:lead@example.com"
    ])
    error_message = "Every approver gets an e-mail subscription."
  }

  assert {
    condition = alltrue([
      for s in aws_sns_topic_subscription.approvers :
      s.filter_policy_scope == "MessageAttributes" && jsondecode(s.filter_policy) == { recipient = [{ exists = false }] }
    ])
    error_message = "The shared subscriptions never receive a message addressed to a named reviewer."
  }

  assert {
    condition = {
      for k, s in aws_sns_topic_subscription.reviewers : k => [s.protocol, s.endpoint, s.filter_policy_scope, jsondecode(s.filter_policy)]
      } == {
      "ana@example.com" = ["email", "ana@example.com", "MessageAttributes", { recipient = ["ana@example.com"] }]
      "ben@example.com" = ["email", "ben@example.com", "MessageAttributes", { recipient = ["ben@example.com"] }]
    }
    error_message = "Each named reviewer's subscription takes only the messages addressed to them."
  }
}

run "one_pipeline_with_a_kms_key" {
  command = apply

  variables {
    pipelines   = ["sfn"]
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = alltrue([
      for e in aws_s3_bucket_server_side_encryption_configuration.this :
      one(one(e.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" &&
      one(one(e.rule).apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn &&
      one(e.rule).bucket_key_enabled
    ])
    error_message = "With a key the buckets use SSE-KMS with a bucket key."
  }

  assert {
    condition     = aws_sns_topic.approvals.kms_master_key_id == var.kms_key_arn && one(aws_dynamodb_table.jobs.server_side_encryption).kms_key_arn == var.kms_key_arn
    error_message = "The key must encrypt the topic and the table too."
  }

  assert {
    condition     = keys(aws_s3_bucket.this) == ["sfn-output", "sfn-raw"] && keys(aws_sqs_queue.events) == ["sfn"]
    error_message = "Only the requested pipeline's buckets and queue exist."
  }
}

run "unknown_pipelines_are_rejected" {
  command = plan

  variables {
    pipelines = ["batch"]
  }

  expect_failures = [var.pipelines]
}
