# Per pipeline: a raw bucket (uploads/, archive/) and an output bucket (staging/, processed/).
resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need a separate log bucket per account; CloudTrail data events are the audit trail here.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the operator, not of this module.
  #checkov:skip=CKV2_AWS_62:Only raw buckets need event notifications (uploads/ to SQS); output buckets are read by consumers.
  #checkov:skip=CKV_AWS_145:SSE-S3 is the default so the module works without a key; set kms_key_arn for SSE-KMS.
  for_each = local.buckets

  bucket        = each.value.bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Pipeline = each.value.pipeline, Purpose = each.value.kind })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioning is what makes a job id stable: the event's versionId names the exact object.
resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # Archiving and re-uploads leave old versions behind; they are kept for a while, then expire.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"
    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  # A safety net only: a finished job has already moved or removed its staging objects.
  dynamic "rule" {
    for_each = each.value.kind == "output" ? [local.staging_prefix] : []

    content {
      id     = "expire-abandoned-staging"
      status = "Enabled"

      filter {
        prefix = rule.value
      }

      expiration {
        days = var.staging_expiration_days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # A Deny of every S3 action is the point here: nothing may reach the bucket without TLS.
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this[each.key].arn, "${aws_s3_bucket.this[each.key].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  # S3 rejects a bucket policy while the public access block is being applied.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Every object created under uploads/ in a raw bucket → that pipeline's event queue. No suffix filter:
# S3 matches filters case-sensitively, and the starter must see "data.CSV" (a job) and "data.xlsx" (a job
# recorded as FAILED, unsupported_file_type) alike rather than have S3 drop them silently.
resource "aws_s3_bucket_notification" "uploads" {
  for_each = local.raw_buckets

  bucket = aws_s3_bucket.this[each.value].id

  queue {
    id            = "uploads"
    queue_arn     = aws_sqs_queue.events[each.key].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.upload_prefix
  }

  # S3 sends a test message when the notification is created: the queue policy must allow it first.
  depends_on = [aws_sqs_queue_policy.events]
}
