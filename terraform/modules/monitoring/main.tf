# Alarms and a dashboard over the deployment: the job metrics both orchestrators emit alike
# (etl_aws.job_metrics) and the AWS services' own metrics. tests/terraform/test_monitoring_contract.py
# holds the namespace, dimensions and metric names below to the code that emits them.

locals {
  # etl_aws.observability.NAMESPACE and SERVICE (POWERTOOLS_METRICS_NAMESPACE and
  # POWERTOOLS_SERVICE_NAME are not set on the functions, so the code's defaults apply).
  metrics_namespace = "CsvEtl"
  metrics_service   = "csv-etl"

  # etl_aws.job_metrics: each job metric carries these dimensions, per workflow.
  job_dimensions = {
    for p in keys(var.pipelines) : p => {
      service   = local.metrics_service
      Workflow  = p
      JobsTable = var.jobs_table_name
    }
  }
  job_metrics = {
    started          = "JobsStarted"
    start_failures   = "StartFailures"
    unsupported      = "UnsupportedUploads"
    rows_valid       = "RowsValid"
    rows_rejected    = "RowsRejected"
    approval_latency = "ApprovalLatency"
  }
  # How jobs end (etl_aws.job_metrics.JOBS_ENDED), in the order the dashboard shows them.
  ending_metrics = ["JobsCompleted", "JobsRejected", "JobsExpired", "JobsFailed"]

  # etl_aws.job_ages: the statuses a job passes through without waiting for anyone (PROCESSING), and
  # those with a job count (WAITING: PROCESSING and PENDING_APPROVAL).
  processing_statuses = ["RECEIVED", "EXTRACTED", "TRANSFORMED", "LOADED", "APPROVED"]
  waiting_statuses    = concat(local.processing_statuses, ["PENDING_APPROVAL"])
  age_metrics = {
    oldest_job_age     = "OldestJobAge"
    jobs_in_state      = "JobsInState"
    approval_time_left = "ApprovalTimeLeft"
  }

  workflows = {
    durable = "Lambda durable functions"
    sfn     = "Step Functions"
  }
}

# Every alarm notifies this topic, when it fires and when it recovers. CloudWatch cannot publish to a
# topic encrypted with the AWS managed SNS key (its policy cannot grant CloudWatch), so the topic is
# encrypted only with a customer managed key, whose policy must let cloudwatch.amazonaws.com use it:
# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:Alarm notifications hold alarm names and states only; the AWS managed SNS key would stop CloudWatch from publishing, so encryption needs a customer managed key (kms_key_arn).
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alarm_emails" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}
