data "aws_caller_identity" "current" {}

locals {
  # The S3 layout and jobs table schema the code relies on (etl_aws.contract; tests/terraform holds
  # these against it).
  upload_prefix    = "uploads/"
  upload_suffix    = ".csv" # matched by the starter in any casing; not an S3 notification filter
  staging_prefix   = "staging/"
  processed_prefix = "processed/"
  archive_prefix   = "archive/"
  retracted_prefix = "retracted/"

  jobs_hash_key      = "job_id"
  jobs_status_index  = "status-index"
  jobs_ttl_attribute = "expires_at"

  account_id = data.aws_caller_identity.current.account_id

  # Bucket names are global: the account id keeps them unique, `name` separates deployments.
  buckets = merge([
    for p in var.pipelines : {
      "${p}-raw"    = { pipeline = p, kind = "raw", bucket = "${var.name}-${p}-raw-${local.account_id}" }
      "${p}-output" = { pipeline = p, kind = "output", bucket = "${var.name}-${p}-out-${local.account_id}" }
    }
  ]...)

  raw_buckets = { for k, b in local.buckets : b.pipeline => k if b.kind == "raw" }
  out_buckets = { for k, b in local.buckets : b.pipeline => k if b.kind == "output" }
}
