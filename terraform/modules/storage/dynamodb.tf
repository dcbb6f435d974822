# One jobs table per deployment, shared by both pipelines and the approval API.
resource "aws_dynamodb_table" "jobs" {
  #checkov:skip=CKV_AWS_119:Encrypted with the DynamoDB AWS managed key by default; set kms_key_arn for a customer managed key.
  name                        = "${var.name}-jobs"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = local.jobs_hash_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = local.jobs_hash_key
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "updated_at"
    type = "S"
  }

  # `etl jobs list --status PENDING_APPROVAL` and the API's GET /jobs?status= read this index.
  # Its keys are `key_schema` blocks: the index's `hash_key`/`range_key` are deprecated since 6.29.
  global_secondary_index {
    name            = local.jobs_status_index
    projection_type = "ALL"

    key_schema {
      attribute_name = "status"
      key_type       = "HASH"
    }

    key_schema {
      attribute_name = "updated_at"
      key_type       = "RANGE"
    }
  }

  ttl {
    attribute_name = local.jobs_ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
